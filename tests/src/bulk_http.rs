//! A real HTTP/1.1 upstream for the bulk tests, and the exchanges clients make with it:
//! bodies of every framing (content-length, chunked with chunks of every size, extensions
//! and trailers, to the end of the connection) checked by SHA-256, and what the logging
//! forks print for them.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::big::{pattern_digest, read_head};
use crate::bulk::{Dawdle, read_message_body, write_chunked, write_pattern_at};

/// The seed of the request body of exchange `id`.
pub fn up_seed(id: u64) -> u64 {
    id ^ 0x5555
}

/// The seed of the response body of exchange `id`.
pub fn down_seed(id: u64) -> u64 {
    id ^ 0xAAAA
}

/// A real HTTP/1.1 upstream for the bulk tests, keep-alive. A request for
/// `/<id>/<len>/<cl|chunked|eof>[/both][/slow]` has its body (any framing) read and hashed,
/// and is answered `200 OK <id>` with `len` patterned bytes for [`down_seed`]`(id)`, framed
/// as asked (`eof`: no framing, the connection ends after it), and an
/// `x-got: <size> <sha256>` header saying what body it got. `expect: 100-continue` gets a
/// `100 Continue` first. With `/both` the
/// answer is written while the body is still being read (so without `x-got`); with `/slow`
/// the body is read by a [`Dawdle`] for 2 s. Every body read is logged as
/// `<id> <size> <sha256>`.
pub struct BulkHttpServer {
    pub port: u16,
    pub log: Arc<Mutex<Vec<String>>>,
    /// Connections open right now.
    pub open: Arc<AtomicUsize>,
}

impl BulkHttpServer {
    pub fn start() -> BulkHttpServer {
        let log = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new(AtomicUsize::new(0));
        let (into, count) = (log.clone(), open.clone());
        let port = crate::tcp_server(move |s| {
            count.fetch_add(1, Ordering::SeqCst);
            serve_bulk(s, &into);
            count.fetch_sub(1, Ordering::SeqCst);
        });
        BulkHttpServer { port, log, open }
    }

    /// Waits (up to 30 s) until the body of exchange `id` was read; returns its log entry.
    pub fn got(&self, id: u64) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let prefix = format!("{id} ");
        loop {
            if let Some(e) = self.log.lock().unwrap().iter().find(|e| e.starts_with(&prefix)) {
                return Some(e[prefix.len()..].to_string());
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve_bulk(s: TcpStream, log: &Mutex<Vec<String>>) {
    let Ok(mut w) = s.try_clone() else { return };
    let mut r = BufReader::with_capacity(64 * 1024, s);
    while let Ok(Some(head)) = read_head(&mut r) {
        let path = head.line.split_whitespace().nth(1).unwrap_or("").to_string();
        let parts: Vec<&str> = path.split('/').skip(1).collect();
        let [id, len, kind, flags @ ..] = parts.as_slice() else { return };
        let (id, len) = (id.parse::<u64>().unwrap_or(0), len.parse::<u64>().unwrap_or(0));
        let (chunked, eof) = (*kind == "chunked", *kind == "eof");
        if head.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
            && w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
        {
            return;
        }
        let (both, slow) = (flags.contains(&"both"), flags.contains(&"slow"));
        let answer = move |w: &mut TcpStream, got: Option<&str>| -> io::Result<()> {
            let framing = match (chunked, eof) {
                (true, _) => "transfer-encoding: chunked\r\n".to_string(),
                (_, true) => "connection: close\r\n".to_string(),
                _ => format!("content-length: {len}\r\n"),
            };
            let got = got.map(|g| format!("x-got: {g}\r\n")).unwrap_or_default();
            w.write_all(format!("HTTP/1.1 200 OK {id}\r\n{framing}{got}\r\n").as_bytes())?;
            if chunked { write_chunked(w, down_seed(id), len) } else { write_pattern_at(w, down_seed(id), 0, len) }
        };
        let read_body = |r: &mut BufReader<TcpStream>| {
            if slow {
                read_message_body(&mut Dawdle::new(r, Duration::from_secs(2)), &head, true)
            } else {
                read_message_body(r, &head, true)
            }
        };
        let body = if both {
            let Ok(mut w2) = w.try_clone() else { return };
            let writer = thread::spawn(move || answer(&mut w2, None));
            let body = read_body(&mut r);
            if writer.join().map_or(true, |r| r.is_err()) {
                return;
            }
            body
        } else {
            read_body(&mut r)
        };
        let Ok((n, digest)) = body else { return };
        let got = format!("{n} {digest}");
        log.lock().unwrap().push(format!("{id} {got}"));
        if !both && answer(&mut w, Some(&got)).is_err() {
            return;
        }
        if eof {
            break;
        }
    }
    let _ = w.shutdown(Shutdown::Write);
}

/// A request body.
#[derive(Clone, Copy, Debug)]
pub enum Body {
    None,
    Length(u64),
    Chunked(u64),
}

/// One request and its answer from a [`BulkHttpServer`]: the request body, and how long
/// and how framed the answer is.
#[derive(Clone, Copy, Debug)]
pub struct Exchange {
    pub id: u64,
    pub body: Body,
    pub answer: u64,
    pub chunked_answer: bool,
    /// The answer has no framing: it ends with the connection.
    pub eof_answer: bool,
    /// The request asks for `100 Continue` before sending its body.
    pub expect_continue: bool,
    /// The server answers while it still reads the body.
    pub both: bool,
    /// The server reads the body slowly at first.
    pub slow_upstream: bool,
}

impl Exchange {
    pub fn new(id: u64, body: Body, answer: u64, chunked_answer: bool) -> Exchange {
        Exchange {
            id,
            body,
            answer,
            chunked_answer,
            eof_answer: false,
            expect_continue: false,
            both: false,
            slow_upstream: false,
        }
    }

    /// The answer has no framing: it ends with the connection.
    pub fn eof_answer(self) -> Exchange {
        Exchange { eof_answer: true, chunked_answer: false, ..self }
    }

    /// The request waits for `100 Continue` before sending its body.
    pub fn expect_continue(self) -> Exchange {
        Exchange { expect_continue: true, ..self }
    }

    /// The server answers while it still reads the body.
    pub fn both(self) -> Exchange {
        Exchange { both: true, ..self }
    }

    /// The server reads the body slowly at first.
    pub fn slow_upstream(self) -> Exchange {
        Exchange { slow_upstream: true, ..self }
    }

    pub fn method(&self) -> &'static str {
        if matches!(self.body, Body::None) { "GET" } else { "POST" }
    }

    pub fn path(&self) -> String {
        let kind = match (self.chunked_answer, self.eof_answer) {
            (true, _) => "chunked",
            (_, true) => "eof",
            _ => "cl",
        };
        let both = if self.both { "/both" } else { "" };
        let slow = if self.slow_upstream { "/slow" } else { "" };
        format!("/{}/{}/{kind}{both}{slow}", self.id, self.answer)
    }

    fn body_len(&self) -> u64 {
        match self.body {
            Body::None => 0,
            Body::Length(n) | Body::Chunked(n) => n,
        }
    }

    /// What the server must say it got: `<size> <sha256>`.
    pub fn expected_got(&self) -> String {
        let n = self.body_len();
        format!("{n} {}", pattern_digest(up_seed(self.id), n))
    }

    pub fn head(&self) -> String {
        let framing = match self.body {
            Body::None => String::new(),
            Body::Length(n) => format!("content-length: {n}\r\n"),
            Body::Chunked(_) => "transfer-encoding: chunked\r\n".into(),
        };
        let expect = if self.expect_continue { "expect: 100-continue\r\n" } else { "" };
        format!("{} {} HTTP/1.1\r\nhost: bulk\r\n{framing}{expect}\r\n", self.method(), self.path())
    }

    /// Writes the request: head and body.
    pub fn write_request(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(self.head().as_bytes())?;
        self.write_body(w)
    }

    fn write_body(&self, w: &mut impl Write) -> io::Result<()> {
        match self.body {
            Body::None => Ok(()),
            Body::Length(n) => write_pattern_at(w, up_seed(self.id), 0, n),
            Body::Chunked(n) => write_chunked(w, up_seed(self.id), n),
        }
    }

    /// Reads the answer and asserts it: status, what the server got, the body's size and
    /// SHA-256.
    pub fn check_response(&self, r: &mut impl BufRead) {
        let head = read_head(r)
            .unwrap_or_else(|e| panic!("exchange {}: reading the answer's head: {e}", self.id))
            .unwrap_or_else(|| panic!("exchange {}: the connection ended before the answer", self.id));
        assert_eq!(head.line, format!("HTTP/1.1 200 OK {}", self.id), "exchange {}", self.id);
        if !self.both {
            assert_eq!(head.header("x-got"), Some(self.expected_got().as_str()), "exchange {}: upload", self.id);
        }
        let got = read_message_body(r, &head, false)
            .unwrap_or_else(|e| panic!("exchange {}: reading the answer's body: {e}", self.id));
        let want = (self.answer, pattern_digest(down_seed(self.id), self.answer));
        assert_eq!(got, want, "exchange {}: the answer's body (size, sha256)", self.id);
    }

    /// Writes the request and checks the answer, both at once when the server answers
    /// while reading.
    pub fn run(&self, w: &TcpStream, r: &mut impl BufRead) {
        if self.expect_continue {
            (&*w).write_all(self.head().as_bytes()).unwrap();
            let head = read_head(r).unwrap().expect("an answer to expect: 100-continue");
            assert_eq!(head.line, "HTTP/1.1 100 Continue", "exchange {}", self.id);
            self.write_body(&mut &*w).unwrap_or_else(|e| panic!("exchange {}: writing: {e}", self.id));
            self.check_response(r);
        } else if self.both {
            let mut w = w.try_clone().unwrap();
            let me = *self;
            let writer = thread::spawn(move || me.write_request(&mut w));
            self.check_response(r);
            writer.join().unwrap().unwrap_or_else(|e| panic!("exchange {}: writing: {e}", self.id));
        } else {
            self.write_request(&mut &*w).unwrap_or_else(|e| panic!("exchange {}: writing: {e}", self.id));
            self.check_response(r);
        }
    }
}

/// What [`crate::bulk::logging`] prints for an exchange's request and its answer.
pub fn request_line(x: &Exchange) -> String {
    format!("{} {} bulk", x.method(), x.path())
}

pub fn status_line(x: &Exchange) -> String {
    format!("  200 OK {}", x.id)
}

/// All that [`crate::bulk::logging`] prints for an exchange, in order.
pub fn printed(x: &Exchange) -> Vec<String> {
    let mut lines = vec![request_line(x)];
    if x.expect_continue {
        lines.push("  100 Continue".into());
    }
    lines.push(status_line(x));
    lines
}

/// The exchange a printed line is about: the first path segment of a request line, the
/// status text's number for a status line.
pub fn line_id(line: &str) -> Option<u64> {
    match line.strip_prefix("  200 OK ") {
        Some(id) => id.parse().ok(),
        None => line.split_whitespace().nth(1)?.split('/').nth(1)?.parse().ok(),
    }
}
