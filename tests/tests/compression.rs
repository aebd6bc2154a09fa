//! Compression through weir: `curl --compressed` against `compressHTTP`, `decompressHTTP`
//! behind `muxHTTP`, raw `compress`/`decompress`, a corrupt gzip body, and a large body
//! streamed through both with the memory of the process measured.
//!
//! `WEIR_BIG_TESTS=1` streams 100 MiB; the default run streams 16 MiB.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weir_tests::*;

const PAGE: &str = "<html>\n  <h1>The Quick Brown Fox Jumps Over the Lazy Dog</h1>\n  <h2>The Quick Brown Fox Jumps Over the Lazy Dog</h2>\n</html>\n";

#[test]
fn curl_compressed_gets_gzip_and_deflate_from_compress_http() {
    let (gzip, deflate, plain) = (free_port(), free_port(), free_port());
    let script = format!(
        "var page = {PAGE:?}\n\
         pipy.listen({gzip}, $=>$.demuxHTTP().to($=>$.replaceMessage(new Message(page)).compressHTTP('gzip')))\n\
         pipy.listen({deflate}, $=>$.demuxHTTP().to($=>$.replaceMessage(new Message(page)).compressHTTP('deflate')))\n\
         pipy.listen({plain}, $=>$.demuxHTTP().to($=>$\n\
           .replaceMessage(new Message({{ headers: {{ 'content-encoding': 'identity' }} }}, page))\n\
           .compressHTTP(() => 'gzip')\n\
         ))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    for (port, encoding) in [(gzip, "gzip"), (deflate, "deflate")] {
        let url = format!("http://127.0.0.1:{port}/");
        let (code, body, err) = curl(&["--compressed", &url, &url]);
        assert_eq!(code, 0, "curl: {err}");
        assert_eq!(body, PAGE.repeat(2), "{encoding}");
        let (_, head, _) = curl(&["-s", "-o", "/dev/null", "-D", "-", "--compressed", &url]);
        assert!(head.contains(&format!("content-encoding: {encoding}\r\n")), "{head}");
        let (_, raw, _) = curl(&["-s", "-H", "accept-encoding: gzip", &url]);
        assert_ne!(raw, PAGE, "the body on the wire is compressed");
    }
    // A message that has a content-encoding already is left alone.
    let (_, head, _) = curl(&["-s", "-D", "-", &format!("http://127.0.0.1:{plain}/")]);
    assert!(head.contains("content-encoding: identity\r\n") && head.ends_with(PAGE), "{head}");
}

#[test]
fn decompress_http_behind_mux_http_undoes_gzip_and_deflate() {
    let (gzip, deflate, proxy_gzip, proxy_deflate) = (free_port(), free_port(), free_port(), free_port());
    let script = format!(
        "var page = {PAGE:?}\n\
         pipy.listen({gzip}, $=>$.demuxHTTP().to($=>$.replaceMessage(new Message(page)).compressHTTP('gzip')))\n\
         pipy.listen({deflate}, $=>$.demuxHTTP().to($=>$.replaceMessage(new Message(page)).compressHTTP('deflate')))\n\
         pipy.listen({proxy_gzip}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{gzip}')).decompressHTTP()))\n\
         pipy.listen({proxy_deflate}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{deflate}')).decompressHTTP()))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    for port in [proxy_gzip, proxy_deflate] {
        let url = format!("http://127.0.0.1:{port}/");
        let (code, out, err) = curl(&["-D", "-", &url]);
        assert_eq!(code, 0, "curl: {err}");
        assert!(out.ends_with(PAGE), "{out}");
        assert!(!out.contains("content-encoding"), "the header is gone: {out}");
    }
}

#[test]
fn a_corrupt_gzip_body_ends_the_stream_with_an_error_event() {
    // An upstream that says gzip and sends garbage.
    let upstream = tcp_server(|s| {
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
            line.clear();
        }
        let body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03this is not deflate data at all";
        let head = format!("HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n", body.len());
        let _ = w.write_all(head.as_bytes());
        let _ = w.write_all(body);
    });
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
           .muxHTTP().to($=>$.connect('127.0.0.1:{upstream}'))\n\
           .decompressHTTP()\n\
           .handleStreamEnd(e => println('stream end', e.error))\n\
         ))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let _ = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), ["stream end ProtocolError"]);
    weir.wait_stderr("decompressHTTP: corrupt gzip body", Duration::from_secs(5));
}

#[test]
fn raw_compress_and_decompress_round_trip_and_report_corrupt_input() {
    let sink = counting_sink();
    let (front, back, bad) = (free_port(), free_port(), free_port());
    let script = format!(
        "pipy.listen({front}, $=>$.compress('gzip').connect('127.0.0.1:{back}'))\n\
         pipy.listen({back}, $=>$.decompress('gzip').connect('127.0.0.1:{sink}'))\n\
         pipy.listen({bad}, $=>$.decompress(() => 'inflate').handleStreamEnd(e => println('stream end', e.error)))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let (count, hash) = send_through(front, 3 << 20);
    assert_eq!((count, hash), expected(3 << 20));

    let mut s = TcpStream::connect(("127.0.0.1", bad)).unwrap();
    s.write_all(b"\x78\x9c definitely not zlib").unwrap();
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), ["stream end ProtocolError"]);
    weir.wait_stderr("decompress: corrupt input", Duration::from_secs(5));
}

/// A server that reads everything, then answers `<bytes> <hash>\n` and closes.
fn counting_sink() -> u16 {
    tcp_server(|mut s| {
        let mut buf = vec![0; 64 * 1024];
        let (mut n, mut h) = (0u64, FNV_START);
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    n += k as u64;
                    h = fnv(h, &buf[..k]);
                }
            }
        }
        let _ = s.write_all(format!("{n} {h:x}\n").as_bytes());
    })
}

/// Writes `len` bytes of [`text`] to `port`, half-closes, returns the sink's answer.
fn send_through(port: u16, len: usize) -> (u64, u64) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut text = Text::new();
        let mut left = len;
        while left > 0 {
            let piece = text.next(left.min(64 * 1024));
            w.write_all(&piece).unwrap();
            left -= piece.len();
        }
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    writer.join().unwrap();
    let (n, h) = answer.trim().split_once(' ').unwrap_or_else(|| panic!("sink answered {answer:?}"));
    (n.parse().unwrap(), u64::from_str_radix(h, 16).unwrap())
}

fn expected(len: usize) -> (u64, u64) {
    let mut text = Text::new();
    let (mut h, mut left) = (FNV_START, len);
    while left > 0 {
        let piece = text.next(left.min(64 * 1024));
        h = fnv(h, &piece);
        left -= piece.len();
    }
    (len as u64, h)
}

const FNV_START: u64 = 0xcbf29ce484222325;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Words of random letters: compresses about 2:1, like text does.
struct Text(u64);

impl Text {
    fn new() -> Text {
        Text(0x9e3779b97f4a7c15)
    }

    fn next(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                match self.0 % 8 {
                    0 => b' ',
                    r => b"etaoinshrdlu"[(self.0 >> 8) as usize % 12] + (r == 7) as u8,
                }
            })
            .collect()
    }
}

/// The peak resident memory of a process, in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_large_body_streams_through_compress_http_and_decompress_http_in_flat_memory() {
    let big = std::env::var("WEIR_BIG_TESTS").is_ok_and(|v| v == "1");
    let len: usize = if big { 100 << 20 } else { 16 << 20 };
    // An upstream sending `len` bytes of text as one response.
    let upstream = tcp_server(move |s| {
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
            line.clear();
        }
        let _ = w.write_all(format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n").as_bytes());
        let mut text = Text::new();
        let mut left = len;
        while left > 0 {
            let piece = text.next(left.min(64 * 1024));
            if w.write_all(&piece).is_err() {
                return;
            }
            left -= piece.len();
        }
        let _ = std::io::copy(&mut r, &mut std::io::sink());
    });
    let (zipper, unzipper) = (free_port(), free_port());
    let script = format!(
        "pipy.listen({zipper}, $=>$.demuxHTTP({{ bufferSize: '64k' }}).to($=>$\n\
           .muxHTTP().to($=>$.connect('127.0.0.1:{upstream}')).compressHTTP('gzip')))\n\
         pipy.listen({unzipper}, $=>$.demuxHTTP({{ bufferSize: '64k' }}).to($=>$\n\
           .muxHTTP().to($=>$.connect('127.0.0.1:{zipper}')).decompressHTTP()))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let before = vm_hwm_kib(weir.child.id());

    let started = Instant::now();
    let mut curl = Command::new("curl")
        .args(["-sS", "--max-time", "300", &format!("http://127.0.0.1:{unzipper}/")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = curl.stdout.take().unwrap();
    let mut buf = vec![0; 64 * 1024];
    let (mut n, mut h) = (0u64, FNV_START);
    loop {
        let k = out.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        n += k as u64;
        h = fnv(h, &buf[..k]);
    }
    assert!(curl.wait().unwrap().success());
    let elapsed = started.elapsed();
    assert_eq!((n, h), expected(len), "the body came through unchanged");

    let peak = vm_hwm_kib(weir.child.id());
    eprintln!(
        "{} MiB through compressHTTP + decompressHTTP in {:.1} s: VmHWM {} KiB before, {} KiB after",
        len >> 20,
        elapsed.as_secs_f64(),
        before,
        peak
    );
    assert!(peak < 64 * 1024, "VmHWM {peak} KiB: the body was held in memory");
}
