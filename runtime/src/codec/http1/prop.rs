//! Property tests of the codec. Decoders: random streams of valid and broken messages, split
//! at random boundaries, never panic, never hold more than a head's worth of input, and
//! decode the same whatever the segmentation. Encoder: bodies stream with Pipy's bytes.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::{Just, Strategy, any, prop_assert, prop_assert_eq, prop_oneof, proptest};
use proptest::sample::select;

use super::*;

/// What came out, with bodies joined so that segmentation does not show.
#[derive(Debug, PartialEq, Eq)]
enum Out {
    Head(String),
    Body(Vec<u8>),
    End(u64),
    Tunnel(Vec<u8>),
    /// Where the stream failed; why may be worded differently for different splits (a
    /// long head can be found too large before its bad line is seen).
    Error,
    Other(String),
}

fn push(outs: &mut Vec<Out>, item: Out) {
    match (outs.last_mut(), item) {
        (Some(Out::Body(a)), Out::Body(b)) | (Some(Out::Tunnel(a)), Out::Tunnel(b)) => a.extend_from_slice(&b),
        (_, Out::Body(b)) if b.is_empty() => {}
        (_, item) => outs.push(item),
    }
}

fn request_out(item: Item<DecodedRequest>) -> Out {
    match item {
        Item::Head(r) => Out::Head(format!("{:?}", r)),
        Item::Body(b) => Out::Body(b.to_vec()),
        Item::End(t) => Out::End(t.body_size),
        Item::Tunnel(b) => Out::Tunnel(b.to_vec()),
        Item::Error(_) => Out::Error,
        other => Out::Other(format!("{other:?}")),
    }
}

fn response_out(item: Item<DecodedResponse>) -> Out {
    match item {
        Item::Head(r) => Out::Head(format!("{:?}", r)),
        Item::Body(b) => Out::Body(b.to_vec()),
        Item::End(t) => Out::End(t.body_size),
        Item::Tunnel(b) => Out::Tunnel(b.to_vec()),
        Item::Error(_) => Out::Error,
        other => Out::Other(format!("{other:?}")),
    }
}

/// A message part of a generated stream: a request or response with a body framed by
/// content-length or chunks, or bytes that are not HTTP at all.
fn message(response: bool) -> impl Strategy<Value = (Vec<u8>, Option<Vec<u8>>)> {
    let header = (
        select(vec!["host", "x-a", "Accept", "cookie", "connection", "X-Bin", "upgrade"]),
        // Visible ASCII, spaces and obs-text (bytes that are not UTF-8 included).
        vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff], 0..40),
    );
    let valid = (
        select(vec!["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS"]),
        select(vec![200u16, 201, 204, 301, 404, 500]),
        vec(header, 0..6),
        vec(any::<u8>(), 0..3000),
        any::<bool>(),
        vec(1usize..700, 0..6),
    )
        .prop_map(move |(method, status, headers, body, chunked, sizes)| {
            let mut m = if response {
                format!("HTTP/1.1 {status} X\r\n").into_bytes()
            } else {
                format!("{method} /p HTTP/1.1\r\n").into_bytes()
            };
            for (name, value) in &headers {
                // A connection or upgrade header could end the stream or make a tunnel:
                // generated streams keep going (broken ones cover the rest).
                if matches!(*name, "connection" | "upgrade") {
                    continue;
                }
                m.extend_from_slice(name.as_bytes());
                m.extend_from_slice(b": ");
                m.extend_from_slice(value.trim_ascii());
                m.extend_from_slice(b"\r\n");
            }
            let no_body = response && status == 204;
            let body = if no_body { Vec::new() } else { body };
            if chunked && !no_body {
                m.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
                let mut rest = &body[..];
                for size in sizes.iter().chain(std::iter::once(&usize::MAX)) {
                    let n = (*size).min(rest.len());
                    if n == 0 {
                        break;
                    }
                    m.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                    m.extend_from_slice(&rest[..n]);
                    m.extend_from_slice(b"\r\n");
                    rest = &rest[n..];
                }
                m.extend_from_slice(b"0\r\n\r\n");
            } else {
                if !no_body {
                    m.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
                }
                m.extend_from_slice(b"\r\n");
                m.extend_from_slice(&body);
            }
            (m, Some(body))
        });
    let broken = prop_oneof![
        vec(any::<u8>(), 1..200),
        // A head that never ends.
        (1usize..40_000).prop_map(|n| {
            let mut m = b"GET / HTTP/1.1\r\nx-long: ".to_vec();
            m.resize(m.len() + n, b'a');
            m
        }),
        Just(b"GET / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n".to_vec()),
        Just(b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".to_vec()),
        Just(b"GET / HTTP/1.1\r\ncontent-length: 99999999999999999999999\r\n\r\n".to_vec()),
    ]
    .prop_map(|m| (m, None));
    prop_oneof![4 => valid, 1 => broken]
}

fn stream(response: bool) -> impl Strategy<Value = (Vec<u8>, Vec<Option<Vec<u8>>>, Vec<usize>)> {
    vec(message(response), 1..6).prop_flat_map(|msgs| {
        let bytes: Vec<u8> = msgs.iter().flat_map(|(m, _)| m.clone()).collect();
        let bodies: Vec<Option<Vec<u8>>> = msgs.into_iter().map(|(_, b)| b).collect();
        let len = bytes.len();
        (Just(bytes), Just(bodies), vec(0..=len, 0..12))
    })
}

fn pieces(bytes: &[u8], mut cuts: Vec<usize>) -> Vec<Bytes> {
    cuts.push(0);
    cuts.push(bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).map(|w| Bytes::copy_from_slice(&bytes[w[0]..w[1]])).collect()
}

fn decode_requests(pieces: &[Bytes]) -> Vec<Out> {
    let mut d = RequestDecoder::new();
    let mut outs = Vec::new();
    for p in pieces {
        d.feed(p.clone());
        while let Some(item) = d.next() {
            push(&mut outs, request_out(item));
        }
        // Whatever is held is part of one head (or ignored after an error): bounded.
        assert!(
            d.buffered() <= DEFAULT_MAX_HEADER_SIZE + p.len() || d.has_failed(),
            "the decoder holds {} bytes",
            d.buffered()
        );
    }
    unfinished(&mut outs, d.has_failed(), d.buffered());
    outs
}

/// A head still incomplete at the end of the stream fails there: whether its bad bytes are
/// seen early depends on how it was split, not whether the stream fails.
fn unfinished(outs: &mut Vec<Out>, failed: bool, buffered: usize) {
    if !failed && buffered > 0 {
        outs.push(Out::Error);
    }
}

fn decode_responses(pieces: &[Bytes]) -> Vec<Out> {
    let mut d = ResponseDecoder::new();
    let mut outs = Vec::new();
    for p in pieces {
        d.feed(p.clone());
        while let Some(item) = d.next() {
            push(&mut outs, response_out(item));
        }
        assert!(d.buffered() <= DEFAULT_MAX_HEADER_SIZE + p.len() || d.has_failed());
    }
    if let Some(item) = d.finish() {
        push(&mut outs, response_out(item));
    }
    unfinished(&mut outs, d.has_failed(), d.buffered());
    outs
}

/// Bodies decoded until the first error or non-message item.
fn bodies(outs: &[Out]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    let mut current = None;
    for o in outs {
        match o {
            Out::Head(_) => current = Some(Vec::new()),
            Out::Body(b) => current.get_or_insert_with(Vec::new).extend_from_slice(b),
            Out::End(_) => found.push(current.take().unwrap_or_default()),
            _ => break,
        }
    }
    found
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N for a longer run.
    #[test]
    fn requests_decode_the_same_however_split((bytes, expected, cuts) in stream(false)) {
        let whole = decode_requests(&[Bytes::from(bytes.clone())]);
        let split = decode_requests(&pieces(&bytes, cuts));
        prop_assert_eq!(&whole, &split);
        // Up to the first broken message, every body arrives whole.
        let valid: Vec<Vec<u8>> = expected.into_iter().map_while(|b| b).collect();
        let got = bodies(&whole);
        prop_assert!(got.len() >= valid.len(), "{} bodies for {} messages", got.len(), valid.len());
        prop_assert_eq!(&got[..valid.len()], &valid[..]);
    }

    #[test]
    fn responses_decode_the_same_however_split((bytes, expected, cuts) in stream(true)) {
        let whole = decode_responses(&[Bytes::from(bytes.clone())]);
        let split = decode_responses(&pieces(&bytes, cuts));
        prop_assert_eq!(&whole, &split);
        let valid: Vec<Vec<u8>> = expected.into_iter().map_while(|b| b).collect();
        let got = bodies(&whole);
        prop_assert!(got.len() >= valid.len());
        prop_assert_eq!(&got[..valid.len()], &valid[..]);
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..5000), cuts in vec(0usize..5000, 0..20)) {
        let cuts = cuts.into_iter().filter(|c| *c <= bytes.len()).collect();
        let p = pieces(&bytes, cuts);
        decode_requests(&p);
        decode_responses(&p);
    }
}

#[test]
fn header_bytes_that_are_not_utf8_pass_through_unchanged() {
    let wire = b"GET / HTTP/1.1\r\nx-name: caf\xe9 \xff\xfe\r\nhost: h\r\n\r\n";
    let mut d = RequestDecoder::new();
    d.feed(Bytes::from_static(wire));
    let Some(Item::Head(req)) = d.next() else { panic!("a head") };
    let mut enc = Encoder::new(0);
    enc.start_request_head(&req.head);
    let mut out = Vec::new();
    enc.end(&mut |o| match o {
        encode::Out::Start(b) | encode::Out::Body(b) => out.extend_from_slice(&b),
    });
    let line: &[u8] = b"x-name: caf\xe9 \xff\xfe\r\n";
    let text = out.windows(line.len()).any(|w| w == line);
    assert!(text, "{:?}", String::from_utf8_lossy(&out));
}

/// Encodes a decoded request head and `body` cut at `cuts`: (bytes out, bytes out before
/// the end, ending).
fn encode_cut(declared: Option<usize>, body: &[u8], cuts: Vec<usize>) -> (Vec<u8>, usize, Option<Ending>) {
    let mut head = RequestHead {
        method: "POST".into(),
        path: "/".into(),
        protocol: "HTTP/1.1".into(),
        headers: vec![Header::new("host", "h")],
    };
    if let Some(n) = declared {
        head.headers.push(Header::new("content-length", n.to_string()));
    }
    let mut enc = Encoder::new(0);
    enc.start_request_head(&head);
    let mut out = Vec::new();
    let mut put = |o: encode::Out| match o {
        encode::Out::Start(b) | encode::Out::Body(b) => out.extend_from_slice(&b),
    };
    for p in pieces(body, cuts) {
        enc.data(p, &mut put);
    }
    let before_end = out.len();
    let ending = enc.end(&mut |o| match o {
        encode::Out::Start(b) | encode::Out::Body(b) => out.extend_from_slice(&b),
    });
    (out, before_end, ending)
}

proptest! {
    /// A body under the length its head declared comes out as Pipy writes it (head with that
    /// length, then the body) however it is cut, and past 4 KiB it goes out before its end.
    #[test]
    fn declared_lengths_stream_with_pipys_bytes(len in 0usize..20_000, cuts in vec(0usize..20_000, 0..8)) {
        let body: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let cuts = cuts.into_iter().filter(|c| *c <= len).collect();
        let (out, before_end, ending) = encode_cut(Some(len), &body, cuts);
        let mut pipy = format!("POST / HTTP/1.1\r\nhost: h\r\ncontent-length: {len}\r\nconnection: keep-alive\r\n\r\n").into_bytes();
        pipy.extend_from_slice(&body);
        prop_assert_eq!(out, pipy);
        prop_assert_eq!(ending, Some(Ending::Message));
        if len > 4096 {
            prop_assert!(before_end > len - 4096, "held {} of {len} bytes until the end", len - before_end);
        }
    }

    /// A body longer or shorter than its declared length, once streaming, breaks the message
    /// (before that, the length is simply the body's, as in Pipy).
    #[test]
    fn a_streamed_body_off_its_declared_length_is_broken(len in 5000usize..9000, off in 1usize..3000, longer in proptest::bool::ANY) {
        let declared = if longer { (len - off).max(4097) } else { len + off };
        let body = vec![b'x'; len];
        // Streaming starts with the first 4097 bytes: the mismatch shows only after.
        let (out, _, ending) = encode_cut(Some(declared), &body, vec![4097]);
        prop_assert_eq!(ending, Some(Ending::Broken));
        let head_len = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        prop_assert!(out.len() - head_len <= declared, "more body than declared went out");
    }
}

#[test]
fn a_body_without_a_declared_length_is_chunked_past_a_mebibyte() {
    let body = vec![b'y'; MAX_BUFFERED_BODY + 10];
    let (out, before_end, _) = encode_cut(None, &body, vec![100, 1 << 19]);
    assert!(out.windows(26).any(|w| w == b"transfer-encoding: chunked"));
    assert!(before_end >= MAX_BUFFERED_BODY, "the body was held whole");
    let (small, _, _) = encode_cut(None, &body[..1000], vec![]);
    assert!(small.windows(21).any(|w| w == b"content-length: 1000\r"));
}
