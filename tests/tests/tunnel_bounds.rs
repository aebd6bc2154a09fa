//! Memory bounds where a client's bytes wait for something else: weir's peak RSS (VmHWM)
//! stays under [`PEAK_LIMIT`](weir_tests::bulk::PEAK_LIMIT).
//! - a 200 MiB POST (not a CONNECT) to `acceptHTTPTunnel`, whose handler gets whole
//!   requests: the body is held only up to `bufferLimit`;
//! - 200 MiB pushed by a client before its tunnel opens (`acceptSOCKS` deciding late, a
//!   SOCKS server or an HTTP proxy answering `connectSOCKS`/`connectHTTPTunnel` late): the
//!   client is paused, and every byte arrives once the tunnel opens.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::thread;
use std::time::{Duration, Instant};

use weir_tests::big::{MIB, pattern, read_digest, read_head};
use weir_tests::bulk::{Report, assert_peak, assert_whole, connect, raw_upstream, report};
use weir_tests::*;

/// Writes a POST of `len` bytes to `s` as fast as it goes; how many body bytes went out
/// before the peer stopped taking them.
fn post(s: &mut TcpStream, len: u64) -> u64 {
    if write!(s, "POST http://x/ HTTP/1.1\r\nhost: x\r\ncontent-length: {len}\r\n\r\n").is_err() {
        return 0;
    }
    let block = vec![b'x'; 256 * 1024];
    let mut sent = 0;
    while sent < len {
        let n = block.len().min((len - sent) as usize);
        if s.write_all(&block[..n]).is_err() {
            break;
        }
        sent += n as u64;
    }
    sent
}

#[test]
fn a_big_request_to_accept_http_tunnel_is_held_only_up_to_the_buffer_limit() {
    let (up, port) = (echo_server(), free_port());
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .acceptHTTPTunnel(req => new Message({{ status: 405 }}, `${{req.body?.size}}\\n`), {{ bufferLimit: '1m' }})\n\
           .to($=>$.connect('127.0.0.1:{up}')))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    // Up to the limit, the handler gets the whole body.
    let mut s = connect(port);
    post(&mut s, MIB);
    let mut r = std::io::BufReader::new(s);
    let head = read_head(&mut r).unwrap().expect("an answer");
    let mut body = String::new();
    r.take(head.length().unwrap()).read_to_string(&mut body).unwrap();
    assert_eq!((head.status(), body.as_str()), (405, "1048576\n"));
    let started = Instant::now();
    let len = 200 * MIB;
    let mut s = connect(port);
    let sent = post(&mut s, len);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    eprintln!("{sent} body bytes taken; answer: {:?}", String::from_utf8_lossy(&answer));
    assert!(sent < len && answer.is_empty(), "the connection is closed, unanswered");
    assert_peak(&weir, "a 200 MiB POST to acceptHTTPTunnel", started);
    weir.wait_stderr("over the limit of 1048576 bytes (bufferLimit)", Duration::from_secs(5));
}

/// What a client pushes before its tunnel opens.
const PUSHED: u64 = 200 * MIB;
const SEED: u64 = 19;

/// A client on `port` that writes `preamble`, then [`PUSHED`] patterned bytes, then ends
/// its side; the count of patterned bytes written so far, updated as they go.
fn pusher(port: u16, preamble: Vec<u8>) -> (Arc<AtomicU64>, thread::JoinHandle<()>) {
    let written = Arc::new(AtomicU64::new(0));
    let count = written.clone();
    let mut s = connect(port);
    let writer = thread::spawn(move || {
        s.write_all(&preamble).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut at = 0;
        while at < PUSHED {
            let n = buf.len().min((PUSHED - at) as usize);
            pattern(SEED, at, &mut buf[..n]);
            s.write_all(&buf[..n]).unwrap();
            at += n as u64;
            count.store(at, Ordering::SeqCst);
        }
        s.shutdown(Shutdown::Write).unwrap();
        // What weir sends back (handshake replies) is left unread until the end.
        let _ = std::io::copy(&mut s, &mut std::io::sink());
    });
    (written, writer)
}

/// Returns once the client wrote everything or has not got further for a second: when a
/// proxy that holds what it is sent without bound would have taken it all.
fn until_stalled(written: &AtomicU64) -> u64 {
    let (mut last, mut since) = (u64::MAX, Instant::now());
    loop {
        let now = written.load(Ordering::SeqCst);
        if now == PUSHED || (now == last && since.elapsed() > Duration::from_secs(1)) {
            return now;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The pushed bytes all arrived at the end of the tunnel, and weir's peak stayed low.
fn check_pushed(weir: &Weir, writer: thread::JoinHandle<()>, got: &Receiver<Report>, what: &str, started: Instant) {
    let got = report(got, what);
    writer.join().unwrap();
    assert_whole(got, SEED, PUSHED, what);
    assert_peak(weir, what, started);
}

/// A sink upstream: reads to the end, reports the size and digest.
fn sink() -> (u16, Receiver<Report>) {
    raw_upstream(|s, _| read_digest(&mut &s, None, 0))
}

/// A SOCKS5 CONNECT to 127.0.0.1:`port`, greeting included.
fn socks5_connect(port: u16) -> Vec<u8> {
    let mut v = vec![5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1];
    v.extend_from_slice(&port.to_be_bytes());
    v
}

#[test]
fn bytes_pushed_while_accept_socks_decides_pause_the_client() {
    let ((up, got), port) = (sink(), free_port());
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .acceptSOCKS(() => new Timeout(3).wait().then(() => true))\n\
           .to($=>$.connect('127.0.0.1:{up}')))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let started = Instant::now();
    let (written, writer) = pusher(port, socks5_connect(up));
    eprintln!("acceptSOCKS: {} bytes taken before the decision", until_stalled(&written));
    check_pushed(&weir, writer, &got, "200 MiB pushed while acceptSOCKS decides", started);
}

/// A server on a free port that reads a handshake with `read_request`, waits until `open`
/// says so, answers `answer` and then reports what it reads to the end.
fn late_server(
    read_request: fn(&mut TcpStream) -> std::io::Result<()>,
    answer: &'static [u8],
    open: Receiver<()>,
) -> (u16, Receiver<Report>) {
    let open = std::sync::Mutex::new(open);
    raw_upstream(move |mut s, _| {
        read_request(&mut s)?;
        open.lock().unwrap().recv().unwrap();
        s.write_all(answer)?;
        read_digest(&mut &s, None, 0)
    })
}

/// A SOCKS5 greeting and CONNECT request, read as `connectSOCKS` sends them.
fn socks5_request(s: &mut TcpStream) -> std::io::Result<()> {
    let mut greeting = [0u8; 3];
    s.read_exact(&mut greeting)?;
    s.write_all(&[5, 0])?;
    let mut head = [0u8; 5];
    s.read_exact(&mut head)?;
    let rest = match head[3] {
        1 => 4 + 2 - 1,
        4 => 16 + 2 - 1,
        _ => head[4] as usize + 2,
    };
    s.read_exact(&mut vec![0u8; rest])
}

/// An HTTP request head.
fn http_head(s: &mut TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b)?;
        head.push(b[0]);
    }
    Ok(())
}

fn pushed_before_a_late_answer(
    filter: &str,
    read_request: fn(&mut TcpStream) -> std::io::Result<()>,
    answer: &'static [u8],
) {
    let (release, open) = channel_pair();
    let ((server, got), port) = (late_server(read_request, answer, open), free_port());
    let script = format!("pipy.listen({port}, $=>$.{filter}.to($=>$.connect('127.0.0.1:{server}')))\n");
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let started = Instant::now();
    let (written, writer) = pusher(port, Vec::new());
    eprintln!("{filter}: {} bytes taken before the answer", until_stalled(&written));
    release.send(()).unwrap();
    check_pushed(&weir, writer, &got, &format!("200 MiB pushed before {filter} was answered"), started);
}

#[test]
fn bytes_pushed_before_the_socks_server_answers_connect_socks_pause_the_client() {
    pushed_before_a_late_answer("connectSOCKS('127.0.0.1:9')", socks5_request, &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn bytes_pushed_before_the_proxy_answers_connect_http_tunnel_pause_the_client() {
    pushed_before_a_late_answer("connectHTTPTunnel('127.0.0.1:9')", http_head, b"HTTP/1.1 200 OK\r\n\r\n");
}
