//! Framing an intermediary must refuse (RFC 9112 6.3, 7.1): requests and responses whose
//! body length a server behind could read differently.

use bytes::Bytes;

use super::super::*;

fn request_fails(raw: &'static [u8]) -> bool {
    let mut d = RequestDecoder::new();
    d.feed(Bytes::from_static(raw));
    std::iter::from_fn(|| d.next()).any(|i| matches!(i, Item::Error(DecodeError::Malformed(_))))
}

fn response_fails(raw: &'static [u8]) -> bool {
    let mut d = ResponseDecoder::new();
    d.feed(Bytes::from_static(raw));
    std::iter::from_fn(|| d.next()).any(|i| matches!(i, Item::Error(DecodeError::Malformed(_))))
}

#[test]
fn requests_with_doubtful_framing_fail() {
    for raw in [
        &b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked, gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
        b"POST / HTTP/1.1\r\ncontent-length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\ncontent-length: +1\r\n\r\na",
        b"POST / HTTP/1.1\r\ncontent-length: 1 1\r\n\r\na",
        b"POST / HTTP/1.1\r\ncontent-length : 1\r\n\r\na",
        b"POST / HTTP/1.1\r\ncontent-length: 1\r\n 2\r\n\r\na",
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\n\r\n",
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffff\r\n",
    ] {
        assert!(request_fails(raw), "{}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn sound_framing_still_decodes() {
    for raw in [
        &b"POST / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 1\r\n\r\na"[..],
        b"POST / HTTP/1.1\r\ncontent-length:  1 \r\n\r\na",
        b"POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n1;x=y\r\na\r\n0\r\n\r\n",
    ] {
        assert!(!request_fails(raw), "{}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn responses_with_doubtful_framing_fail() {
    for raw in [
        &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n 2\r\n\r\na",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 2\r\n\r\nabcdef",
    ] {
        assert!(response_fails(raw), "{}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn a_content_length_is_digits_within_u64() {
    for raw in [
        &b"POST / HTTP/1.1\r\ncontent-length: 18446744073709551616\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\ncontent-length: +5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\ncontent-length: 5 5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\ncontent-length: \r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\nhello",
    ] {
        assert!(request_fails(raw), "{}", String::from_utf8_lossy(raw));
    }
    let mut d = RequestDecoder::new();
    d.feed(Bytes::from_static(b"POST / HTTP/1.1\r\nContent-Length:  007 \r\n\r\nhello!!"));
    let body: Vec<u8> = std::iter::from_fn(|| d.next())
        .flat_map(|i| if let Item::Body(b) = i { b.to_vec() } else { Vec::new() })
        .collect();
    assert_eq!(body, b"hello!!");
}
