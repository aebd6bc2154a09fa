//! Request decoding: framing, limits, errors, pipelining across every segmentation.

use super::*;

pub(super) const PIPELINED: &[u8] = b"POST /upload HTTP/1.1\r\n\
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
            RequestInfo { is_1_0: true, ..base },
            RequestInfo { is_final: true, is_1_0: true, ..base },
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
fn bare_line_feeds_end_head_lines() {
    let evs = requests(&[b"POST / HTTP/1.1\nContent-Length: 3\n\nabc"]);
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
