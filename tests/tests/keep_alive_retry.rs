//! A keep-alive upstream may close a connection just as the next request goes out on it
//! (its idle timeout, a restart). muxHTTP then retries that request once on a fresh
//! connection, as nginx's `proxy_next_upstream error` does, when none of the response came
//! and the request is idempotent; a request that may have changed something upstream (a
//! POST that went out) gets its 502, never a second delivery.

use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use weir_tests::bulk::reset;

use weir_tests::big::*;
use weir_tests::origin::{Request, ok, origin};
use weir_tests::*;

/// A proxy to `upstream`, and its port.
fn start(upstream: u16) -> (Weir, u16) {
    let port = free_port();
    let script =
        format!("pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{upstream}'))))\n");
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    (weir, port)
}

/// An origin that answers every request, except the first one for `/2`: that one it reads
/// whole, then closes the connection without a byte of answer (FIN, nothing left unread).
fn closing_on_the_second_request() -> weir_tests::origin::Origin {
    let closed = AtomicBool::new(false);
    origin(move |req: &Request, w: &mut TcpStream| {
        if req.path == "/2" && !closed.swap(true, Ordering::SeqCst) {
            let _ = w.shutdown(Shutdown::Both);
        } else {
            ok(w, "fine");
        }
    })
}

/// An upstream that answers the first request on each connection and resets the connection
/// (RST, not FIN) once it has read the head of the second. Returns its port and how many
/// connections it accepted.
fn resetting_on_the_second_request() -> (u16, Arc<AtomicUsize>) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let port = tcp_server(move |s| {
        counter.fetch_add(1, Ordering::SeqCst);
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let Ok(Some(first)) = read_head(&mut r) else { return };
        request_body(&mut r, &first, 0).unwrap();
        ok(&mut w, "fine");
        if read_head(&mut r).ok().flatten().is_some() {
            drop(r);
            reset(w);
        }
    });
    (port, accepted)
}

/// Sends `method path` (with a small body for a POST) on `c` and reads the answer's status.
fn exchange(c: &mut Client, method: &str, path: &str) -> u16 {
    let body = if method == "POST" { "payload" } else { "" };
    let req = format!("{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    c.w.write_all(req.as_bytes()).unwrap();
    let head = read_head(&mut c.r).unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
    let head = head.unwrap_or_else(|| panic!("{method} {path}: closed without an answer"));
    read_body(&mut c.r, &head, 0).unwrap();
    head.status()
}

fn client(port: u16) -> Client {
    let c = Client::connect(port);
    c.w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// What the origin read, in order, as `METHOD path`.
fn seen(requests: &std::sync::mpsc::Receiver<Request>) -> Vec<String> {
    requests.try_iter().map(|r| format!("{} {}", r.method, r.path)).collect()
}

#[test]
fn a_get_whose_keep_alive_upstream_closes_as_it_goes_out_is_retried_on_a_fresh_connection() {
    let o = closing_on_the_second_request();
    let (_weir, port) = start(o.port);
    let mut c = client(port);
    assert_eq!(exchange(&mut c, "GET", "/1"), 200);
    let status = exchange(&mut c, "GET", "/2");
    eprintln!("GET /2 on a connection the upstream closed as it arrived: {status}");
    assert_eq!(status, 200, "an idempotent request that got nothing back is retried, not a 502");
    // The same client connection goes on being served.
    assert_eq!(exchange(&mut c, "GET", "/3"), 200);
    assert_eq!(seen(&o.requests), ["GET /1", "GET /2", "GET /2", "GET /3"]);
}

#[test]
fn a_post_that_went_out_to_a_closing_upstream_gets_a_502_and_is_not_sent_twice() {
    let o = closing_on_the_second_request();
    let (_weir, port) = start(o.port);
    let mut c = client(port);
    assert_eq!(exchange(&mut c, "POST", "/1"), 200);
    let status = exchange(&mut c, "POST", "/2");
    eprintln!("POST /2 on a connection the upstream closed as it arrived: {status}");
    assert_eq!(status, 502, "a POST that reached the upstream must not be delivered twice");
    // Any retry would have come before the 502: what follows shows the upstream's whole log.
    assert_eq!(exchange(&mut client(port), "GET", "/3"), 200);
    assert_eq!(seen(&o.requests), ["POST /1", "POST /2", "GET /3"]);
}

#[test]
fn a_get_whose_keep_alive_upstream_resets_as_it_goes_out_is_retried_on_a_fresh_connection() {
    let (upstream, accepted) = resetting_on_the_second_request();
    let (_weir, port) = start(upstream);
    let mut c = client(port);
    assert_eq!(exchange(&mut c, "GET", "/1"), 200);
    assert_eq!(exchange(&mut c, "GET", "/2"), 200, "a reset before any answer is retried too");
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "the retry went on a second connection");
}

#[test]
fn a_request_is_retried_once_only() {
    // Every `/2` is read and left unanswered: the retry fails too, and the client gets its 502.
    let o = origin(|req: &Request, w: &mut TcpStream| {
        if req.path == "/2" {
            let _ = w.shutdown(Shutdown::Both);
        } else {
            ok(w, "fine");
        }
    });
    let (_weir, port) = start(o.port);
    let mut c = client(port);
    assert_eq!(exchange(&mut c, "GET", "/1"), 200);
    assert_eq!(exchange(&mut c, "GET", "/2"), 502);
    assert_eq!(seen(&o.requests), ["GET /1", "GET /2", "GET /2"]);
}
