//! Bulk paths keep every byte. Big streams both ways at once through a plain `connect` proxy
//! and through the transparent-proxy sample's shape (forks that decode the bytes on their
//! way past and print the heads), raw and HTTP (content-length bodies, chunked bodies with
//! chunks from 1 byte to over 1 MiB), half-closes either way, slow readers on either side,
//! five pipelined requests, resets mid-stream, two threads, and the eBPF sample itself.
//! They pin down what the copying data path does, for the splice path to keep.
//!
//! Default sizes are 256 MiB and 64 MiB; `WEIR_BIG_TESTS=1` moves 1 GiB and 256 MiB.

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use weir_tests::big::*;
use weir_tests::bulk::*;
use weir_tests::cgroup::TestCgroup;
use weir_tests::*;

/// Weir's peak RSS must stay under this whatever the size of the streams.
const PEAK_LIMIT: u64 = 64 * MIB;
/// The longest any single transfer may take before the test calls it a hang.
const WAIT: Duration = Duration::from_secs(60);

/// A plain TCP proxy: nothing looks at the bytes.
fn plain(port: u16, upstream: u16) -> String {
    format!("pipy.listen({port}, $=>$.connect('127.0.0.1:{upstream}'))\n")
}

/// The transparent-proxy sample's pipeline with a fixed target: forks decode the bytes on
/// their way past and print the request and response heads.
fn logging(port: u16, upstream: u16) -> String {
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

type Script = fn(u16, u16) -> String;

fn start(script: Script, upstream: u16, args: &[&str]) -> (Weir, u16) {
    let port = free_port();
    let mut weir = Weir::start(&script(port, upstream), args);
    weir.wait_listening();
    (weir, port)
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s
}

/// A big stream: 256 MiB, 1 GiB with `WEIR_BIG_TESTS=1`.
fn bulk() -> u64 {
    big_sizes().0
}

/// A smaller one: 64 MiB, 256 MiB with `WEIR_BIG_TESTS=1`.
fn part() -> u64 {
    big_sizes().1
}

fn assert_peak(weir: &Weir, what: &str, started: Instant) {
    let peak = rss(weir.child.id()).1;
    eprintln!("{what}: {:.2?}, weir peak RSS {} MiB", started.elapsed(), peak / MIB);
    assert!(peak < PEAK_LIMIT, "{what}: weir peak RSS {} MiB", peak / MIB);
}

type Report = Result<(u64, String), String>;

/// A raw upstream running `f(connection, n)` on its `n`th connection (from 0); what `f`
/// returns for each goes to the receiver.
fn raw_upstream(
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
fn diagnose(seed: u64, len: u64, got: &(u64, String)) -> String {
    if got.0 < len && pattern_digest(seed, got.0) == got.1 {
        format!("the first {} bytes arrived intact, the last {} did not arrive", got.0, len - got.0)
    } else {
        "bytes were changed or repeated".into()
    }
}

/// Asserts that `got` is all `len` patterned bytes for `seed`, saying what went wrong if not.
#[track_caller]
fn assert_whole(got: (u64, String), seed: u64, len: u64, what: &str) {
    if got != (len, pattern_digest(seed, len)) {
        panic!("{what}: got {} bytes with SHA-256 {}, not {len}: {}", got.0, got.1, diagnose(seed, len, &got));
    }
}

fn report(rx: &Receiver<Report>, what: &str) -> (u64, String) {
    rx.recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("{what}: no report from the upstream"))
        .unwrap_or_else(|e| panic!("{what}: the upstream failed: {e}"))
}

/// What [`logging`] prints for an exchange's request and its answer.
fn request_line(x: &Exchange) -> String {
    format!("{} {} bulk", x.method(), x.path())
}

fn status_line(x: &Exchange) -> String {
    format!("  200 OK {}", x.id)
}

/// All that [`logging`] prints for an exchange, in order.
fn printed(x: &Exchange) -> Vec<String> {
    let mut lines = vec![request_line(x)];
    if x.expect_continue {
        lines.push("  100 Continue".into());
    }
    lines.push(status_line(x));
    lines
}

/// The exchange a printed line is about: the first path segment of a request line, the
/// status text's number for a status line.
fn line_id(line: &str) -> Option<u64> {
    match line.strip_prefix("  200 OK ") {
        Some(id) => id.parse().ok(),
        None => line.split_whitespace().nth(1)?.split('/').nth(1)?.parse().ok(),
    }
}

// 1. Big streams both ways at once.

/// `bulk()` bytes each way at once on one raw connection.
fn both_ways(script: Script, what: &str) -> Weir {
    let len = bulk();
    let (up, reports) = raw_upstream(move |s, _| exchange_raw(&s, 2, len));
    let (weir, port) = start(script, up, &[]);
    let t = Instant::now();
    let got = exchange_raw(&connect(port), 1, len).unwrap();
    assert_whole(got, 2, len, &format!("{what}: what the client got"));
    assert_whole(report(&reports, what), 1, len, &format!("{what}: what the upstream got"));
    assert_peak(&weir, &format!("{what}: {} MiB each way", len / MIB), t);
    weir
}

#[test]
fn raw_streams_both_ways_through_connect_keep_every_byte() {
    both_ways(plain, "connect");
}

#[test]
fn raw_streams_both_ways_through_the_logging_forks_keep_every_byte_and_print_no_head() {
    let weir = both_ways(logging, "logging forks");
    thread::sleep(Duration::from_millis(200));
    assert_eq!(weir.stdout(), Vec::<String>::new(), "heads printed for a stream that is not HTTP");
}

#[test]
fn http_bodies_through_the_logging_forks_keep_every_byte_and_heads_print_in_order() {
    let server = BulkHttpServer::start();
    let (weir, port) = start(logging, server.port, &[]);
    let (big, part) = (bulk(), part());
    let xs = [
        Exchange::new(1, Body::None, big, false),
        Exchange::new(2, Body::None, big, true),
        Exchange::new(3, Body::Length(part), 0, false),
        Exchange::new(4, Body::Chunked(part), 1000, true),
        Exchange::new(5, Body::Length(part), part, true).both(),
        Exchange::new(6, Body::Chunked(part), part, false).both(),
        Exchange::new(7, Body::Chunked(5), 3, true),
        Exchange::new(8, Body::Length(part), part, true).expect_continue(),
        // The last: its answer ends with the connection.
        Exchange::new(9, Body::None, part, false).eof_answer(),
    ];
    let t = Instant::now();
    let s = connect(port);
    let mut r = BufReader::with_capacity(64 * 1024, s.try_clone().unwrap());
    for x in &xs {
        x.run(&s, &mut r);
        assert_eq!(server.got(x.id), Some(x.expected_got()), "exchange {}: what the server got", x.id);
    }
    let expected: Vec<String> = xs.iter().flat_map(printed).collect();
    assert_eq!(weir.wait_stdout_lines(expected.len(), Duration::from_secs(5)), expected);
    assert_peak(&weir, "http through the logging forks", t);
}

/// A request that turns the connection into a tunnel, answered by `answer`; then `part()`
/// raw bytes each way at once. Returns the lines weir printed.
fn tunnel(request: &'static str, answer: &'static str, what: &str) -> Vec<String> {
    let len = part();
    let (up, reports) = raw_upstream(move |s, _| {
        let mut r = BufReader::new(s.try_clone()?);
        let head = read_head(&mut r)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        assert_eq!(Some(head.line.as_str()), request.lines().next());
        (&s).write_all(answer.as_bytes())?;
        let mut w = s.try_clone()?;
        let writer = thread::spawn(move || {
            write_pattern_at(&mut w, 12, 0, len)?;
            w.shutdown(Shutdown::Write)
        });
        let got = read_digest(&mut r, None, 0);
        writer.join().unwrap()?;
        got
    });
    let (weir, port) = start(logging, up, &[]);
    let t = Instant::now();
    let s = connect(port);
    (&s).write_all(request.as_bytes()).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let head = read_head(&mut r).unwrap().expect("the answer");
    assert_eq!(Some(head.line.as_str()), answer.lines().next());
    let mut w = s.try_clone().unwrap();
    let writer = thread::spawn(move || {
        write_pattern_at(&mut w, 11, 0, len)?;
        w.shutdown(Shutdown::Write)
    });
    assert_whole(read_digest(&mut r, None, 0).unwrap(), 12, len, &format!("{what}: what the client got"));
    writer.join().unwrap().unwrap();
    assert_whole(report(&reports, what), 11, len, &format!("{what}: what the upstream got"));
    assert_peak(&weir, what, t);
    thread::sleep(Duration::from_millis(200));
    weir.stdout()
}

#[test]
fn an_upgraded_connection_through_the_logging_forks_keeps_every_byte() {
    let out = tunnel(
        "GET /tunnel HTTP/1.1\r\nhost: bulk\r\nupgrade: bulk\r\nconnection: upgrade\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: bulk\r\nconnection: upgrade\r\n\r\n",
        "upgrade",
    );
    assert_eq!(out, ["GET /tunnel bulk", "  101 Switching Protocols"], "heads printed, none inside the tunnel");
}

#[test]
fn a_connect_tunnel_through_the_logging_forks_keeps_every_byte() {
    let out = tunnel(
        "CONNECT bulk.test:443 HTTP/1.1\r\nhost: bulk.test:443\r\n\r\n",
        "HTTP/1.1 200 Connection Established\r\n\r\n",
        "CONNECT",
    );
    assert_eq!(
        out,
        ["CONNECT bulk.test:443 bulk.test:443", "  200 Connection Established"],
        "heads printed, none inside the tunnel"
    );
}

// 2. Half-closes.

/// How long a slow reader dawdles (see [`Dawdle`]) before it reads at full speed.
const DAWDLE: Duration = Duration::from_secs(2);

/// How a reader in the half-close cases reads `len` bytes: all at full speed, or when
/// `slow` the last 8 MiB at 4 MiB/s, so that the proxy still holds bytes for it when the
/// other side's end arrives.
fn reader(s: &TcpStream, len: u64, slow: bool) -> SlowEnd<&TcpStream> {
    if slow { SlowEnd::new(s, len.saturating_sub(8 * MIB), 4 * MIB) } else { SlowEnd::new(s, u64::MAX, 1) }
}

/// The client sends everything and half-closes; the upstream answers only after reading
/// that end, and the whole answer still arrives, also at a client that slows down near the
/// end.
fn client_half_closes_first(script: Script, slow_client: bool, what: &str) {
    let len = part();
    let (up, reports) = raw_upstream(move |s, _| {
        let got = read_digest(&mut &s, None, 0)?;
        write_pattern_at(&mut &s, 4, 0, len)?;
        s.shutdown(Shutdown::Write)?;
        Ok(got)
    });
    let (weir, port) = start(script, up, &[]);
    let t = Instant::now();
    let s = connect(port);
    write_pattern_at(&mut &s, 3, 0, len).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let got = read_digest(&mut reader(&s, len, slow_client), None, 0).unwrap();
    assert_whole(got, 4, len, &format!("{what}: the answer after the client's half-close"));
    assert_whole(report(&reports, what), 3, len, &format!("{what}: what the upstream got"));
    assert_peak(&weir, what, t);
}

/// The upstream sends everything and half-closes first; the client reads to that end and
/// only then sends its own bytes, which all arrive, also at an upstream that slows down
/// near the end.
fn upstream_half_closes_first(script: Script, slow_upstream: bool, what: &str) {
    let len = part();
    let (up, reports) = raw_upstream(move |s, _| {
        write_pattern_at(&mut &s, 6, 0, len)?;
        s.shutdown(Shutdown::Write)?;
        read_digest(&mut reader(&s, len, slow_upstream), None, 0)
    });
    let (weir, port) = start(script, up, &[]);
    let t = Instant::now();
    let s = connect(port);
    let got = read_digest(&mut &s, None, 0).unwrap();
    assert_whole(got, 6, len, &format!("{what}: what the client got before the upstream's half-close"));
    write_pattern_at(&mut &s, 5, 0, len).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_whole(report(&reports, what), 5, len, &format!("{what}: what the upstream got after its half-close"));
    assert_peak(&weir, what, t);
}

#[test]
fn a_client_half_close_through_connect_still_gets_the_whole_answer() {
    client_half_closes_first(plain, false, "client half-close, connect");
}

#[test]
fn a_client_half_close_through_the_logging_forks_still_gets_the_whole_answer() {
    client_half_closes_first(logging, false, "client half-close, logging forks");
}

#[test]
fn a_slow_client_after_its_half_close_through_connect_still_gets_the_whole_answer() {
    client_half_closes_first(plain, true, "client half-close, slow client, connect");
}

#[test]
fn a_slow_client_after_its_half_close_through_the_logging_forks_still_gets_the_whole_answer() {
    client_half_closes_first(logging, true, "client half-close, slow client, logging forks");
}

#[test]
fn after_an_upstream_half_close_through_connect_the_client_keeps_sending() {
    upstream_half_closes_first(plain, false, "upstream half-close, connect");
}

#[test]
fn after_an_upstream_half_close_through_the_logging_forks_the_client_keeps_sending() {
    upstream_half_closes_first(logging, false, "upstream half-close, logging forks");
}

#[test]
fn after_its_half_close_a_slow_upstream_through_connect_gets_all_the_client_sends() {
    upstream_half_closes_first(plain, true, "upstream half-close, slow upstream, connect");
}

#[test]
fn after_its_half_close_a_slow_upstream_through_the_logging_forks_gets_all_the_client_sends() {
    upstream_half_closes_first(logging, true, "upstream half-close, slow upstream, logging forks");
}

// 3. Slow readers.

/// The client reads slowly at first while the upstream writes `bulk()` bytes as fast as it
/// can.
fn slow_client(script: Script, what: &str) {
    let len = bulk();
    let (up, reports) = raw_upstream(move |s, _| {
        write_pattern_at(&mut &s, 8, 0, len)?;
        s.shutdown(Shutdown::Write)?;
        read_digest(&mut &s, None, 0)
    });
    let (weir, port) = start(script, up, &[]);
    let t = Instant::now();
    let s = connect(port);
    let got = read_digest(&mut Dawdle::new(BufReader::new(&s), DAWDLE), None, 0).unwrap();
    assert_whole(got, 8, len, &format!("{what}: what the slow client got"));
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(report(&reports, what), (0, pattern_digest(0, 0)));
    assert_peak(&weir, what, t);
}

/// The upstream reads slowly at first while the client writes `bulk()` bytes as fast as it
/// can.
fn slow_upstream(script: Script, what: &str) {
    let len = bulk();
    let (up, reports) = raw_upstream(move |s, _| {
        let got = read_digest(&mut Dawdle::new(BufReader::new(&s), DAWDLE), None, 0)?;
        s.shutdown(Shutdown::Write)?;
        Ok(got)
    });
    let (weir, port) = start(script, up, &[]);
    let t = Instant::now();
    let s = connect(port);
    write_pattern_at(&mut &s, 9, 0, len).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_digest(&mut &s, None, 0).unwrap().0, 0);
    assert_whole(report(&reports, what), 9, len, &format!("{what}: what the slow upstream got"));
    assert_peak(&weir, what, t);
}

#[test]
fn a_slow_client_through_connect_gets_every_byte_in_bounded_memory() {
    slow_client(plain, "slow client, connect");
}

#[test]
fn a_slow_client_through_the_logging_forks_gets_every_byte_in_bounded_memory() {
    slow_client(logging, "slow client, logging forks");
}

#[test]
fn a_slow_upstream_through_connect_gets_every_byte_in_bounded_memory() {
    slow_upstream(plain, "slow upstream, connect");
}

#[test]
fn a_slow_upstream_through_the_logging_forks_gets_every_byte_in_bounded_memory() {
    slow_upstream(logging, "slow upstream, logging forks");
}

#[test]
fn slow_readers_of_http_bodies_through_the_logging_forks_get_every_byte_in_bounded_memory() {
    let server = BulkHttpServer::start();
    let (weir, port) = start(logging, server.port, &[]);
    let t = Instant::now();
    let s = connect(port);
    let mut r = BufReader::with_capacity(64 * 1024, s.try_clone().unwrap());
    // A chunked answer to a client that reads slowly at first.
    let down = Exchange::new(1, Body::None, bulk(), true);
    down.write_request(&mut &s).unwrap();
    down.check_response(&mut Dawdle::new(&mut r, DAWDLE));
    // A content-length upload to an upstream that reads slowly at first.
    let up = Exchange::new(2, Body::Length(bulk()), 10, false).slow_upstream();
    up.run(&s, &mut r);
    let expected = [request_line(&down), status_line(&down), request_line(&up), status_line(&up)];
    assert_eq!(weir.wait_stdout_lines(4, Duration::from_secs(5)), expected);
    assert_peak(&weir, "slow readers of http bodies", t);
}

// 4. Pipelining.

#[test]
fn five_pipelined_requests_with_bodies_are_answered_and_logged_in_order() {
    let server = BulkHttpServer::start();
    let (weir, port) = start(logging, server.port, &[]);
    let p = part();
    let xs = [
        Exchange::new(1, Body::Length(100), 10, false),
        Exchange::new(2, Body::Chunked(p / 4), 3 * MIB, true),
        Exchange::new(3, Body::Length(p / 2), 0, false),
        Exchange::new(4, Body::Chunked(12), MIB + 5, true),
        Exchange::new(5, Body::Length(p), p, false),
    ];
    let mut all = Vec::new();
    for x in &xs {
        x.write_request(&mut all).unwrap();
    }
    let t = Instant::now();
    let s = connect(port);
    let mut w = s.try_clone().unwrap();
    // One write for all five: the proxy gets them back to back.
    let writer = thread::spawn(move || w.write_all(&all));
    let mut r = BufReader::with_capacity(64 * 1024, s.try_clone().unwrap());
    for x in &xs {
        x.check_response(&mut r);
    }
    writer.join().unwrap().unwrap();
    let out = weir.wait_stdout_lines(10, Duration::from_secs(5));
    let (statuses, requests): (Vec<String>, Vec<String>) = out.iter().cloned().partition(|l| l.starts_with("  "));
    assert_eq!(requests, xs.iter().map(request_line).collect::<Vec<_>>(), "request heads printed: {out:#?}");
    assert_eq!(statuses, xs.iter().map(status_line).collect::<Vec<_>>(), "response heads printed: {out:#?}");
    for x in &xs {
        let at = |l: String| out.iter().position(|o| *o == l);
        assert!(at(request_line(x)) < at(status_line(x)), "answer {} printed before its request: {out:#?}", x.id);
    }
    assert_peak(&weir, "five pipelined requests", t);
}

// 5. Resets.

/// Waits for the report of a connection that the other side reset: it must end (reading to
/// its end and writing all it had, or failing) within 20 s.
fn await_end(rx: &Receiver<Report>, what: &str) -> Report {
    let t = Instant::now();
    let ended = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} did not end within 20 s of the other side's reset"));
    eprintln!("{what} ended {:?} after the reset: {ended:?}", t.elapsed());
    ended
}

/// After a reset, a new connection through the same weir carries 1 MiB each way.
fn still_serves(port: u16, what: &str) {
    let got = exchange_raw(&connect(port), 1, MIB).unwrap();
    assert_eq!(got, (MIB, pattern_digest(2, MIB)), "{what}: a new connection after the reset");
}

/// The client resets its connection in the middle of `bulk()` bytes each way: the upstream
/// connection ends too.
fn client_resets(script: Script, what: &str) {
    let (up, reports) = raw_upstream(move |s, n| exchange_raw(&s, 2, if n == 0 { bulk() } else { MIB }));
    let (weir, port) = start(script, up, &[]);
    let s = connect(port);
    write_pattern_at(&mut &s, 1, 0, 16 * MIB).unwrap();
    reset(s);
    if let Ok((n, _)) = await_end(&reports, &format!("{what}: the upstream connection")) {
        assert!(n <= 16 * MIB, "{what}: the upstream read {n} bytes");
    }
    still_serves(port, what);
    assert_eq!(report(&reports, what), (MIB, pattern_digest(1, MIB)));
    drop(weir);
}

/// The upstream resets its connection in the middle of `bulk()` bytes each way: the client
/// connection ends too. With `paused`, the client reads nothing until after the reset (so
/// the proxy holds bytes for it and is not reading the upstream), then reads to the end.
fn upstream_resets(script: Script, paused: bool, what: &str) {
    let (up, reports) = raw_upstream(move |s, n| {
        if n > 0 {
            return exchange_raw(&s, 2, MIB);
        }
        if paused {
            // Until every buffer on the way to the client is full.
            s.set_write_timeout(Some(Duration::from_millis(500)))?;
            let _ = write_pattern_at(&mut &s, 2, 0, bulk());
        } else {
            write_pattern_at(&mut &s, 2, 0, 16 * MIB)?;
        }
        reset(s);
        Ok((0, String::new()))
    });
    let (weir, port) = start(script, up, &[]);
    let s = connect(port);
    let (tx, rx) = channel();
    if paused {
        let mut w = s.try_clone().unwrap();
        let writer = thread::spawn(move || {
            write_pattern_at(&mut w, 1, 0, bulk())?;
            w.shutdown(Shutdown::Write)
        });
        report(&reports, what);
        thread::sleep(Duration::from_millis(200));
        thread::spawn(move || {
            let got = read_digest(&mut &s, None, 0);
            let wrote = writer.join().unwrap();
            let _ = tx.send(wrote.and(got).map_err(|e| e.to_string()));
        });
    } else {
        thread::spawn(move || tx.send(exchange_raw(&s, 1, bulk()).map_err(|e| e.to_string())));
        report(&reports, what);
    }
    if let Ok((n, digest)) = await_end(&rx, &format!("{what}: the client connection")) {
        assert_eq!(digest, pattern_digest(2, n), "{what}: the {n} bytes the client got before the end");
    }
    still_serves(port, what);
    assert_eq!(report(&reports, what), (MIB, pattern_digest(1, MIB)));
    drop(weir);
}

#[test]
fn a_client_reset_mid_stream_through_connect_ends_the_upstream_and_weir_serves_on() {
    client_resets(plain, "client reset, connect");
}

#[test]
fn a_client_reset_mid_stream_through_the_logging_forks_ends_the_upstream_and_weir_serves_on() {
    client_resets(logging, "client reset, logging forks");
}

#[test]
fn an_upstream_reset_mid_stream_through_connect_ends_the_client_and_weir_serves_on() {
    upstream_resets(plain, false, "upstream reset, connect");
}

#[test]
fn an_upstream_reset_mid_stream_through_connect_ends_a_client_that_was_not_reading() {
    upstream_resets(plain, true, "upstream reset, paused client, connect");
}

#[test]
fn an_upstream_reset_mid_stream_through_the_logging_forks_ends_the_client_and_weir_serves_on() {
    upstream_resets(logging, false, "upstream reset, logging forks");
}

#[test]
fn an_upstream_reset_mid_stream_through_the_logging_forks_ends_a_client_that_was_not_reading() {
    upstream_resets(logging, true, "upstream reset, paused client, logging forks");
}

#[test]
fn a_client_reset_mid_body_through_the_logging_forks_ends_the_upstream_and_weir_serves_on() {
    let server = BulkHttpServer::start();
    let (weir, port) = start(logging, server.port, &[]);
    let s = connect(port);
    let mut r = BufReader::with_capacity(64 * 1024, s.try_clone().unwrap());
    let x = Exchange::new(1, Body::None, bulk(), true);
    x.write_request(&mut &s).unwrap();
    let head = read_head(&mut r).unwrap().unwrap();
    assert_eq!(head.line, "HTTP/1.1 200 OK 1");
    let mut buf = vec![0u8; MIB as usize];
    r.read_exact(&mut buf).unwrap();
    drop(r);
    reset(s);
    let t = Instant::now();
    while server.open.load(Ordering::SeqCst) > 0 {
        assert!(t.elapsed() < Duration::from_secs(20), "the upstream connection did not end within 20 s of the reset");
        thread::sleep(Duration::from_millis(10));
    }
    eprintln!("client reset mid-body: the upstream connection ended after {:?}", t.elapsed());
    let s = connect(port);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let after = Exchange::new(2, Body::Chunked(MIB), MIB, true);
    after.run(&s, &mut r);
    let out = weir.wait_stdout_lines(4, Duration::from_secs(5));
    assert_eq!(out, [request_line(&x), status_line(&x), request_line(&after), status_line(&after)]);
}

// 6. Two threads.

#[test]
fn two_threads_carry_concurrent_raw_streams_through_connect() {
    let (conns, len) = (4, part());
    let (up, reports) = raw_upstream(move |s, _| exchange_raw(&s, 2, len));
    let (weir, port) = start(plain, up, &["--threads=2"]);
    let t = Instant::now();
    let clients: Vec<_> =
        (0..conns).map(|_| thread::spawn(move || exchange_raw(&connect(port), 1, len).unwrap())).collect();
    for c in clients {
        assert_whole(c.join().unwrap(), 2, len, "two threads: what a client got");
    }
    for _ in 0..conns {
        assert_whole(report(&reports, "two threads"), 1, len, "two threads: what the upstream got");
    }
    assert_peak(&weir, &format!("two threads, {conns} x {} MiB each way", len / MIB), t);
}

#[test]
fn two_threads_carry_concurrent_http_exchanges_and_log_each_connection_in_order() {
    let server = BulkHttpServer::start();
    let (weir, port) = start(logging, server.port, &["--threads=2"]);
    let (conns, p) = (4u64, part());
    let plan = move |c: u64| {
        [
            Exchange::new(c * 10 + 1, Body::None, p / 2, false),
            Exchange::new(c * 10 + 2, Body::Chunked(p / 4), p / 4, true),
            Exchange::new(c * 10 + 3, Body::Length(p / 4), p / 4, false).both(),
        ]
    };
    let t = Instant::now();
    let clients: Vec<_> = (1..=conns)
        .map(|c| {
            thread::spawn(move || {
                let s = connect(port);
                let mut r = BufReader::with_capacity(64 * 1024, s.try_clone().unwrap());
                for x in plan(c) {
                    x.run(&s, &mut r);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let out = weir.wait_stdout_lines(conns as usize * 6, Duration::from_secs(5));
    for c in 1..=conns {
        let xs = plan(c);
        for x in &xs {
            assert_eq!(server.got(x.id), Some(x.expected_got()), "exchange {}: what the server got", x.id);
        }
        let mine: Vec<&String> = out.iter().filter(|l| line_id(l).is_some_and(|id| id / 10 == c)).collect();
        let expected: Vec<String> = xs.iter().flat_map(|x| [request_line(x), status_line(x)]).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>(), "connection {c}'s heads in {out:#?}");
    }
    assert_eq!(out.len(), conns as usize * 6, "{out:#?}");
    assert_peak(&weir, "two threads, http", t);
}

// 7. The eBPF sample.

/// The SHA-256 of patterned streams one after another: (seed, length) each.
fn digest_of(parts: &[(u64, u64)]) -> String {
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
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A program started inside `cg` with piped stdin and stdout.
fn spawn_in(cg: &TestCgroup, program: &str, args: &[&str]) -> std::process::Child {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cg.enter(&mut cmd).spawn().unwrap_or_else(|e| panic!("run {program}: {e}"))
}

/// A raw TCP client for the cgroup: stdin to the socket (then a half-close), the socket to
/// stdout.
const RELAY: &str = r#"
import os, socket, sys, threading
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
def up():
    while True:
        b = os.read(0, 1 << 20)
        if not b:
            break
        s.sendall(b)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=up).start()
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    sys.stdout.buffer.write(b)
sys.stdout.flush()
"#;

#[test]
fn the_ebpf_sample_keeps_every_byte_of_big_downloads_uploads_and_raw_streams() {
    require_ebpf!("the_ebpf_sample_keeps_every_byte_of_big_downloads_uploads_and_raw_streams");
    let cg = TestCgroup::create();
    let server = BulkHttpServer::start();
    let port = free_port();
    let sample = workspace().join("samples/bpf/transparent-proxy/main.js");
    let mut weir = Weir::run_file(&sample, &[], TempDir::new(), |c| {
        c.env("CGROUP", &cg.path).env("PROXY_PORT", port.to_string());
        cg.enter(c)
    });
    weir.wait_listening();
    let (len, sp) = (bulk(), server.port);
    let t = Instant::now();

    // Downloads on one kept-alive connection: content-length, then chunked.
    let urls = [format!("http://127.0.0.1:{sp}/1/{len}/cl"), format!("http://127.0.0.1:{sp}/2/{}/chunked", part())];
    let mut curl = spawn_in(&cg, "curl", &["-sS", "--max-time", "300", &urls[0], &urls[1]]);
    drop(curl.stdin.take());
    let got = read_digest(&mut curl.stdout.take().unwrap(), None, 0).unwrap();
    let out = curl.wait_with_output().unwrap();
    assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(got, (len + part(), digest_of(&[(down_seed(1), len), (down_seed(2), part())])), "downloads");

    // A chunked upload from curl's stdin.
    let mut curl = spawn_in(
        &cg,
        "curl",
        &["-sS", "--max-time", "300", "-H", "Expect:", "-T", "-", &format!("http://127.0.0.1:{sp}/3/0/cl")],
    );
    let mut stdin = curl.stdin.take().unwrap();
    let feeder = thread::spawn(move || write_pattern_at(&mut stdin, up_seed(3), 0, len));
    let out = curl.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(server.got(3), Some(format!("{len} {}", pattern_digest(up_seed(3), len))), "upload");

    let host = format!("127.0.0.1:{sp}");
    let expected = [
        format!("GET /1/{len}/cl {host}"),
        "  200 OK 1".into(),
        format!("GET /2/{}/chunked {host}", part()),
        "  200 OK 2".into(),
        format!("PUT /3/0/cl {host}"),
        "  200 OK 3".into(),
    ];
    assert_eq!(weir.wait_stdout_lines(6, Duration::from_secs(5)), expected, "weir stderr: {:?}", weir.stderr());

    // A raw stream both ways at once, not HTTP: no head printed.
    let raw = part();
    let (up, reports) = raw_upstream(move |s, _| exchange_raw(&s, 2, raw));
    let mut relay = spawn_in(&cg, "python3", &["-c", RELAY, &up.to_string()]);
    let mut stdin = relay.stdin.take().unwrap();
    let feeder = thread::spawn(move || write_pattern_at(&mut stdin, 1, 0, raw));
    let got = read_digest(&mut relay.stdout.take().unwrap(), None, 0).unwrap();
    feeder.join().unwrap().unwrap();
    let out = relay.wait_with_output().unwrap();
    assert!(out.status.success(), "relay: {}", String::from_utf8_lossy(&out.stderr));
    assert_whole(got, 2, raw, "raw through the sample: what the client got");
    assert_whole(report(&reports, "raw through the sample"), 1, raw, "raw through the sample: what the upstream got");
    thread::sleep(Duration::from_millis(200));
    assert_eq!(weir.stdout(), expected, "heads printed for a raw stream");
    assert_peak(&weir, "the eBPF sample", t);
}
