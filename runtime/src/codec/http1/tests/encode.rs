//! Encoding heads and bodies, and round trips through the decoder.

use super::decode::PIPELINED;
use super::*;

fn encode(enc: &mut Encoder, body: &[&str]) -> (Vec<Out>, Option<Ending>) {
    let mut outs = Vec::new();
    for b in body {
        enc.data(Bytes::copy_from_slice(b.as_bytes()), &mut |o| outs.push(o));
    }
    let ending = enc.end(&mut |o| outs.push(o));
    (outs, ending)
}

fn wire(outs: &[Out]) -> String {
    outs.iter()
        .map(|o| match o {
            Out::Start(b) | Out::Body(b) => String::from_utf8(b.to_vec()).unwrap(),
        })
        .collect()
}

#[test]
fn response_with_default_head() {
    let mut enc = Encoder::new(0);
    enc.start_response("", 200, None, RequestInfo::default());
    let (outs, ending) = encode(&mut enc, &["Hello!\n"]);
    assert_eq!(
        outs,
        vec![Out::Start(Bytes::from_static(
            b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: keep-alive\r\n\r\nHello!\n"
        ))]
    );
    assert_eq!(ending, Some(Ending::Message));
    assert!(!enc.in_message());
}

#[test]
fn reason_phrases() {
    for (status, text, line) in [
        (404, None, "HTTP/1.1 404 Not Found\r\n"),
        (418, None, "HTTP/1.1 418 OK\r\n"),
        (509, None, "HTTP/1.1 509 Unassigned\r\n"),
        (200, Some("Fine"), "HTTP/1.1 200 Fine\r\n"),
    ] {
        let mut enc = Encoder::new(0);
        enc.start_response("HTTP/1.1", status, text, RequestInfo::default());
        assert!(wire(&encode(&mut enc, &[]).0).starts_with(line));
    }
}

#[test]
fn request_heads() {
    let mut enc = Encoder::new(0);
    enc.start_request("", "", "");
    enc.header("Host", "example.com");
    assert_eq!(wire(&encode(&mut enc, &[]).0), "GET / HTTP/1.1\r\nHost: example.com\r\nconnection: keep-alive\r\n\r\n");
    enc.start_request("POST", "/p", "HTTP/1.0");
    assert_eq!(
        wire(&encode(&mut enc, &[]).0),
        "POST /p HTTP/1.0\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"
    );
    enc.start_request("DELETE", "/d", "HTTP/1.1");
    assert_eq!(
        wire(&encode(&mut enc, &["x"]).0),
        "DELETE /d HTTP/1.1\r\ncontent-length: 1\r\nconnection: keep-alive\r\n\r\nx"
    );
}

#[test]
fn skipped_and_held_headers() {
    let mut enc = Encoder::new(0);
    enc.start_request("PUT", "/", "HTTP/1.1");
    for (n, v) in [
        ("Content-Type", "text/plain"),
        ("Content-Length", "999"),
        ("transfer-encoding", "chunked"),
        ("Keep-Alive", "timeout=5"),
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("cookie", "a=1"),
        ("cookie", "b=2"),
    ] {
        enc.header(n, v);
    }
    let info = enc.request_info().unwrap();
    assert_eq!(info.upgrade, Upgrade::WebSocket);
    assert!(!info.is_final);
    assert_eq!(
        wire(&encode(&mut enc, &["ab"]).0),
        "PUT / HTTP/1.1\r\nContent-Type: text/plain\r\nUpgrade: websocket\r\ncookie: a=1\r\ncookie: b=2\r\n\
content-length: 2\r\nconnection: Upgrade\r\n\r\nab"
    );
}

#[test]
fn head_messages_keep_their_length_and_drop_the_body() {
    let head_request = RequestInfo::new("HEAD", "HTTP/1.1", None, None);
    let mut enc = Encoder::new(0);
    enc.start_response("HTTP/1.1", 200, None, head_request);
    enc.header("Content-Length", "1234");
    assert_eq!(
        wire(&encode(&mut enc, &["ignored"]).0),
        "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nconnection: keep-alive\r\n\r\n"
    );
    enc.start_response("HTTP/1.1", 200, None, head_request);
    assert_eq!(
        wire(&encode(&mut enc, &["12345"]).0),
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\n"
    );
}

#[test]
fn bodiless_statuses_and_tunnels_get_no_length() {
    for status in [100, 101, 204, 304] {
        let mut enc = Encoder::new(0);
        enc.start_response("HTTP/1.1", status, None, RequestInfo::default());
        assert!(!wire(&encode(&mut enc, &[]).0).contains("content-length"), "{status}");
    }
    // A 304's length is the one of the body it stands for: kept when given, never made up.
    let mut enc = Encoder::new(0);
    enc.start_response("HTTP/1.1", 304, None, RequestInfo::default());
    enc.header("Content-Length", "1234");
    assert!(wire(&encode(&mut enc, &[]).0).contains("Content-Length: 1234\r\n"));

    let connect = RequestInfo::new("CONNECT", "HTTP/1.1", None, None);
    enc.start_response("HTTP/1.1", 200, None, connect);
    let (outs, ending) = encode(&mut enc, &[]);
    assert_eq!(wire(&outs), "HTTP/1.1 200 OK\r\nconnection: keep-alive\r\n\r\n");
    assert_eq!(ending, Some(Ending::Tunnel));
    enc.start_response("HTTP/1.1", 502, None, connect);
    assert_eq!(encode(&mut enc, &[]).1, Some(Ending::Message));
}

#[test]
fn final_exchanges_close() {
    let mut enc = Encoder::new(0);
    let http10 = RequestInfo::new("GET", "HTTP/1.0", None, None);
    enc.start_response("HTTP/1.1", 200, None, http10);
    enc.header("connection", "keep-alive");
    let (outs, ending) = encode(&mut enc, &["x"]);
    assert_eq!(wire(&outs), "HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx");
    assert_eq!(ending, Some(Ending::Close));
}

#[test]
fn chunked_once_over_buffer_size() {
    let mut enc = Encoder::new(4);
    enc.start_response("HTTP/1.1", 200, None, RequestInfo::default());
    enc.header("content-length", "6");
    let (outs, _) = encode(&mut enc, &["ab", "cde", "", "f"]);
    assert_eq!(
        outs,
        vec![
            Out::Start(Bytes::from_static(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
            )),
            Out::Body(Bytes::from_static(b"5\r\nabcde\r\n")),
            Out::Body(Bytes::from_static(b"1\r\nf\r\n")),
            Out::Body(Bytes::from_static(b"0\r\n\r\n")),
        ]
    );
    // Within the buffer size the length is known.
    enc.start_response("HTTP/1.1", 200, None, RequestInfo::default());
    assert!(wire(&encode(&mut enc, &["abcd"]).0).contains("content-length: 4\r\n"));
}

#[test]
fn large_bodies_are_not_copied() {
    let big = Bytes::from(vec![b'z'; COALESCE + 1]);
    let mut enc = Encoder::new(0);
    enc.start_request("POST", "/", "HTTP/1.1");
    let mut outs = Vec::new();
    enc.data(big.clone(), &mut |o| outs.push(o));
    enc.end(&mut |o| outs.push(o));
    assert_eq!(outs.len(), 2);
    assert!(matches!(&outs[1], Out::Body(b) if b.as_ptr() == big.as_ptr()));

    let mut enc = Encoder::new(1);
    enc.start_request("POST", "/", "HTTP/1.1");
    let mut outs = Vec::new();
    enc.data(big.clone(), &mut |o| outs.push(o));
    assert_eq!(outs.len(), 4);
    assert_eq!(outs[1], Out::Body(Bytes::from_static(b"1001\r\n")));
    assert!(matches!(&outs[2], Out::Body(b) if b.as_ptr() == big.as_ptr()));
    assert_eq!(outs[3], Out::Body(Bytes::from_static(b"\r\n")));
}

#[test]
fn outside_a_message_nothing_happens() {
    let mut enc = Encoder::new(0);
    let mut outs = Vec::new();
    enc.data(Bytes::from_static(b"x"), &mut |o| outs.push(o));
    assert_eq!(enc.end(&mut |o| outs.push(o)), None);
    assert!(outs.is_empty());
    enc.start_request("GET", "/a", "HTTP/1.1");
    enc.start_request("GET", "/b", "HTTP/1.1");
    assert!(wire(&encode(&mut enc, &[]).0).starts_with("GET /a "));
    enc.start_request("GET", "/c", "HTTP/1.1");
    enc.abort();
    assert!(!enc.in_message());
}

#[test]
fn decoded_heads_encode_as_scripts_see_them() {
    let head = ResponseHead {
        protocol: "HTTP/1.1".into(),
        status: 200,
        status_text: "Okay".into(),
        headers: vec![
            h("Date", "today"),
            h("Set-Cookie", "a=1"),
            h("Connection", "close"),
            h("via", "one"),
            h("set-cookie", "b=2"),
            h("Via", "two"),
            h("X-Y", "1"),
            h("x-y", "2"),
        ],
    };
    let mut enc = Encoder::new(0);
    enc.start_response_head(&head, RequestInfo::default());
    assert_eq!(
        wire(&encode(&mut enc, &[]).0),
        "HTTP/1.1 200 Okay\r\nDate: today\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nVia: two\r\nX-Y: 2\r\n\
content-length: 0\r\nconnection: keep-alive\r\n\r\n"
    );
}

#[test]
fn a_head_without_repeated_names_keeps_its_lines_but_framing_ones() {
    let head = ResponseHead {
        protocol: "HTTP/1.1".into(),
        status: 200,
        status_text: Text::new(),
        headers: vec![
            h("Server", "x"),
            h("Connection", "close"),
            h("Date", "today"),
            h("Transfer-Encoding", "chunked"),
            h("Content-Type", "text/plain"),
        ],
    };
    let mut enc = Encoder::new(0);
    enc.start_response_head(&head, RequestInfo::default());
    assert_eq!(
        wire(&encode(&mut enc, &[]).0),
        "HTTP/1.1 200 OK\r\nServer: x\r\nDate: today\r\nContent-Type: text/plain\r\n\
content-length: 0\r\nconnection: keep-alive\r\n\r\n"
    );
}

#[test]
fn round_trip_through_the_decoder() {
    let mut d = RequestDecoder::new();
    d.feed(Bytes::from_static(PIPELINED));
    let mut enc = Encoder::new(0);
    let mut wire_out = Vec::new();
    while let Some(item) = d.next() {
        match item {
            Item::Head(r) => enc.start_request_head(&r.head),
            Item::Body(b) => enc.data(b, &mut |o| wire_out.push(o)),
            Item::End(_) => {
                enc.end(&mut |o| wire_out.push(o));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        wire(&wire_out),
        "POST /upload HTTP/1.1\r\nHost: example.com\r\ncontent-length: 12\r\nconnection: keep-alive\r\n\r\nhello, world\
PUT /item?id=1 HTTP/1.1\r\nhost: example.com\r\ncontent-length: 11\r\nconnection: keep-alive\r\n\r\nhello again\
GET /last HTTP/1.1\r\nHost: example.com\r\nconnection: keep-alive\r\n\r\n"
    );
}

#[test]
fn script_heads_keep_every_line_and_their_connection() {
    let head = ResponseHead {
        protocol: "HTTP/1.1".into(),
        status: 101,
        status_text: Text::new(),
        headers: vec![
            h("connection", "upgrade"),
            h("upgrade", "websocket"),
            h("set-cookie", "a"),
            h("set-cookie", "b"),
        ],
    };
    let mut enc = Encoder::new(0);
    enc.start_script_response(&head, RequestInfo::new("GET", "HTTP/1.1", None, Some("websocket")));
    let (outs, ending) = encode(&mut enc, &[]);
    assert_eq!(
        wire(&outs),
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nset-cookie: a\r\nset-cookie: b\r\nconnection: upgrade\r\n\r\n"
    );
    assert_eq!(ending, Some(Ending::Tunnel));
    let req = RequestHead {
        method: "GET".into(),
        path: "/".into(),
        protocol: "HTTP/1.0".into(),
        headers: vec![h("Connection", "close")],
    };
    enc.start_script_request(&req);
    assert!(enc.request_info().unwrap().is_final);
    assert_eq!(wire(&encode(&mut enc, &[]).0), "GET / HTTP/1.0\r\nconnection: close\r\n\r\n");
}

#[test]
fn trailers_go_after_the_last_chunk_and_turn_a_held_body_chunked() {
    let trailers = [Header::new("X-Checksum", "0d1f")];
    let end = |enc: &mut Encoder, outs: &mut Vec<Out>| enc.end_with_trailers(&trailers, &mut |o| outs.push(o));
    // A body small enough to be held for a content-length goes out as one chunk instead.
    let mut enc = Encoder::new(0);
    enc.start_response("HTTP/1.1", 200, None, RequestInfo::default());
    let mut outs = Vec::new();
    enc.data(Bytes::from_static(b"abc"), &mut |o| outs.push(o));
    assert_eq!(end(&mut enc, &mut outs), Some(Ending::Message));
    assert_eq!(
        wire(&outs),
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n\
         3\r\nabc\r\n0\r\nX-Checksum: 0d1f\r\n\r\n"
    );
    // An already chunked body ends with them.
    let mut enc = Encoder::new(2);
    enc.start_request("POST", "/", "HTTP/1.1");
    let mut outs = Vec::new();
    enc.data(Bytes::from_static(b"abc"), &mut |o| outs.push(o));
    end(&mut enc, &mut outs);
    assert!(wire(&outs).ends_with("\r\n3\r\nabc\r\n0\r\nX-Checksum: 0d1f\r\n\r\n"), "{}", wire(&outs));
    // No chunks for an HTTP/1.0 client or a HEAD's answer: the trailers are dropped.
    let to_1_0 = RequestInfo { is_1_0: true, ..RequestInfo::default() };
    let to_head = RequestInfo { is_head: true, ..RequestInfo::default() };
    for request in [to_1_0, to_head] {
        let mut enc = Encoder::new(0);
        enc.start_response("HTTP/1.1", 200, None, request);
        let mut outs = Vec::new();
        enc.data(Bytes::from_static(b"abc"), &mut |o| outs.push(o));
        end(&mut enc, &mut outs);
        assert!(!wire(&outs).contains("X-Checksum"), "{}", wire(&outs));
    }
}
