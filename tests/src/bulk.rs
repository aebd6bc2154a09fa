//! Bulk streams for the byte-keeping tests: raw patterned streams in both directions at
//! once, readers that dawdle, resets, and an HTTP/1.1 upstream whose bodies (content-length,
//! or chunked with chunks of every size, extensions and trailers) are checked by SHA-256.
//! Nothing is held in memory whole.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::big::{Head, MIB, pattern, read_digest, read_head};

/// Chunk sizes used in turn by [`write_chunked`]: tiny ones, ones around buffer and pipe
/// sizes, and ones over 1 MiB.
pub const CHUNK_SIZES: &[u64] =
    &[1, 7, 2, 4096, 65_535, 65_536, 65_537, 3, MIB + 17, 255, 16_384, 3 * MIB + 1, 1, 131_072, 10, 2 * MIB];

/// Writes the patterned bytes `offset..offset + len` of the stream for `seed`.
pub fn write_pattern_at(w: &mut impl Write, seed: u64, offset: u64, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        pattern(seed, offset + at, &mut buf[..n]);
        w.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

/// Writes `len` patterned bytes for `seed` as a chunked body: chunk sizes from
/// [`CHUNK_SIZES`] in turn, every fifth size line with an extension, upper- and lower-case
/// hex, and a trailer section at the end.
pub fn write_chunked(w: &mut impl Write, seed: u64, len: u64) -> io::Result<()> {
    let mut at = 0;
    let mut i = 0;
    while at < len {
        let n = CHUNK_SIZES[i % CHUNK_SIZES.len()].min(len - at);
        let line = if i % 5 == 4 { format!("{n:x};bulk=\"{i}\"\r\n") } else { format!("{n:X}\r\n") };
        w.write_all(line.as_bytes())?;
        write_pattern_at(w, seed, at, n)?;
        w.write_all(b"\r\n")?;
        at += n;
        i += 1;
    }
    w.write_all(b"0\r\nx-bulk-trailer: done\r\n\r\n")
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The body that follows `head`: chunked (extensions and trailers allowed), content-length,
/// or for a response without either, to the end. Returns its size and SHA-256.
pub fn read_message_body(r: &mut impl BufRead, head: &Head, request: bool) -> io::Result<(u64, String)> {
    if head.header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) {
        let mut h = Sha256::new();
        let mut total = 0;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            let size = line.split(';').next().unwrap_or("").trim();
            let n = u64::from_str_radix(size, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size line {line:?}")))?;
            if n == 0 {
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t)? == 0 || t.trim().is_empty() {
                        return Ok((total, hex(&h.finalize())));
                    }
                }
            }
            let mut left = n;
            while left > 0 {
                let k = left.min(buf.len() as u64) as usize;
                r.read_exact(&mut buf[..k])?;
                h.update(&buf[..k]);
                left -= k as u64;
            }
            let mut crlf = String::new();
            r.read_line(&mut crlf)?;
            if crlf != "\r\n" {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{crlf:?} after chunk data")));
            }
            total += n;
        }
    }
    match head.length() {
        Some(len) => read_digest(r, Some(len), 0),
        None if request => Ok((0, hex(&Sha256::new().finalize()))),
        None => read_digest(r, None, 0),
    }
}

/// Both directions of a raw stream at once: writes `len` patterned bytes for `seed` and
/// half-closes, while reading to the end. Returns what was read: size and SHA-256.
pub fn exchange_raw(s: &TcpStream, seed: u64, len: u64) -> io::Result<(u64, String)> {
    let mut w = s.try_clone()?;
    let writer = thread::spawn(move || {
        write_pattern_at(&mut w, seed, 0, len)?;
        w.shutdown(Shutdown::Write)
    });
    let got = read_digest(&mut &*s, None, 0);
    writer.join().expect("writer thread")?;
    got
}

/// A reader that dawdles: for its first `slow_for` it hands out 4 KiB at a time, one piece
/// every 5 ms, then everything as fast as it comes.
pub struct Dawdle<R> {
    inner: R,
    until: Instant,
}

impl<R: BufRead> Dawdle<R> {
    pub fn new(inner: R, slow_for: Duration) -> Dawdle<R> {
        Dawdle { inner, until: Instant::now() + slow_for }
    }
}

impl<R: BufRead> BufRead for Dawdle<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let slow = Instant::now() < self.until;
        if slow {
            thread::sleep(Duration::from_millis(5));
        }
        let buf = self.inner.fill_buf()?;
        Ok(if slow { &buf[..buf.len().min(4096)] } else { buf })
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n)
    }
}

impl<R: BufRead> Read for Dawdle<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// A reader that reads its first `fast` bytes at full speed and the rest at `rate` bytes
/// per second at most: a peer that slows down near the end of a stream, so that the proxy
/// still holds bytes for it when the other side's end arrives.
pub struct SlowEnd<R> {
    inner: R,
    fast: u64,
    rate: u64,
    read: u64,
    slow_since: Option<Instant>,
}

impl<R: Read> SlowEnd<R> {
    pub fn new(inner: R, fast: u64, rate: u64) -> SlowEnd<R> {
        SlowEnd { inner, fast, rate, read: 0, slow_since: None }
    }
}

impl<R: Read> Read for SlowEnd<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.read < self.fast {
            let want = out.len().min((self.fast - self.read).try_into().unwrap_or(usize::MAX));
            let n = self.inner.read(&mut out[..want])?;
            self.read += n as u64;
            return Ok(n);
        }
        let since = *self.slow_since.get_or_insert_with(Instant::now);
        let want = out.len().min(16 * 1024);
        let n = self.inner.read(&mut out[..want])?;
        self.read += n as u64;
        let due = Duration::from_secs_f64((self.read - self.fast) as f64 / self.rate as f64);
        if let Some(wait) = due.checked_sub(since.elapsed()) {
            thread::sleep(wait);
        }
        Ok(n)
    }
}

/// Closes `s` with a reset (SO_LINGER 0) instead of a FIN. `s` must be the last handle of
/// its socket.
pub fn reset(s: TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt on an open socket with a properly sized linger struct.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", io::Error::last_os_error());
    drop(s);
}

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
        format!("{n} {}", crate::big::pattern_digest(up_seed(self.id), n))
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
        let want = (self.answer, crate::big::pattern_digest(down_seed(self.id), self.answer));
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
