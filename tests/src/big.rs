//! Big bodies for the reliability tests: a streaming HTTP/1.1 server and client that never
//! hold a body in memory, patterned bytes checked by SHA-256, and the proxy's memory as the
//! kernel counts it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use sha2::{Digest, Sha256};

pub const MIB: u64 = 1 << 20;

/// `n` patterned bytes starting at `offset` of the stream for `seed` (cheap, not constant,
/// so that a lost or repeated piece changes the digest).
pub fn pattern(seed: u64, offset: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        let x = (offset + i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed;
        *b = (x >> 29) as u8;
    }
}

/// The SHA-256 of `len` patterned bytes for `seed`.
pub fn pattern_digest(seed: u64, len: u64) -> String {
    digest_of(&[(seed, len)])
}

/// The SHA-256 of patterned streams one after another: (seed, length) each.
pub fn digest_of(parts: &[(u64, u64)]) -> String {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    for &(seed, len) in parts {
        let mut at = 0;
        while at < len {
            let n = (len - at).min(buf.len() as u64) as usize;
            pattern(seed, at, &mut buf[..n]);
            h.update(&buf[..n]);
            at += n as u64;
        }
    }
    hex(&h.finalize())
}

/// Reads exactly `n` bytes into the digest `h`, through `buf`.
pub fn hash_exact(r: &mut impl Read, h: &mut Sha256, n: u64, buf: &mut [u8]) -> std::io::Result<()> {
    let mut left = n;
    while left > 0 {
        let k = left.min(buf.len() as u64) as usize;
        r.read_exact(&mut buf[..k])?;
        h.update(&buf[..k]);
        left -= k as u64;
    }
    Ok(())
}

pub fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `len` patterned bytes, `rate` bytes per second at most (0: as fast as possible).
pub fn write_pattern(w: &mut impl Write, seed: u64, len: u64, rate: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0;
    let start = std::time::Instant::now();
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        pattern(seed, at, &mut buf[..n]);
        w.write_all(&buf[..n])?;
        at += n as u64;
        if rate > 0 {
            let due = Duration::from_secs_f64(at as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    Ok(())
}

/// Reads `len` bytes (or to the end when `None`), `rate` bytes per second at most; returns
/// how many and their SHA-256.
pub fn read_digest(r: &mut impl Read, len: Option<u64>, rate: u64) -> std::io::Result<(u64, String)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0u64;
    let start = std::time::Instant::now();
    loop {
        let want = match len {
            Some(l) if at >= l => break,
            Some(l) => (l - at).min(buf.len() as u64) as usize,
            None => buf.len(),
        };
        let n = r.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        at += n as u64;
        if rate > 0 {
            let due = Duration::from_secs_f64(at as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    Ok((at, hex(&h.finalize())))
}

/// A parsed response or request head: the first line and lower-cased headers.
pub struct Head {
    pub line: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn length(&self) -> Option<u64> {
        self.header("content-length").and_then(|v| v.parse().ok())
    }

    pub fn status(&self) -> u16 {
        self.line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
    }
}

/// Reads a head; `None` at a clean end of stream.
pub fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<Head>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    Ok(Some(Head { line: line.trim_end().to_string(), headers }))
}

/// A body framed by `head`: content-length, chunked, or until the end. Returns its size and
/// SHA-256, reading at `rate` bytes per second at most.
pub fn read_body(r: &mut impl BufRead, head: &Head, rate: u64) -> std::io::Result<(u64, String)> {
    if head.header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        let mut h = Sha256::new();
        let mut total = 0;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = u64::from_str_radix(size.trim(), 16).map_err(|_| std::io::ErrorKind::InvalidData)?;
            hash_exact(r, &mut h, n, &mut buf)?;
            let mut crlf = String::new();
            r.read_line(&mut crlf)?;
            total += n;
            if n == 0 {
                return Ok((total, hex(&h.finalize())));
            }
        }
    }
    read_digest(r, head.length(), rate)
}

/// A request's body: framed like any body, but empty without framing headers.
pub fn request_body(r: &mut impl BufRead, head: &Head, rate: u64) -> std::io::Result<(u64, String)> {
    if head.length().is_none() && head.header("transfer-encoding").is_none() {
        return Ok((0, hex(&Sha256::new().finalize())));
    }
    read_body(r, head, rate)
}

/// A real HTTP/1.1 upstream for big bodies, keep-alive:
/// - `GET /down/<len>/<seed>[/<rate>]`: `len` patterned bytes with a content-length,
///   written at `rate` bytes per second at most;
/// - `POST /up[/<rate>]`: reads the body (content-length or chunked) at `rate` at most and
///   answers its size and SHA-256 as `<size> <digest>`.
pub fn big_server() -> u16 {
    crate::tcp_server(|s| {
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::with_capacity(64 * 1024, s);
        while let Ok(Some(head)) = read_head(&mut r) {
            let path = head.line.split_whitespace().nth(1).unwrap_or("").to_string();
            let parts: Vec<&str> = path.split('/').skip(1).collect();
            let ok = match parts.as_slice() {
                ["down", len, seed, rest @ ..] => {
                    let len: u64 = len.parse().unwrap_or(0);
                    let rate = rest.first().and_then(|r| r.parse().ok()).unwrap_or(0);
                    if request_body(&mut r, &head, 0).is_err() {
                        return;
                    }
                    let h = format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n");
                    w.write_all(h.as_bytes()).is_ok()
                        && write_pattern(&mut w, seed.parse().unwrap_or(0), len, rate).is_ok()
                }
                ["up", rest @ ..] => {
                    let rate = rest.first().and_then(|r| r.parse().ok()).unwrap_or(0);
                    let Ok((n, digest)) = request_body(&mut r, &head, rate) else { return };
                    let body = format!("{n} {digest}");
                    let h = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                    w.write_all(h.as_bytes()).is_ok()
                }
                _ => {
                    let _ = request_body(&mut r, &head, 0);
                    w.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_ok()
                }
            };
            if !ok {
                return;
            }
        }
        let _ = w.shutdown(Shutdown::Write);
    })
}

/// A keep-alive HTTP client connection.
pub struct Client {
    pub w: TcpStream,
    pub r: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Client { w: s.try_clone().unwrap(), r: BufReader::with_capacity(64 * 1024, s) }
    }

    /// Downloads `len` patterned bytes read at `rate`; returns (status, size, digest).
    pub fn download(
        &mut self,
        len: u64,
        seed: u64,
        upstream_rate: u64,
        rate: u64,
    ) -> std::io::Result<(u16, u64, String)> {
        let req = format!("GET /down/{len}/{seed}/{upstream_rate} HTTP/1.1\r\nhost: test\r\n\r\n");
        self.w.write_all(req.as_bytes())?;
        let head = read_head(&mut self.r)?.ok_or(std::io::ErrorKind::UnexpectedEof)?;
        let (n, digest) = read_body(&mut self.r, &head, rate)?;
        Ok((head.status(), n, digest))
    }

    /// Uploads `len` patterned bytes at `rate`, read upstream at `upstream_rate`; returns
    /// the status and what the upstream says it got (`<size> <digest>`).
    pub fn upload(&mut self, len: u64, seed: u64, rate: u64, upstream_rate: u64) -> std::io::Result<(u16, String)> {
        let req = format!("POST /up/{upstream_rate} HTTP/1.1\r\nhost: test\r\ncontent-length: {len}\r\n\r\n");
        self.w.write_all(req.as_bytes())?;
        write_pattern(&mut self.w, seed, len, rate)?;
        let head = read_head(&mut self.r)?.ok_or(std::io::ErrorKind::UnexpectedEof)?;
        let mut body = vec![0u8; head.length().unwrap_or(0) as usize];
        self.r.read_exact(&mut body)?;
        Ok((head.status(), String::from_utf8_lossy(&body).into_owned()))
    }
}

/// A process's memory from /proc: (current RSS, peak RSS) in bytes.
pub fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sizes for the big cases: small by default, full with `WEIR_BIG_TESTS=1`.
pub fn big_sizes() -> (u64, u64) {
    if std::env::var_os("WEIR_BIG_TESTS").is_some_and(|v| v == "1") {
        (1024 * MIB, 256 * MIB)
    } else {
        (256 * MIB, 64 * MIB)
    }
}
