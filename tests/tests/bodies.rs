//! Filters that change a body through `demuxHTTP`/`muxHTTP`: the head that reaches the encoder
//! must describe the body that follows it. Each filter runs on bodies of 1 KiB, 8 MiB and
//! 100 MiB, sent upstream with a `content-length` and chunked; the client checks every byte
//! and that the response ended cleanly (curl exit 0, not 18 "transfer closed").

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};

use flate2::Compression;
use flate2::write::GzEncoder;
use weir_tests::*;

const SIZES: [usize; 3] = [1 << 10, 8 << 20, 100 << 20];

/// A body as sent plain, and its gzip.
type Bodies = Arc<(Vec<u8>, Vec<u8>)>;

/// Text-like bytes (about 2:1 under gzip), the same for the same length, and their gzip.
fn bodies(len: usize) -> Bodies {
    static MADE: OnceLock<std::sync::Mutex<HashMap<usize, Bodies>>> = OnceLock::new();
    let mut made = MADE.get_or_init(Default::default).lock().unwrap();
    made.entry(len)
        .or_insert_with(|| {
            let mut x = 0x9e3779b97f4a7c15u64;
            let plain: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    match x % 8 {
                        0 => b' ',
                        r => b"etaoinshrdlu"[(x >> 8) as usize % 12] + (r == 7) as u8,
                    }
                })
                .collect();
            let mut z = GzEncoder::new(Vec::new(), Compression::fast());
            z.write_all(&plain).unwrap();
            Arc::new((plain, z.finish().unwrap()))
        })
        .clone()
}

/// An upstream answering `GET /{plain|gzip}/{len}/{length|chunked}` with that body.
fn upstream() -> u16 {
    tcp_server(|s| {
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let path = line.split(' ').nth(1).unwrap_or_default().to_string();
            while r.read_line(&mut line).unwrap_or(0) > 0 && !line.ends_with("\r\n\r\n") {}
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let made = bodies(parts[1].parse().unwrap());
            let (body, encoding) =
                if parts[0] == "gzip" { (&made.1, "content-encoding: gzip\r\n") } else { (&made.0, "") };
            let framing = match parts[2] {
                "length" => format!("content-length: {}", body.len()),
                _ => "transfer-encoding: chunked".to_string(),
            };
            let head = format!("HTTP/1.1 200 OK\r\n{encoding}{framing}\r\n\r\n");
            let sent = w.write_all(head.as_bytes()).and_then(|_| match parts[2] {
                "length" => w.write_all(body),
                _ => body
                    .chunks(64 << 10)
                    .try_for_each(|c| {
                        write!(w, "{:x}\r\n", c.len()).and_then(|_| w.write_all(c)).and_then(|_| w.write_all(b"\r\n"))
                    })
                    .and_then(|_| w.write_all(b"0\r\n\r\n")),
            });
            if sent.is_err() {
                return;
            }
        }
    })
}

/// What curl got from `url`: its exit code and the body.
fn fetch(url: &str, extra: &[&str]) -> (i32, Vec<u8>) {
    let mut curl = Command::new("curl")
        .args(["-sS", "--max-time", "120"])
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut body = Vec::new();
    curl.stdout.take().unwrap().read_to_end(&mut body).unwrap();
    (curl.wait().unwrap().code().unwrap_or(-1), body)
}

/// A weir proxying `port`'s listener to the upstream through `filter`.
fn proxy(filter: &str) -> (Weir, u16) {
    let (up, port) = (upstream(), free_port());
    let script = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
           .muxHTTP().to($=>$.connect('127.0.0.1:{up}')){filter}))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    (weir, port)
}

/// Runs every size and framing of `kind` bodies through `filter`; `check` says whether the
/// client got the right body for the plain one.
fn each_body(filter: &str, kind: &str, curl_args: &[&str], check: impl Fn(&[u8], &[u8]) -> bool) {
    let (_weir, port) = proxy(filter);
    let mut failed = Vec::new();
    for len in SIZES {
        let plain = bodies(len);
        for framing in ["length", "chunked"] {
            let (code, got) = fetch(&format!("http://127.0.0.1:{port}/{kind}/{len}/{framing}"), curl_args);
            let good = code == 0 && check(&got, &plain.0);
            eprintln!("{filter} {len} bytes {framing}: curl exit {code}, {} bytes delivered", got.len());
            if !good {
                failed.push(format!("{len}/{framing}: exit {code}, {} bytes", got.len()));
            }
        }
    }
    assert!(failed.is_empty(), "{filter}: {failed:?}");
}

#[test]
fn decompress_http_delivers_whole_bodies() {
    each_body(".decompressHTTP()", "gzip", &[], |got, plain| got == plain);
}

#[test]
fn compress_http_delivers_whole_bodies() {
    each_body(".compressHTTP('gzip')", "plain", &["--compressed"], |got, plain| got == plain);
}

#[test]
fn replace_data_that_grows_the_body_delivers_it_whole() {
    // Every piece gets a '!' after it, which the text never has.
    let filter = ".replaceData(d => [d, new Data('!')])";
    each_body(filter, "plain", &[], |got, plain| {
        got.contains(&b'!') && got.iter().filter(|&&b| b != b'!').eq(plain.iter())
    });
}

#[test]
fn replace_message_that_grows_the_body_under_the_old_head_delivers_it_whole() {
    let filter = ".replaceMessage('200m', m => [new MessageStart(m.head), m.body, new Data('!'), new MessageEnd])";
    each_body(filter, "plain", &[], |got, plain| got.len() == plain.len() + 1 && &got[..plain.len()] == plain);
}

/// The first response head of a raw HTTP/1.0 exchange, and the bytes after it until close.
fn http_1_0(port: u16, path: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let end = all.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    (String::from_utf8_lossy(&all[..end]).into_owned(), all[end..].to_vec())
}

#[test]
fn an_http_1_0_client_gets_a_changed_body_delimited_by_the_close() {
    let (_weir, port) = proxy(".decompressHTTP()");
    for len in [1 << 10, 8 << 20] {
        let (head, body) = http_1_0(port, &format!("/gzip/{len}/length"));
        assert!(!head.to_ascii_lowercase().contains("transfer-encoding"), "no chunks for HTTP/1.0: {head}");
        assert_eq!(body.len(), len, "{head}");
        assert!(body == bodies(len).0, "the body came through unchanged");
    }
}
