//! Heads as slices of one copy, and encoded heads carved from a shared block: the bytes
//! must be the same whatever the sizes, the interleaving of messages and what outlives what.

use bytes::Bytes;

use super::*;

fn decode_response(wire: &[u8]) -> (DecodedResponse, Vec<u8>) {
    let mut d = ResponseDecoder::new();
    d.feed(Bytes::copy_from_slice(wire));
    let Some(Item::Head(head)) = d.next() else { panic!("no head") };
    let mut body = Vec::new();
    while let Some(item) = d.next() {
        match item {
            Item::Body(b) => body.extend_from_slice(&b),
            Item::End(_) => break,
            other => panic!("{other:?}"),
        }
    }
    (head, body)
}

/// All the bytes of one message.
fn encode_all(enc: &mut Encoder, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut collect = |o: Out| match o {
        Out::Start(b) | Out::Body(b) => out.extend_from_slice(&b),
    };
    enc.data(Bytes::copy_from_slice(body), &mut collect);
    enc.end(&mut collect).expect("a message in progress");
    out
}

#[test]
fn decoded_fields_outlive_the_input_and_keep_non_utf8_values() {
    let wire = b"HTTP/1.1 201 Made It\r\nX-Raw: a\xffb\r\nServer: s\r\ncontent-length: 2\r\n\r\nok";
    let (r, body) = decode_response(wire);
    assert_eq!((r.head.status, r.head.status_text.as_str(), body.as_slice()), (201, "Made It", &b"ok"[..]));
    assert_eq!(r.head.protocol, "HTTP/1.1");
    let raw = &r.head.headers[0];
    assert_eq!((raw.name.as_str(), raw.value.as_str(), raw.bytes()), ("X-Raw", "a\u{fffd}b", &b"a\xffb"[..]));
    assert_eq!(r.head.header("server"), Some("s"));
    // Re-encoded, the raw value goes out as it came.
    let mut enc = Encoder::new(0);
    enc.start_response_head(&r.head, RequestInfo::default());
    let out = encode_all(&mut enc, &body);
    assert!(out.windows(10).any(|w| w == b"X-Raw: a\xffb"), "{:?}", String::from_utf8_lossy(&out));
}

#[test]
fn a_request_head_is_one_copy_with_static_method_and_protocol() {
    let mut d = RequestDecoder::new();
    d.feed(Bytes::from_static(b"DELETE /x?y HTTP/1.0\r\nHost: h\r\n\r\n"));
    let Some(Item::Head(r)) = d.next() else { panic!("no head") };
    drop(d);
    assert_eq!(
        (r.head.method.as_str(), r.head.path.as_str(), r.head.protocol.as_str()),
        ("DELETE", "/x?y", "HTTP/1.0")
    );
    assert_eq!(r.head.headers, vec![Header::new("Host", "h")]);
    assert!(r.info.is_final);
}

#[test]
fn heads_past_their_room_and_interleaved_messages_encode_whole() {
    // Two messages in progress at once take rooms next to each other in the same block;
    // one grows past its room (a long header, a coalesced body), the other does not.
    let long = "v".repeat(3000);
    let body = vec![b'b'; 4000];
    let mut a = Encoder::new(0);
    let mut b = Encoder::new(0);
    a.start_request("POST", "/a", "HTTP/1.1");
    b.start_response("HTTP/1.1", 200, None, RequestInfo::default());
    a.header("x-long", &long);
    b.header("x-short", "s");
    let out_b = encode_all(&mut b, b"hi");
    let out_a = encode_all(&mut a, &body);
    let want_a = [
        format!("POST /a HTTP/1.1\r\nx-long: {long}\r\ncontent-length: 4000\r\nconnection: keep-alive\r\n\r\n")
            .as_bytes(),
        &body,
    ]
    .concat();
    assert_eq!(out_a, want_a);
    assert_eq!(out_b, b"HTTP/1.1 200 OK\r\nx-short: s\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nhi");
    // Many more heads than a block holds, all kept alive at once, then freed in turn.
    let mut heads: Vec<Bytes> = (0..200)
        .map(|i| {
            let mut e = Encoder::new(0);
            e.start_request("GET", &format!("/{i}"), "");
            let mut head = None;
            e.end(&mut |o| head = Some(o)).expect("a message");
            match head {
                Some(Out::Start(b)) => b,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    for (i, h) in heads.iter().enumerate() {
        assert_eq!(h, format!("GET /{i} HTTP/1.1\r\nconnection: keep-alive\r\n\r\n").as_bytes());
    }
    heads.retain(|h| h.len() % 2 == 0);
    assert!(heads.iter().all(|h| h.ends_with(b"\r\n\r\n")));
}
