//! Response decoding: framing by the request answered, interim responses, tunnels.

use super::*;

const RESPONSES: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\
HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\
HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n\
HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n\
HTTP/1.0 200 OK\r\n\r\nuntil the end";

fn responses_expected() -> Vec<Ev<DecodedResponse>> {
    let plain = ResponseInfo::default();
    let cl = || vec![h("Content-Length", "5")];
    vec![
        res(100, "Continue", vec![], ResponseInfo { interim: true, ..plain }),
        Ev::End(end(25, 0)),
        res(200, "OK", cl(), plain),
        rbody("hello"),
        Ev::End(end(38, 5)),
        // The answer to HEAD: no body despite its content-length.
        res(200, "OK", cl(), plain),
        Ev::End(end(38, 0)),
        res(404, "Not Found", vec![h("Transfer-Encoding", "chunked")], plain),
        rbody("nope"),
        Ev::End(end(54, 14)),
        res(204, "No Content", vec![h("Content-Length", "3")], plain),
        Ev::End(end(46, 0)),
        Ev::Head(DecodedResponse {
            head: ResponseHead { protocol: "HTTP/1.0".into(), status: 200, status_text: "OK".into(), headers: vec![] },
            info: ResponseInfo { is_final: true, ..plain },
        }),
        rbody("until the end"),
        Ev::End(end(19, 13)),
    ]
}

fn response_decoder_for_head() -> ResponseDecoder {
    let mut d = ResponseDecoder::new();
    for method in ["POST", "HEAD", "GET", "DELETE", "GET"] {
        d.expect(RequestInfo::new(method, "HTTP/1.1", None, None));
    }
    d
}

#[test]
fn responses_in_one_chunk() {
    let mut d = response_decoder_for_head();
    assert_eq!(responses_with(&mut d, &[RESPONSES]), responses_expected());
    assert_eq!(d.expected(), 0);
}

#[test]
fn responses_split_at_every_boundary() {
    for i in 0..=RESPONSES.len() {
        let (a, b) = RESPONSES.split_at(i);
        assert_eq!(responses_with(&mut response_decoder_for_head(), &[a, b]), responses_expected(), "split at {i}");
    }
    let segs: Vec<&[u8]> = RESPONSES.chunks(1).collect();
    assert_eq!(responses_with(&mut response_decoder_for_head(), &segs), responses_expected());
}

#[test]
fn response_until_close_ends_at_finish_only() {
    let mut d = ResponseDecoder::new();
    d.feed(Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\nabc"));
    assert!(matches!(d.next(), Some(Item::Head(r)) if r.info.is_final));
    assert_eq!(d.next(), Some(Item::Body(Bytes::from_static(b"abc"))));
    assert_eq!(d.next(), None);
    d.feed(Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n"));
    assert_eq!(d.next(), Some(Item::Body(Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n"))));
    assert_eq!(d.finish(), Some(Item::End(end(19, 22))));
    assert!(d.is_idle());
    assert_eq!(d.finish(), None);
}

#[test]
fn unchunked_transfer_encoding_response_runs_until_close() {
    let evs = responses(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabcdef"]);
    assert_eq!(evs[1], rbody("abcdef"));
}

#[test]
fn without_the_request_a_head_response_is_misframed() {
    // As documented for Pipy's decodeHTTPResponse used without request context.
    let evs = responses(&[b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"]);
    assert_eq!(evs[1], rbody("HTT"));
}

#[test]
fn head_response_then_next_response() {
    let mut d = ResponseDecoder::new();
    d.expect(RequestInfo::new("HEAD", "HTTP/1.1", None, None));
    d.expect(RequestInfo::new("GET", "HTTP/1.1", None, None));
    let input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let evs = responses_with(&mut d, &[input]);
    assert!(matches!(evs[..], [Ev::Head(_), Ev::End(_), Ev::Head(_), Ev::Body(_), Ev::End(_)]), "{evs:?}");
}

#[test]
fn connect_response_turns_into_a_tunnel() {
    let mut d = ResponseDecoder::new();
    d.expect(RequestInfo::new("CONNECT", "HTTP/1.1", None, None));
    let evs = responses_with(&mut d, &[b"HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03", b"\x03"]);
    assert!(matches!(&evs[0], Ev::Head(r) if r.info.tunnel));
    assert_eq!(evs[1..], [Ev::End(end(39, 0)), Ev::Tunnel(b"\x16\x03\x03".to_vec())]);
}

#[test]
fn failed_connect_is_a_normal_response() {
    let mut d = ResponseDecoder::new();
    d.expect(RequestInfo::new("CONNECT", "HTTP/1.1", None, None));
    let evs = responses_with(&mut d, &[b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"]);
    assert_eq!(evs[1], rbody("no"));
}

#[test]
fn switching_protocols_turns_into_a_tunnel() {
    let evs = responses(&[b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"]);
    assert!(matches!(&evs[0], Ev::Head(r) if r.info.tunnel && !r.info.interim));
    assert_eq!(evs[2], Ev::Tunnel(b"\x81\x05hello".to_vec()));
}

#[test]
fn interim_responses_do_not_take_a_request() {
    let mut d = ResponseDecoder::new();
    d.expect(RequestInfo::new("HEAD", "HTTP/1.1", None, None));
    let evs = responses_with(
        &mut d,
        &[b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"],
    );
    assert_eq!(evs.len(), 4);
    assert_eq!(d.expected(), 0);
}

#[test]
fn response_finality() {
    let heads = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n\
HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n\
HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    let finals: Vec<bool> = responses(&[heads])
        .iter()
        .filter_map(|e| match e {
            Ev::Head(r) => Some(r.info.is_final),
            _ => None,
        })
        .collect();
    assert_eq!(finals, [true, false, true]);
}

#[test]
fn trailers_across_segments() {
    let input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nA: 1\r\nB: 2\r\n\r\n";
    let expected = vec![h("A", "1"), h("B", "2")];
    for i in 0..=input.len() {
        let (a, b) = input.split_at(i);
        let evs = responses(&[a, b]);
        assert!(matches!(&evs[2], Ev::End(t) if t.trailers == expected), "split at {i}: {evs:?}");
    }
}

#[test]
fn large_chunks_stream_without_buffering() {
    let mut d = RequestDecoder::new();
    d.feed(Bytes::from_static(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n"));
    assert!(matches!(d.next(), Some(Item::Head(_))));
    assert_eq!(d.next(), None);
    let block = Bytes::from(vec![7u8; 0x40000]);
    for _ in 0..4 {
        d.feed(block.clone());
        assert_eq!(d.next(), Some(Item::Body(block.clone())));
        assert_eq!(d.next(), None);
    }
    d.feed(Bytes::from_static(b"\r\n0\r\n\r\n"));
    assert_eq!(d.next().map(|i| matches!(i, Item::End(t) if t.body_size == 0x100000 + 8 + 2 + 5)), Some(true));
}

#[test]
fn error_responses() {
    let cases = [
        (Some("CannotResolve"), 502, "Cannot Resolve"),
        (Some("ConnectionRefused"), 502, "Connection Refused"),
        (Some("Unauthorized"), 401, "Unauthorized"),
        (Some("ReadError"), 502, "Read Error"),
        (Some("WriteError"), 502, "Write Error"),
        (Some("ConnectionTimeout"), 504, "Gateway Timeout"),
        (Some("ReadTimeout"), 504, "Gateway Timeout"),
        (Some("WriteTimeout"), 504, "Gateway Timeout"),
        (Some("ConnectionReset"), 502, "Bad Gateway"),
        (None, 502, "Bad Gateway"),
    ];
    for (error, status, text) in cases {
        let head = error_response(error);
        assert_eq!((head.status, head.status_text.as_str(), head.protocol.as_str()), (status, text, "HTTP/1.1"));
    }
}
