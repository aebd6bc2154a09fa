//! HTTP/2's server side frame by frame, from a raw socket: the exchanges and limits no
//! ordinary client shows (PING, padding, trailers, windows, CONTINUATION floods, the
//! concurrent stream limit).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use weir_tests::*;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 1;
const DATA: u8 = 0;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const WINDOW_UPDATE: u8 = 8;
const CONTINUATION: u8 = 9;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A header field as an HPACK literal never indexed (short names and values only).
fn field(name: &str, value: &str) -> Vec<u8> {
    [&[0x10, name.len() as u8][..], name.as_bytes(), &[value.len() as u8], value.as_bytes()].concat()
}

fn request_block(method: &str, path: &str) -> Vec<u8> {
    [field(":method", method), field(":scheme", "http"), field(":path", path), field(":authority", "h")].concat()
}

struct Conn {
    s: TcpStream,
    got: Vec<u8>,
}

impl Conn {
    fn open(port: u16, settings: &[u8]) -> Conn {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(&[PREFACE, &frame(SETTINGS, 0, 0, settings)].concat()).unwrap();
        Conn { s, got: Vec::new() }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// The next frame (type, flags, stream, payload), or `None` after `wait` without one or
    /// at the end.
    fn next(&mut self, wait: Duration) -> Option<(u8, u8, u32, Vec<u8>)> {
        let deadline = Instant::now() + wait;
        loop {
            if self.got.len() >= 9 {
                let len = (self.got[0] as usize) << 16 | (self.got[1] as usize) << 8 | self.got[2] as usize;
                if self.got.len() >= 9 + len {
                    let f: Vec<u8> = self.got.drain(..9 + len).collect();
                    let stream = u32::from_be_bytes(f[5..9].try_into().unwrap());
                    return Some((f[3], f[4], stream, f[9..].to_vec()));
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
            let mut buf = [0; 65536];
            match self.s.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Frames until one of `kind` on `stream` with `flags` set, that one included.
    fn until(&mut self, kind: u8, stream: u32, flags: u8) -> Vec<(u8, u8, u32, Vec<u8>)> {
        let mut all = Vec::new();
        while let Some(f) = self.next(Duration::from_secs(10)) {
            let found = f.0 == kind && f.2 == stream && f.1 & flags == flags;
            all.push(f);
            if found {
                return all;
            }
        }
        panic!("no frame {kind} on stream {stream}: got {:?}", all.iter().map(|f| (f.0, f.1, f.2)).collect::<Vec<_>>());
    }
}

fn start(script: &str) -> (Weir, u16) {
    let port = free_port();
    let mut weir = Weir::start(&script.replace("PORT", &port.to_string()), &[]);
    weir.wait_listening();
    (weir, port)
}

fn data_of(frames: &[(u8, u8, u32, Vec<u8>)], stream: u32) -> Vec<u8> {
    frames.iter().filter(|f| f.0 == DATA && f.2 == stream).flat_map(|f| f.3.clone()).collect()
}

#[test]
fn ping_is_acked_and_a_padded_body_with_trailers_reaches_the_handler() {
    let (_weir, port) = start(
        "pipy.listen(PORT, $=>$.serveHTTP(msg => new Message(`${msg.head.method} ${msg.head.path} ${msg.body.size}\\n`)))",
    );
    let mut c = Conn::open(port, &[]);
    c.send(&frame(PING, 0, 0, b"12345678"));
    let frames = c.until(PING, 0, 1);
    assert_eq!(frames.last().unwrap().3, b"12345678");
    assert!(frames.iter().any(|f| f.0 == SETTINGS && f.1 == 0), "the server's SETTINGS");
    // Padded HEADERS (3 bytes of padding), a padded DATA and the trailers.
    let block = request_block("POST", "/up");
    let headers = [&[3][..], &block, &[0; 3]].concat();
    c.send(&frame(HEADERS, 0x4 | 0x8, 1, &headers));
    c.send(&frame(DATA, 0x8, 1, &[&[2][..], b"hello", &[0, 0]].concat()));
    c.send(&frame(DATA, 0, 1, b" world"));
    c.send(&frame(HEADERS, 0x4 | 0x1, 1, &field("x-sum", "1")));
    let frames = c.until(DATA, 1, 1);
    assert_eq!(String::from_utf8(data_of(&frames, 1)).unwrap(), "POST /up 11\n");
}

#[test]
fn a_large_answer_waits_for_the_window_and_goes_in_frames_of_the_peers_size() {
    let (_weir, port) = start("pipy.listen(PORT, $=>$.serveHTTP(new Message('x'.repeat(100000))))");
    let mut c = Conn::open(port, &[]);
    c.send(&frame(HEADERS, 0x4 | 0x1, 1, &request_block("GET", "/")));
    // The default window is 65535 bytes: that much comes, and then nothing.
    let mut frames = Vec::new();
    while let Some(f) = c.next(Duration::from_millis(500)) {
        frames.push(f);
    }
    let first = data_of(&frames, 1).len();
    assert_eq!(first, 65535, "what came before a WINDOW_UPDATE");
    assert!(frames.iter().filter(|f| f.0 == DATA).all(|f| f.3.len() <= 16384));
    c.send(&frame(WINDOW_UPDATE, 0, 0, &100000u32.to_be_bytes()));
    c.send(&frame(WINDOW_UPDATE, 0, 1, &100000u32.to_be_bytes()));
    let rest = c.until(DATA, 1, 1);
    assert_eq!(first + data_of(&rest, 1).len(), 100000);
}

#[test]
fn a_continuation_flood_ends_the_connection() {
    let (weir, port) = start("pipy.listen(PORT, $=>$.serveHTTP(new Message('hello')))");
    let mut c = Conn::open(port, &[]);
    c.send(&frame(HEADERS, 0, 1, &request_block("GET", "/")));
    let filler = field("x-filler", &"y".repeat(100)).repeat(140);
    let mut writer = c.s.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 0..1000 {
            if writer.write_all(&frame(CONTINUATION, 0, 1, &filler)).is_err() {
                break;
            }
        }
    });
    let mut goaway = None;
    while let Some(f) = c.next(Duration::from_secs(10)) {
        if f.0 == GOAWAY {
            goaway = Some(u32::from_be_bytes(f.3[4..8].try_into().unwrap()));
        }
    }
    assert_eq!(goaway, Some(11), "GOAWAY with ENHANCE_YOUR_CALM");
    let peak = weir_tests::big::rss(weir.child.id()).1;
    assert!(peak < 64 << 20, "weir peak RSS {} MiB", peak >> 20);
}

#[test]
fn streams_over_the_advertised_limit_are_refused() {
    // Answers that never come: every stream stays open.
    let (_weir, port) = start("pipy.listen(PORT, $=>$.serveHTTP(() => new Promise(() => {})))");
    let mut c = Conn::open(port, &[]);
    let settings = c.until(SETTINGS, 0, 0);
    let ours = &settings.iter().find(|f| f.0 == SETTINGS && f.1 == 0).unwrap().3;
    let limit = ours.chunks(6).find(|s| s[..2] == [0, 3]).map(|s| u32::from_be_bytes(s[2..6].try_into().unwrap()));
    assert_eq!(limit, Some(128));
    for i in 0..129 {
        c.send(&frame(HEADERS, 0x4 | 0x1, 2 * i + 1, &request_block("GET", "/")));
    }
    let frames = c.until(RST_STREAM, 257, 0);
    assert_eq!(frames.last().unwrap().3, 7u32.to_be_bytes(), "REFUSED_STREAM");
    assert!(!frames.iter().any(|f| f.0 == RST_STREAM && f.2 != 257));
}
