//! Lose nothing, memory bounded: big bodies through every HTTP path arrive whole (SHA-256)
//! while the proxy's peak RSS stays small, slow peers pause the other side, and bytes
//! queued for an upstream that never came are released.
//!
//! Default sizes keep `cargo xtask test` fast; `WEIR_BIG_TESTS=1` runs 1 GiB / 256 MiB.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use weir_tests::big::*;
use weir_tests::*;

/// The proxy's peak RSS must stay under this whatever the body size.
const PEAK_LIMIT: u64 = 64 * MIB;

fn demux_mux(port: u16, upstream: u16) -> String {
    format!("pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{upstream}'))))\n")
}

fn decode_encode(port: u16, upstream: u16) -> String {
    format!(
        "pipy.listen({port}, $=>$\n\
           .decodeHTTPRequest().encodeHTTPRequest()\n\
           .connect('127.0.0.1:{upstream}')\n\
           .decodeHTTPResponse().encodeHTTPResponse()\n\
         )\n"
    )
}

fn start(script: &str) -> Weir {
    let mut weir = Weir::start(script, &[]);
    weir.wait_listening();
    weir
}

fn peak(weir: &Weir) -> u64 {
    rss(weir.child.id()).1
}

#[test]
fn keep_alive_posts_to_a_refused_upstream_are_all_answered() {
    let refused = free_port();
    let port = free_port();
    let weir = start(&demux_mux(port, refused));
    let mut c = Client::connect(port);
    c.w.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = vec![b'x'; 200 * 1000];
    for i in 0..30 {
        let head = format!("POST /{i} HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n", body.len());
        c.w.write_all(head.as_bytes()).unwrap();
        c.w.write_all(&body).unwrap();
        let head = read_head(&mut c.r).unwrap_or_else(|e| panic!("request {i}: no answer: {e}")).expect("an answer");
        assert_eq!(head.status(), 502, "request {i}: {}", head.line);
        read_body(&mut c.r, &head, 0).unwrap();
    }
    drop(weir);
}

/// Downloads `len` bytes through the proxy; asserts the digest and the peak.
fn download_through(script: impl Fn(u16, u16) -> String, len: u64) {
    let upstream = big_server();
    let port = free_port();
    let weir = start(&script(port, upstream));
    let t = Instant::now();
    let (status, n, digest) = Client::connect(port).download(len, 7, 0, 0).unwrap();
    assert_eq!((status, n), (200, len));
    assert_eq!(digest, pattern_digest(7, len), "the body arrived changed");
    let peak = peak(&weir);
    eprintln!("download {} MiB in {:?}, proxy peak RSS {} MiB", len / MIB, t.elapsed(), peak / MIB);
    assert!(peak < PEAK_LIMIT, "proxy peak RSS {} MiB for a {} MiB body", peak / MIB, len / MIB);
}

fn upload_through(script: impl Fn(u16, u16) -> String, len: u64) {
    let upstream = big_server();
    let port = free_port();
    let weir = start(&script(port, upstream));
    let t = Instant::now();
    let (status, got) = Client::connect(port).upload(len, 9, 0, 0).unwrap();
    assert_eq!(status, 200);
    assert_eq!(got, format!("{len} {}", pattern_digest(9, len)), "the upstream got something else");
    let peak = peak(&weir);
    eprintln!("upload {} MiB in {:?}, proxy peak RSS {} MiB", len / MIB, t.elapsed(), peak / MIB);
    assert!(peak < PEAK_LIMIT, "proxy peak RSS {} MiB for a {} MiB body", peak / MIB, len / MIB);
}

#[test]
fn big_download_through_demux_mux_streams() {
    download_through(demux_mux, big_sizes().0);
}

#[test]
fn big_upload_through_demux_mux_streams() {
    upload_through(demux_mux, big_sizes().1);
}

#[test]
fn big_download_through_decode_encode_streams() {
    download_through(decode_encode, big_sizes().0);
}

#[test]
fn big_upload_through_decode_encode_streams() {
    upload_through(decode_encode, big_sizes().1);
}

#[test]
fn big_upload_to_serve_http_with_a_fixed_answer_is_not_held() {
    let port = free_port();
    let weir = start(&format!("pipy.listen({port}, $=>$.serveHTTP(new Message('done')))\n"));
    let len = big_sizes().1;
    let mut c = Client::connect(port);
    let head = format!("POST /up HTTP/1.1\r\nhost: test\r\ncontent-length: {len}\r\n\r\n");
    c.w.write_all(head.as_bytes()).unwrap();
    write_pattern(&mut c.w, 3, len, 0).unwrap();
    let head = read_head(&mut c.r).unwrap().unwrap();
    assert_eq!(head.status(), 200);
    let peak = peak(&weir);
    assert!(peak < PEAK_LIMIT, "proxy peak RSS {} MiB for a {} MiB upload", peak / MIB, len / MIB);
}

#[test]
fn big_bodies_through_demux_and_a_request_encoder_stream() {
    // demuxHTTP answers from its sub-pipelines in order, without muxHTTP in between.
    let script = |port: u16, upstream: u16| {
        format!(
            "pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
               .encodeHTTPRequest().connect('127.0.0.1:{upstream}').decodeHTTPResponse()))\n"
        )
    };
    download_through(script, big_sizes().0 / 4);
    upload_through(script, big_sizes().1 / 4);
}

#[test]
fn big_download_through_a_logging_fork_streams() {
    // The transparent-proxy sample's shape: a fork decodes the bytes on their way past.
    let script = |port: u16, upstream: u16| {
        format!(
            "pipy.listen({port}, $=>$\n\
               .fork().to($=>$.decodeHTTPRequest().handleMessageStart(() => {{}}))\n\
               .connect('127.0.0.1:{upstream}')\n\
               .fork().to($=>$.decodeHTTPResponse().handleMessageStart(() => {{}}))\n\
             )\n"
        )
    };
    download_through(script, big_sizes().0 / 4);
    upload_through(script, big_sizes().1 / 4);
}

#[test]
fn pipelined_requests_behind_a_client_that_does_not_read_are_capped() {
    let upstream = big_server();
    let port = free_port();
    let weir = start(&demux_mux(port, upstream));
    warm_up(port);
    let (before, _) = rss(weir.child.id());
    let mut c = Client::connect(port);
    let (n, len) = (100u64, MIB);
    let writer = {
        let mut w = c.w.try_clone().unwrap();
        std::thread::spawn(move || {
            for i in 0..n {
                let req = format!("GET /down/{len}/{i} HTTP/1.1\r\nhost: test\r\n\r\n");
                if w.write_all(req.as_bytes()).is_err() {
                    return;
                }
            }
        })
    };
    // 100 MiB of answers are asked for; the client reads nothing for a while.
    std::thread::sleep(Duration::from_secs(2));
    let (_, peak) = rss(weir.child.id());
    for i in 0..n {
        let head = read_head(&mut c.r).unwrap().expect("an answer");
        assert_eq!(read_body(&mut c.r, &head, 0).unwrap(), (len, pattern_digest(i, len)), "answer {i}");
    }
    writer.join().unwrap();
    eprintln!("pipelined: RSS before {} MiB, peak while not reading {} MiB", before / MIB, peak / MIB);
    assert!(peak < before + 24 * MIB, "RSS grew from {} to {} MiB", before / MIB, peak / MIB);
}

#[test]
fn a_session_shared_between_clients_paces_the_client_writing_into_it() {
    // One session for everyone: the second client's upload goes into a connection the
    // first client's pipeline opened.
    let upstream = big_server();
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP(() => 'one').to($=>$.connect('127.0.0.1:{upstream}'))))\n"
    );
    let weir = start(&script);
    warm_up(port);
    let (before, _) = rss(weir.child.id());
    let len = 48 * MIB;
    let (status, got) = Client::connect(port).upload(len, 8, 0, 16 * MIB).unwrap();
    assert_eq!(status, 200);
    assert_eq!(got, format!("{len} {}", pattern_digest(8, len)));
    let (_, peak) = rss(weir.child.id());
    eprintln!("shared session: RSS before {} MiB, peak {} MiB", before / MIB, peak / MIB);
    assert!(peak < before + 16 * MIB, "RSS grew from {} to {} MiB", before / MIB, peak / MIB);
}

/// Baseline RSS after a first small exchange (Boa and the allocator warmed up).
fn warm_up(port: u16) {
    Client::connect(port).download(1000, 1, 0, 0).unwrap();
}

#[test]
fn a_slow_client_pauses_a_fast_upstream() {
    let upstream = big_server();
    let port = free_port();
    let weir = start(&demux_mux(port, upstream));
    warm_up(port);
    let (before, _) = rss(weir.child.id());
    let len = 48 * MIB;
    // The client reads at 16 MiB/s; the upstream writes as fast as it can.
    let (status, n, digest) = Client::connect(port).download(len, 5, 0, 16 * MIB).unwrap();
    assert_eq!((status, n), (200, len));
    assert_eq!(digest, pattern_digest(5, len));
    let (_, peak) = rss(weir.child.id());
    eprintln!("slow client: RSS before {} MiB, peak {} MiB", before / MIB, peak / MIB);
    assert!(peak < before + 16 * MIB, "RSS grew from {} to {} MiB behind a slow client", before / MIB, peak / MIB);
}

#[test]
fn a_slow_upstream_pauses_a_fast_client() {
    let upstream = big_server();
    let port = free_port();
    let weir = start(&demux_mux(port, upstream));
    warm_up(port);
    let (before, _) = rss(weir.child.id());
    let len = 48 * MIB;
    // The upstream reads at 16 MiB/s; the client writes as fast as it can.
    let (status, got) = Client::connect(port).upload(len, 6, 0, 16 * MIB).unwrap();
    assert_eq!(status, 200);
    assert_eq!(got, format!("{len} {}", pattern_digest(6, len)));
    let (_, peak) = rss(weir.child.id());
    eprintln!("slow upstream: RSS before {} MiB, peak {} MiB", before / MIB, peak / MIB);
    assert!(
        peak < before + 16 * MIB,
        "RSS grew from {} to {} MiB in front of a slow upstream",
        before / MIB,
        peak / MIB
    );
}

#[test]
fn an_idle_timeout_frees_a_client_stuck_behind_a_stalled_upstream() {
    // The upstream accepts and never reads: the client's upload fills the queue, the
    // reader pauses, and only the idle timeout can end it.
    let stalled = tcp_server(|s| {
        std::thread::sleep(Duration::from_secs(30));
        drop(s);
    });
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, {{ idleTimeout: 2 }}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{stalled}'))))\n"
    );
    let _weir = start(&script);
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let t = Instant::now();
    let len = 64 * MIB;
    let head = format!("POST /up HTTP/1.1\r\nhost: test\r\ncontent-length: {len}\r\n\r\n");
    c.write_all(head.as_bytes()).unwrap();
    let _ = write_pattern(&mut c, 1, len, 0);
    let mut rest = Vec::new();
    let _ = BufReader::new(&c).read_to_end(&mut rest);
    assert!(t.elapsed() < Duration::from_secs(15), "the connection was not freed ({:?})", t.elapsed());
}

#[test]
fn a_burst_of_pipelined_requests_is_answered_in_order_over_few_upstream_connections() {
    // One write of 2,000 requests: the cap must hold what is decoded, not only what is read.
    let upstream = HttpServer::start(|_, path| ("200 OK".into(), vec![], path.into()));
    let port = free_port();
    let _weir = start(&demux_mux(port, upstream.port));
    let mut c = Client::connect(port);
    c.w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let n = 2000;
    let burst: String = (0..n).map(|i| format!("GET /{i} HTTP/1.1\r\nhost: test\r\n\r\n")).collect();
    c.w.write_all(burst.as_bytes()).unwrap();
    for i in 0..n {
        let head = read_head(&mut c.r).unwrap().expect("an answer");
        let mut body = vec![0; head.length().unwrap() as usize];
        c.r.read_exact(&mut body).unwrap();
        assert_eq!(String::from_utf8_lossy(&body), format!("/{i}"), "answer {i} out of order");
    }
    let connections = upstream.connections.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!("{n} pipelined requests over {connections} upstream connections");
    assert!(connections <= 16, "{n} pipelined requests opened {connections} upstream connections");
}
