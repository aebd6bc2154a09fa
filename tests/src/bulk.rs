//! Bulk streams for the byte-keeping tests: raw patterned streams in both directions at
//! once, readers that dawdle or slow down near the end, resets, and the proxies they go
//! through (a plain `connect`, and the transparent-proxy sample's logging forks).
//! Nothing is held in memory whole.

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::big::{Head, MIB, big_sizes, hash_exact, hex, pattern, pattern_digest, read_digest, rss};
use crate::{Weir, free_port, tcp_server};

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
            hash_exact(r, &mut h, n, &mut buf)?;
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

/// How long a slow reader dawdles (see [`Dawdle`]) before it reads at full speed.
pub const DAWDLE: Duration = Duration::from_secs(2);

/// Weir's peak RSS must stay under this whatever the size of the streams.
pub const PEAK_LIMIT: u64 = 64 * MIB;
/// The longest any single transfer may take before the test calls it a hang.
pub const WAIT: Duration = Duration::from_secs(60);

/// A plain TCP proxy: nothing looks at the bytes.
pub fn plain(port: u16, upstream: u16) -> String {
    format!("pipy.listen({port}, $=>$.connect('127.0.0.1:{upstream}'))\n")
}

/// The transparent-proxy sample's pipeline with a fixed target: forks decode the bytes on
/// their way past and print the request and response heads.
pub fn logging(port: u16, upstream: u16) -> String {
    format!(
        "pipy.listen({port}, $=>$\n\
           .fork().to($=>$.decodeHTTPRequest().handleMessageStart(\n\
             ({{ head }}) => println(head.method, head.path, head.headers.host)))\n\
           .connect('127.0.0.1:{upstream}')\n\
           .fork().to($=>$.decodeHTTPResponse().handleMessageStart(\n\
             ({{ head }}) => println(' ', head.status, head.statusText)))\n\
         )\n"
    )
}

/// The plain proxy behind a `link` to a named pipeline of a `pipy()` configuration: the
/// bytes cross a sub-pipeline both ways.
pub fn linked(port: u16, upstream: u16) -> String {
    format!("pipy()\n.listen({port}).link('up')\n.pipeline('up').connect('127.0.0.1:{upstream}')\n")
}

/// A script for weir listening on its first argument and connecting to its second.
pub type Script = fn(u16, u16) -> String;

/// Weir running `script` towards `upstream` on a free port, listening.
pub fn start(script: Script, upstream: u16, args: &[&str]) -> (Weir, u16) {
    let port = free_port();
    let mut weir = Weir::start(&script(port, upstream), args);
    weir.wait_listening();
    (weir, port)
}

/// A client connection to `port` whose reads and writes give up after [`WAIT`].
pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s
}

/// A big stream: 256 MiB, 1 GiB with `WEIR_BIG_TESTS=1`.
pub fn bulk() -> u64 {
    big_sizes().0
}

/// A smaller one: 64 MiB, 256 MiB with `WEIR_BIG_TESTS=1`.
pub fn part() -> u64 {
    big_sizes().1
}

/// Logs how long the case took and weir's peak RSS, and asserts the peak is under
/// [`PEAK_LIMIT`].
pub fn assert_peak(weir: &Weir, what: &str, started: Instant) {
    let peak = rss(weir.child.id()).1;
    eprintln!("{what}: {:.2?}, weir peak RSS {} MiB", started.elapsed(), peak / MIB);
    assert!(peak < PEAK_LIMIT, "{what}: weir peak RSS {} MiB", peak / MIB);
}

/// What a raw upstream connection read (size and SHA-256), or how it failed.
pub type Report = Result<(u64, String), String>;

/// A raw upstream running `f(connection, n)` on its `n`th connection (from 0); what `f`
/// returns for each goes to the receiver.
pub fn raw_upstream(
    f: impl Fn(TcpStream, usize) -> io::Result<(u64, String)> + Send + Sync + 'static,
) -> (u16, Receiver<Report>) {
    let (tx, rx) = channel();
    let n = AtomicUsize::new(0);
    let port = tcp_server(move |s| {
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.set_write_timeout(Some(WAIT)).unwrap();
        let i = n.fetch_add(1, Ordering::SeqCst);
        let _ = tx.send(f(s, i).map_err(|e| e.to_string()));
    });
    (port, rx)
}

/// What went wrong with `got`, read where `len` patterned bytes for `seed` were sent: a lost
/// tail or changed bytes.
pub fn diagnose(seed: u64, len: u64, got: &(u64, String)) -> String {
    if got.0 < len && pattern_digest(seed, got.0) == got.1 {
        format!("the first {} bytes arrived intact, the last {} did not arrive", got.0, len - got.0)
    } else {
        "bytes were changed or repeated".into()
    }
}

/// Asserts that `got` is all `len` patterned bytes for `seed`, saying what went wrong if not.
#[track_caller]
pub fn assert_whole(got: (u64, String), seed: u64, len: u64, what: &str) {
    if got != (len, pattern_digest(seed, len)) {
        panic!("{what}: got {} bytes with SHA-256 {}, not {len}: {}", got.0, got.1, diagnose(seed, len, &got));
    }
}

/// The next upstream connection's report; it must have ended without an error.
pub fn report(rx: &Receiver<Report>, what: &str) -> (u64, String) {
    rx.recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("{what}: no report from the upstream"))
        .unwrap_or_else(|e| panic!("{what}: the upstream failed: {e}"))
}
