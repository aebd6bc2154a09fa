use bytes::Bytes;

use super::encode::COALESCE;

use super::*;

/// A decoder's output with bodies joined per message, so that results of different input
/// segmentations compare equal.
#[derive(Debug, PartialEq, Eq)]
enum Ev<M> {
    Head(M),
    Body(Vec<u8>),
    End(Tail),
    Preface,
    Tunnel(Vec<u8>),
    Error(DecodeError),
}

fn push<M>(evs: &mut Vec<Ev<M>>, item: Item<M>) {
    match item {
        Item::Head(h) => evs.push(Ev::Head(h)),
        Item::Body(b) => match evs.last_mut() {
            Some(Ev::Body(v)) => v.extend_from_slice(&b),
            _ => evs.push(Ev::Body(b.to_vec())),
        },
        Item::End(t) => evs.push(Ev::End(t)),
        Item::Http2Preface => evs.push(Ev::Preface),
        Item::Tunnel(b) => match evs.last_mut() {
            Some(Ev::Tunnel(v)) => v.extend_from_slice(&b),
            _ => evs.push(Ev::Tunnel(b.to_vec())),
        },
        Item::Error(e) => evs.push(Ev::Error(e)),
    }
}

fn requests(segments: &[&[u8]]) -> Vec<Ev<DecodedRequest>> {
    let mut d = RequestDecoder::new();
    let mut evs = Vec::new();
    for s in segments {
        d.feed(Bytes::copy_from_slice(s));
        while let Some(item) = d.next() {
            push(&mut evs, item);
        }
    }
    evs
}

fn responses_with(d: &mut ResponseDecoder, segments: &[&[u8]]) -> Vec<Ev<DecodedResponse>> {
    let mut evs = Vec::new();
    for s in segments {
        d.feed(Bytes::copy_from_slice(s));
        while let Some(item) = d.next() {
            push(&mut evs, item);
        }
    }
    if let Some(item) = d.finish() {
        push(&mut evs, item);
    }
    evs
}

fn responses(segments: &[&[u8]]) -> Vec<Ev<DecodedResponse>> {
    responses_with(&mut ResponseDecoder::new(), segments)
}

fn h(name: &str, value: &str) -> Header {
    Header::new(name, value)
}

fn req(method: &str, path: &str, headers: Vec<Header>) -> Ev<DecodedRequest> {
    let head = RequestHead { method: method.into(), path: path.into(), protocol: "HTTP/1.1".into(), headers };
    let info = head.info();
    Ev::Head(DecodedRequest { head, info })
}

fn res(status: u16, text: &str, headers: Vec<Header>, info: ResponseInfo) -> Ev<DecodedResponse> {
    let head = ResponseHead { protocol: "HTTP/1.1".into(), status, status_text: text.into(), headers };
    Ev::Head(DecodedResponse { head, info })
}

fn end(head_size: usize, body_size: u64) -> Tail {
    Tail { head_size, body_size, trailers: Vec::new() }
}

fn body(b: &str) -> Ev<DecodedRequest> {
    Ev::Body(b.as_bytes().to_vec())
}

fn rbody(b: &str) -> Ev<DecodedResponse> {
    Ev::Body(b.as_bytes().to_vec())
}

const PIPELINED: &[u8] = b"POST /upload HTTP/1.1\r\n\
Host: example.com\r\n\
Transfer-Encoding: chunked\r\n\
\r\n\
5;name=value\r\nhello\r\n\
7\r\n, world\r\n\
0\r\n\
X-Checksum: 42\r\n\
\r\n\
PUT /item?id=1 HTTP/1.1\r\n\
host: example.com\r\n\
Content-Length: 11\r\n\
\r\n\
hello again\
GET /last HTTP/1.1\r\n\
Host: example.com\r\n\
\r\n";

fn pipelined_expected() -> Vec<Ev<DecodedRequest>> {
    vec![
        req("POST", "/upload", vec![h("Host", "example.com"), h("Transfer-Encoding", "chunked")]),
        body("hello, world"),
        Ev::End(Tail { head_size: 72, body_size: 54, trailers: vec![h("X-Checksum", "42")] }),
        req("PUT", "/item?id=1", vec![h("host", "example.com"), h("Content-Length", "11")]),
        body("hello again"),
        Ev::End(end(66, 11)),
        req("GET", "/last", vec![h("Host", "example.com")]),
        Ev::End(end(41, 0)),
    ]
}

#[test]
fn pipelined_requests_in_one_chunk() {
    assert_eq!(requests(&[PIPELINED]), pipelined_expected());
}

#[test]
fn pipelined_requests_split_at_every_boundary() {
    for i in 0..=PIPELINED.len() {
        let (a, b) = PIPELINED.split_at(i);
        assert_eq!(requests(&[a, b]), pipelined_expected(), "split at {i}");
    }
}

#[test]
fn pipelined_requests_split_at_every_pair_of_boundaries() {
    let n = PIPELINED.len();
    for i in 0..=n {
        for j in i..=n {
            let segs = [&PIPELINED[..i], &PIPELINED[i..j], &PIPELINED[j..]];
            assert_eq!(requests(&segs), pipelined_expected(), "split at {i} and {j}");
        }
    }
}

#[test]
fn pipelined_requests_byte_by_byte() {
    let segs: Vec<&[u8]> = PIPELINED.chunks(1).collect();
    assert_eq!(requests(&segs), pipelined_expected());
}

#[test]
fn bodies_are_slices_of_the_input() {
    let input = Bytes::from_static(b"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello");
    let mut d = RequestDecoder::new();
    d.feed(input.clone());
    assert!(matches!(d.next(), Some(Item::Head(_))));
    match d.next() {
        Some(Item::Body(b)) => {
            assert_eq!(&b[..], b"hello");
            assert_eq!(b.as_ptr(), input[input.len() - 5..].as_ptr());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn request_info_and_connection_header() {
    let evs = requests(&[b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n\
GET / HTTP/1.1\r\nconnection: close\r\nUpgrade: websocket\r\n\r\nCONNECT a:443 HTTP/1.1\r\n\r\n"]);
    let infos: Vec<RequestInfo> = evs
        .iter()
        .filter_map(|e| match e {
            Ev::Head(r) => Some(r.info),
            _ => None,
        })
        .collect();
    let base = RequestInfo::default();
    assert_eq!(
        infos,
        vec![
            base,
            RequestInfo { is_final: true, ..base },
            RequestInfo { is_final: true, upgrade: Upgrade::WebSocket, ..base },
            RequestInfo { is_connect: true, ..base },
        ]
    );
    match &evs[0] {
        Ev::Head(r) => {
            assert_eq!(r.head.protocol, "HTTP/1.0");
            assert_eq!(r.head.headers, vec![h("Connection", "keep-alive")]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stray_line_breaks_between_requests_are_skipped() {
    let evs = requests(&[b"\r\nGET /a HTTP/1.1\r\n\r\n\r\n", b"\r", b"\nGET /b HTTP/1.1\r\n\r\n"]);
    assert_eq!(evs, vec![req("GET", "/a", vec![]), Ev::End(end(19, 0)), req("GET", "/b", vec![]), Ev::End(end(19, 0))]);
}

#[test]
fn bare_line_feeds_are_accepted() {
    let evs = requests(&[b"POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n"]);
    assert_eq!(evs[1], body("abc"));
    assert!(matches!(evs[2], Ev::End(_)));
}

#[test]
fn not_http_is_reported_once_then_ignored() {
    let tls = [0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    let mut d = RequestDecoder::new();
    d.feed(Bytes::copy_from_slice(&tls));
    assert!(matches!(d.next(), Some(Item::Error(DecodeError::Malformed(_)))));
    assert_eq!(d.next(), None);
    d.feed(Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"));
    assert_eq!(d.next(), None);
    assert!(d.has_failed());
}

#[test]
fn not_http_is_detected_early_even_byte_by_byte() {
    for input in [&b"SSH-2.0-OpenSSH_9.6\r\n"[..], b"GETX / HTTP/1.1\r\n", b"get / HTTP/1.1\r\n", b"OPTIONSX"] {
        let mut d = RequestDecoder::new();
        let mut errors = 0;
        for (i, b) in input.iter().enumerate() {
            d.feed(Bytes::copy_from_slice(&[*b]));
            while let Some(item) = d.next() {
                assert!(matches!(item, Item::Error(_)), "{item:?}");
                errors += 1;
                assert!(i < 8, "detected at byte {i} of {input:?}");
            }
        }
        assert_eq!(errors, 1, "{input:?}");
    }
}

#[test]
fn bad_start_lines() {
    for input in [
        &b"BREW /pot HTTP/1.1\r\n\r\n"[..],
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET / SPDY/3\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
    ] {
        assert!(matches!(requests(&[input]).as_slice(), [Ev::Error(DecodeError::Malformed(_))]), "{input:?}");
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert!(matches!(requests(&bytes).as_slice(), [Ev::Error(DecodeError::Malformed(_))]), "{input:?}");
    }
    assert!(matches!(responses(&[b"HTTP/1.1 600 Odd\r\n\r\n"]).as_slice(), [Ev::Error(_)]));
    assert!(matches!(responses(&[b"HTTP/1.1 099 Odd\r\n\r\n"]).as_slice(), [Ev::Error(_)]));
    assert!(matches!(responses(&[b"ICY 200 OK\r\n\r\n"]).as_slice(), [Ev::Error(_)]));
}

#[test]
fn garbage_after_a_good_message() {
    let evs = requests(&[b"GET / HTTP/1.1\r\n\r\n\x00\x01\x02"]);
    assert_eq!(evs, vec![req("GET", "/", vec![]), Ev::End(end(18, 0)), Ev::Error(DecodeError::Malformed("bad head"))]);
}

#[test]
fn all_methods() {
    for m in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PRI"] {
        let input = format!("{m} / HTTP/1.1\r\n\r\n");
        assert_eq!(requests(&[input.as_bytes()])[0], req(m, "/", vec![]));
        let bytes: Vec<&[u8]> = input.as_bytes().chunks(1).collect();
        assert_eq!(requests(&bytes)[0], req(m, "/", vec![]));
    }
}

fn big_head(size: usize) -> Vec<u8> {
    let mut head = b"GET / HTTP/1.1\r\nx-pad: ".to_vec();
    let fill = size - head.len() - 4;
    head.extend(std::iter::repeat_n(b'a', fill));
    head.extend_from_slice(b"\r\n\r\n");
    assert_eq!(head.len(), size);
    head
}

#[test]
fn header_section_at_the_limit() {
    let head = big_head(DEFAULT_MAX_HEADER_SIZE);
    assert!(matches!(requests(&[&head])[..], [Ev::Head(_), Ev::End(_)]));
    let segs: Vec<&[u8]> = head.chunks(100).collect();
    assert!(matches!(requests(&segs)[..], [Ev::Head(_), Ev::End(_)]));
}

#[test]
fn header_section_too_large() {
    let head = big_head(DEFAULT_MAX_HEADER_SIZE + 1);
    assert_eq!(requests(&[&head]), vec![Ev::Error(DecodeError::TooLarge)]);
    for n in [1, 7, 100, 4096] {
        let segs: Vec<&[u8]> = head.chunks(n).collect();
        assert_eq!(requests(&segs), vec![Ev::Error(DecodeError::TooLarge)], "chunks of {n}");
    }
    // A head that never ends is given up at the limit, not buffered for ever.
    let mut d = RequestDecoder::new();
    d.feed(Bytes::from_static(b"GET / HTTP/1.1\r\n"));
    let mut fed = 16;
    let line = Bytes::from_static(b"x-a: b\r\n");
    loop {
        d.feed(line.clone());
        fed += line.len();
        match d.next() {
            None => assert!(fed <= DEFAULT_MAX_HEADER_SIZE),
            Some(Item::Error(DecodeError::TooLarge)) => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(fed <= DEFAULT_MAX_HEADER_SIZE + line.len());
}

#[test]
fn many_headers() {
    let mut input = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..500 {
        input.extend_from_slice(format!("x-h{i}: {i}\r\n").as_bytes());
    }
    input.extend_from_slice(b"\r\n");
    match &requests(&[&input])[0] {
        Ev::Head(r) => assert_eq!(r.head.headers.len(), 500),
        other => panic!("{other:?}"),
    }
    let mut tiny = b"GET / HTTP/1.1\r\n".to_vec();
    tiny.extend(std::iter::repeat_n(&b"a:\r\n"[..], 5000).flatten());
    tiny.extend_from_slice(b"\r\n");
    assert_eq!(requests(&[&tiny]), vec![Ev::Error(DecodeError::TooLarge)]);
}

#[test]
fn custom_header_limit() {
    let mut d = RequestDecoder::new().with_max_header_size(32);
    d.feed(Bytes::from_static(b"GET / HTTP/1.1\r\nhost: a.b\r\n\r\n"));
    assert!(matches!(d.next(), Some(Item::Head(_))));
    let mut d = RequestDecoder::new().with_max_header_size(32);
    d.feed(Bytes::from_static(b"GET / HTTP/1.1\r\nhost: a.b.c.d.e.f\r\n\r\n"));
    assert_eq!(d.next(), Some(Item::Error(DecodeError::TooLarge)));
}

#[test]
fn request_framing_errors() {
    for input in [
        &b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
    ] {
        let evs = requests(&[input]);
        assert!(matches!(evs.last(), Some(Ev::Error(DecodeError::Malformed(_)))), "{input:?}: {evs:?}");
    }
}

#[test]
fn transfer_encoding_wins_over_content_length() {
    let evs = requests(&[
        b"POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ]);
    assert_eq!(evs[1], body("ok"));
    assert!(matches!(evs[2], Ev::End(_)));
    assert_eq!(evs.len(), 3);
}

#[test]
fn same_content_length_twice_is_fine() {
    let evs = requests(&[b"POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok"]);
    assert_eq!(evs[1], body("ok"));
}

#[test]
fn http2_preface() {
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04";
    let expected = vec![Ev::Preface, Ev::Tunnel(b"\x00\x00\x12\x04".to_vec())];
    for i in 0..=preface.len() {
        let (a, b) = preface.split_at(i);
        assert_eq!(requests(&[a, b]), expected, "split at {i}");
    }
    assert!(matches!(requests(&[b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"])[..], [Ev::Error(_)]));
}

#[test]
fn request_decoder_pauses_and_tunnels() {
    let mut d = RequestDecoder::new();
    d.feed(Bytes::from_static(b"CONNECT host:443 HTTP/1.1\r\n\r\n\x16\x03\x01"));
    assert!(matches!(d.next(), Some(Item::Head(r)) if r.info.is_connect));
    assert!(matches!(d.next(), Some(Item::End(_))));
    // The caller waits for the response before pulling on; the bytes stay queued.
    d.set_tunnel();
    assert_eq!(d.next(), Some(Item::Tunnel(Bytes::from_static(b"\x16\x03\x01"))));
    d.feed(Bytes::from_static(b"more"));
    assert_eq!(d.next(), Some(Item::Tunnel(Bytes::from_static(b"more"))));
}

#[test]
fn reset_starts_over() {
    let mut d = RequestDecoder::new();
    d.feed(Bytes::from_static(b"junk junk\r\n"));
    assert!(matches!(d.next(), Some(Item::Error(_))));
    d.reset();
    d.feed(Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"));
    assert!(matches!(d.next(), Some(Item::Head(_))));
}

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
    let evs = responses(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nabcdef"]);
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

// Encoder

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
    for status in [100, 101, 204] {
        let mut enc = Encoder::new(0);
        enc.start_response("HTTP/1.1", status, None, RequestInfo::default());
        assert!(!wire(&encode(&mut enc, &[]).0).contains("content-length"), "{status}");
    }
    let mut enc = Encoder::new(0);
    enc.start_response("HTTP/1.1", 304, None, RequestInfo::default());
    assert!(wire(&encode(&mut enc, &[]).0).contains("content-length: 0"));

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

/// Feeds `input` in pieces of `step` bytes, but skips whatever the decoder says is body.
fn requests_skipping(input: &[u8], step: usize) -> (Vec<Ev<DecodedRequest>>, RequestDecoder) {
    let mut d = RequestDecoder::new();
    let mut evs = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let n = match d.skippable() {
            Skip::Body(n) => {
                let k = rest.len().min(step).min(usize::try_from(n).unwrap_or(usize::MAX));
                d.skip(k as u64);
                k
            }
            Skip::No | Skip::Rest => {
                let k = step.min(rest.len());
                d.feed(Bytes::copy_from_slice(&rest[..k]));
                k
            }
        };
        rest = &rest[n..];
        while let Some(item) = d.next() {
            push(&mut evs, item);
        }
    }
    (evs.into_iter().filter(|e| !matches!(e, Ev::Body(_))).collect(), d)
}

#[test]
fn skipped_bodies_keep_heads_and_framing() {
    let expected: Vec<_> = pipelined_expected().into_iter().filter(|e| !matches!(e, Ev::Body(_))).collect();
    for step in [1, 2, 3, 5, 8, 13, 64, PIPELINED.len()] {
        let (evs, d) = requests_skipping(PIPELINED, step);
        assert_eq!(evs, expected, "in pieces of {step}");
        assert_eq!(d.skippable(), Skip::No, "between messages");
    }
}

#[test]
fn what_can_be_skipped() {
    let mut d = RequestDecoder::new();
    assert_eq!(d.skippable(), Skip::No);
    d.feed(Bytes::from_static(b"PUT / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
    assert_eq!(d.skippable(), Skip::No, "bytes queued are not skipped");
    while d.next().is_some() {}
    assert_eq!(d.skippable(), Skip::Body(7));

    let mut d = RequestDecoder::new();
    d.feed(Bytes::from_static(b"\x16\x03\x01 not http\r\n\r\n"));
    while d.next().is_some() {}
    assert_eq!(d.skippable(), Skip::Rest, "a stream that is not HTTP");

    let mut d = ResponseDecoder::new();
    d.feed(Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n"));
    while d.next().is_some() {}
    assert_eq!(d.skippable(), Skip::Body(u64::MAX), "a body until the end of the stream");
    d.skip(1 << 40);
    assert!(matches!(d.finish(), Some(Item::End(t)) if t.body_size == 1 << 40));
}
