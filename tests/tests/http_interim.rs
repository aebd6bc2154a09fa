//! Interim (1xx) responses and HEAD through weir's HTTP filters, with real curl.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use weir_tests::origin::{self, origin};
use weir_tests::*;

/// A reverse proxy: demuxHTTP on the client side, muxHTTP to `upstream`.
fn mux_proxy(port: u16, upstream: u16) -> Weir {
    let script =
        format!("pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{upstream}'))))");
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    weir
}

#[test]
fn an_upload_with_expect_100_continue_gets_its_final_response_at_once() {
    let up = origin(|req, w| origin::ok(w, &format!("got {}", req.body.len())));
    let port = free_port();
    let _weir = mux_proxy(port, up.port);
    let dir = TempDir::new();
    let file = dir.0.join("upload");
    std::fs::write(&file, vec![b'x'; 2 << 20]).unwrap();
    let url = format!("http://127.0.0.1:{port}/up");
    let data = format!("@{}", file.display());

    let t = Instant::now();
    let (code, body, err) = curl(&["-H", "Expect: 100-continue", "--data-binary", &data, &url, &url]);
    let took = t.elapsed();
    assert_eq!(code, 0, "curl: {err}");
    assert_eq!(body, format!("got {0}got {0}", 2 << 20));
    let seen = recv_n(&up.requests, 2, Duration::from_secs(5));
    assert!(seen.iter().all(|r| r.header("expect") == Some("100-continue")), "{seen:?}");
    // curl sends the body anyway after waiting a second for the 100: both uploads done
    // well under that means the upstream's 100 came through before the body.
    assert!(took < Duration::from_millis(900), "two uploads took {took:?}");
}

#[test]
fn early_hints_go_to_the_client_and_the_final_response_follows() {
    let up = origin(|_, w| {
        let _ = w.write_all(b"HTTP/1.1 103 Early Hints\r\nlink: </s.css>; rel=preload\r\n\r\n");
        let _ = w.write_all(b"HTTP/1.1 102 Processing\r\n\r\n");
        origin::ok(w, "final");
    });
    let port = free_port();
    let _weir = mux_proxy(port, up.port);
    let url = format!("http://127.0.0.1:{port}/");
    let (code, out, err) = curl(&["-i", &url, &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert_eq!(out.matches("HTTP/1.1 103 Early Hints").count(), 2, "{out}");
    assert_eq!(out.matches("link: </s.css>; rel=preload").count(), 2, "{out}");
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert!(out.ends_with("final"), "{out}");
}

/// The transparent-proxy sample's pipeline with a fixed target instead of SO_ORIGINAL_DST:
/// the request decoder and the response decoder sit in two forks of one connection.
fn logging_proxy(port: u16, upstream: u16) -> Weir {
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .fork().to($=>$\n\
             .decodeHTTPRequest()\n\
             .handleMessageStart(({{ head }}) => println(head.method, head.path))\n\
           )\n\
           .connect('127.0.0.1:{upstream}')\n\
           .fork().to($=>$\n\
             .decodeHTTPResponse()\n\
             .handleMessageStart(({{ head }}) => println(' ', head.status))\n\
           )\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    weir
}

/// Reads one response from `s`, framed by its content-length unless it answers a HEAD.
fn read_response(s: &mut TcpStream, head_request: bool) -> String {
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        got.push(b[0]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    let len = text
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0);
    let mut body = vec![0; if head_request { 0 } else { len }];
    s.read_exact(&mut body).unwrap();
    text + &String::from_utf8_lossy(&body)
}

#[test]
fn a_head_response_with_a_length_does_not_hide_the_responses_after_it() {
    let up = origin(|req, w| {
        let body = format!("page {}", req.path);
        let _ = write!(w, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
        if req.method != "HEAD" {
            let _ = w.write_all(body.as_bytes());
        }
    });
    let port = free_port();
    let weir = logging_proxy(port, up.port);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for (method, path) in [("HEAD", "/a"), ("GET", "/b"), ("HEAD", "/c"), ("GET", "/d")] {
        write!(s, "{method} {path} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
        let r = read_response(&mut s, method == "HEAD");
        assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}");
    }
    let lines = weir.wait_stdout_lines(8, Duration::from_secs(5));
    assert_eq!(lines, ["HEAD /a", "  200", "GET /b", "  200", "HEAD /c", "  200", "GET /d", "  200"]);
}
