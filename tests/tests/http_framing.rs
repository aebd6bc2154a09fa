//! Request framing as RFC 9112 asks of an intermediary: what the proxy cannot frame for
//! sure is refused with 400 and the connection closed, so that no bytes of it become a
//! request of their own at a naive upstream (one that trusts `content-length`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use weir_tests::origin::{self, origin};
use weir_tests::*;

/// Sends `raw` through demuxHTTP/muxHTTP to a naive origin; returns what the client got
/// and the paths of the requests that reached the origin.
fn through_proxy(raw: &[u8]) -> (String, Vec<String>) {
    let up = origin(|req, w| origin::ok(w, &format!("seen {}", req.path)));
    let port = free_port();
    let script =
        format!("pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{}'))))", up.port);
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(raw).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let seen = recv_n(&up.requests, 3, Duration::from_millis(300));
    (String::from_utf8_lossy(&got).into_owned(), seen.into_iter().map(|r| r.path).collect())
}

#[test]
fn chunked_with_a_content_length_is_refused_and_smuggles_nothing() {
    let (got, seen) = through_proxy(
        b"POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n\
          0\r\n\r\nGET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n",
    );
    assert!(got.starts_with("HTTP/1.1 400 "), "{got}");
    assert!(seen.is_empty(), "reached the upstream: {seen:?}");
}

#[test]
fn a_bare_lf_chunk_line_is_refused() {
    let (got, seen) = through_proxy(
        b"POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n0\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
    );
    assert!(!got.contains("seen /smuggled"), "{got}");
    assert!(!seen.contains(&"/smuggled".to_string()), "reached the upstream: {seen:?}");
}

#[test]
fn bad_lengths_and_codings_get_400() {
    for head in [
        "content-length: 5\r\ncontent-length: 6",
        "content-length: +5",
        "content-length: 5 5",
        "content-length : 5",
        "content-length: 5\r\n 6",
        "transfer-encoding: chunked, gzip",
    ] {
        let raw = format!("POST /a HTTP/1.1\r\nhost: x\r\n{head}\r\n\r\nhelloGET /smuggled HTTP/1.1\r\n\r\n");
        let (got, seen) = through_proxy(raw.as_bytes());
        assert!(got.starts_with("HTTP/1.1 400 "), "{head:?}: {got}");
        assert!(seen.is_empty(), "{head:?} reached the upstream: {seen:?}");
    }
}
