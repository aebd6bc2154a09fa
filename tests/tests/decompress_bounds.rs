//! Memory bounds where a few bytes in make many bytes out: decompression bombs, 1 GiB of
//! zeros as gzip (1 MiB) and brotli (a few KiB), through `decompressHTTP()` and through
//! `decompress()` on a raw stream, to a client that reads slowly at first. weir's peak RSS
//! (VmHWM) stays under [`PEAK_LIMIT`] and every byte still arrives.

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use flate2::Compression;
use flate2::write::GzEncoder;
use weir_tests::big::{MIB, read_body, read_digest, read_head};
use weir_tests::bulk::{DAWDLE, Dawdle, PEAK_LIMIT, connect};
use weir_tests::*;

/// What the bombs inflate to.
const BOMB: usize = 1024 * MIB as usize;

/// The gzip and the brotli of [`BOMB`] zeros, made once.
fn bombs() -> Arc<(Vec<u8>, Vec<u8>)> {
    static MADE: OnceLock<Arc<(Vec<u8>, Vec<u8>)>> = OnceLock::new();
    MADE.get_or_init(|| {
        let zeros = vec![0u8; 16 * MIB as usize];
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        let mut br = brotli::CompressorWriter::new(Vec::new(), 1 << 16, 5, 22);
        for _ in 0..BOMB / zeros.len() {
            gz.write_all(&zeros).unwrap();
            br.write_all(&zeros).unwrap();
        }
        Arc::new((gz.finish().unwrap(), br.into_inner()))
    })
    .clone()
}

/// An upstream answering `GET /gzip` or `GET /br` with the bomb, content-length framed.
fn bomb_upstream() -> u16 {
    tcp_server(|s| {
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        while let Ok(Some(head)) = read_head(&mut r) {
            let made = bombs();
            let (encoding, body) = if head.line.contains("/gzip") { ("gzip", &made.0) } else { ("br", &made.1) };
            let h =
                format!("HTTP/1.1 200 OK\r\ncontent-encoding: {encoding}\r\ncontent-length: {}\r\n\r\n", body.len());
            if w.write_all(h.as_bytes()).and_then(|_| w.write_all(body)).is_err() {
                return;
            }
        }
    })
}

/// SHA-256 of [`BOMB`] zeros.
fn zeros_digest() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let zeros = vec![0u8; MIB as usize];
    (0..BOMB / zeros.len()).for_each(|_| h.update(&zeros));
    big::hex(&h.finalize())
}

/// A raw upstream that reads a line naming the bomb (`gzip` or `br`), sends it and closes.
fn raw_bomb_upstream() -> u16 {
    tcp_server(|s| {
        let mut w = s.try_clone().unwrap();
        let mut line = String::new();
        if BufReader::new(s).read_line(&mut line).is_ok() {
            let made = bombs();
            let _ = w.write_all(if line.trim() == "gzip" { &made.0 } else { &made.1 });
        }
    })
}

/// Runs `request` through a weir on `script(port)` for each bomb, reading the answer with
/// `read` after dawdling; the whole inflated bomb must arrive under [`PEAK_LIMIT`].
fn each_bomb(
    script: impl Fn(u16, &str) -> String,
    request: impl Fn(&str) -> String,
    read: impl Fn(&mut Dawdle<BufReader<std::net::TcpStream>>) -> (u64, String),
) {
    let expected = zeros_digest();
    bombs();
    let mut failed = Vec::new();
    // A weir each, so that each has its own peak.
    for encoding in ["gzip", "br"] {
        let port = free_port();
        let mut weir = Weir::start(&script(port, encoding), &[]);
        weir.wait_listening();
        let started = Instant::now();
        let mut s = connect(port);
        s.write_all(request(encoding).as_bytes()).unwrap();
        let mut r = Dawdle::new(BufReader::with_capacity(64 * 1024, s), DAWDLE);
        let (n, digest) = read(&mut r);
        let peak = big::rss(weir.child.id()).1;
        eprintln!("{encoding}: {n} bytes delivered in {:.2?}, weir peak RSS {} MiB", started.elapsed(), peak / MIB);
        if (n, &digest) != (BOMB as u64, &expected) || peak >= PEAK_LIMIT {
            failed.push(format!("{encoding}: {n} bytes, peak {} MiB", peak / MIB));
        }
    }
    assert!(failed.is_empty(), "the whole body, under {} MiB: {failed:?}", PEAK_LIMIT / MIB);
}

#[test]
fn decompression_bombs_inflate_at_the_pace_of_the_reader() {
    let up = bomb_upstream();
    each_bomb(
        |port, _| {
            format!(
                "pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
                   .muxHTTP().to($=>$.connect('127.0.0.1:{up}')).decompressHTTP()))\n"
            )
        },
        |encoding| format!("GET /{encoding} HTTP/1.1\r\nhost: x\r\n\r\n"),
        |r| {
            let head = read_head(r).unwrap().expect("a response");
            read_body(r, &head, 0).unwrap()
        },
    );
}

#[test]
fn decompress_inflates_a_raw_bomb_at_the_pace_of_the_reader() {
    let up = raw_bomb_upstream();
    each_bomb(
        |port, encoding| format!("pipy.listen({port}, $=>$.connect('127.0.0.1:{up}').decompress('{encoding}'))\n"),
        |encoding| format!("{encoding}\n"),
        |r| read_digest(r, None, 0).unwrap(),
    );
}
