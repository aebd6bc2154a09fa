//! A naive HTTP/1 origin over raw TCP: it frames requests by `content-length` alone (as a
//! simple backend does), answers `Expect: 100-continue` before reading the body, and lets
//! the test write whatever response bytes it wants. Every request it read is reported, so
//! that a test can tell exactly what reached the upstream.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};

use crate::tcp_server;

/// A request as the origin read it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header lines as sent, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

pub struct Origin {
    pub port: u16,
    pub requests: Receiver<Request>,
}

/// Starts an origin; `respond` writes the answer to each request (it may write interim
/// responses first, or bytes that are not HTTP).
pub fn origin(respond: impl Fn(&Request, &mut TcpStream) + Send + Sync + 'static) -> Origin {
    let (tx, requests) = channel();
    let tx = Arc::new(Mutex::new(tx));
    let port = tcp_server(move |s| {
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        while let Some(req) = read_request(&mut r, &mut w) {
            let _ = tx.lock().unwrap().send(req.clone());
            respond(&req, &mut w);
        }
    });
    Origin { port, requests }
}

fn read_request(r: &mut BufReader<TcpStream>, w: &mut TcpStream) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok().filter(|&n| n > 0)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok().filter(|&n| n > 0)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut req = Request { method, path, headers, body: Vec::new() };
    if req.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let len = req.header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    req.body = vec![0; len];
    r.read_exact(&mut req.body).ok()?;
    Some(req)
}

/// A plain `200 OK` with `body`.
pub fn ok(w: &mut TcpStream, body: &str) {
    let _ = write!(w, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len());
}
