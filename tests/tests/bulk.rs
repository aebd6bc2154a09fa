//! Bulk paths keep every byte: raw streams. Big streams both ways at once through a plain
//! `connect` proxy and through the transparent-proxy sample's shape (forks that decode the
//! bytes on their way past and print the heads; here they must print nothing), half-closes
//! either way, slow readers on either side, resets mid-stream, two threads. They pin down
//! what the copying data path does, for the splice path of issue 11 to keep; the same
//! through a `link`ed pipeline; HTTP bodies
//! and the eBPF sample are in `bulk_http.rs`.
//!
//! Default sizes are 256 MiB and 64 MiB; `WEIR_BIG_TESTS=1` moves 1 GiB and 256 MiB.

use std::io::BufReader;
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

use weir_tests::Weir;
use weir_tests::big::*;
use weir_tests::bulk::*;

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

// 2. Half-closes.

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

// 4. Resets.

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

// 5. Through a `link`ed pipeline: the bytes cross a sub-pipeline both ways (the path of
// `acceptHTTPTunnel`'s tunnels too). `link` starts its pipeline on the first event, as
// Pipy's does, so the cases where the upstream speaks first do not apply.

#[test]
fn raw_streams_both_ways_through_a_linked_pipeline_keep_every_byte() {
    both_ways(linked, "link");
}

#[test]
fn a_slow_client_after_its_half_close_through_a_linked_pipeline_still_gets_the_whole_answer() {
    client_half_closes_first(linked, true, "client half-close, slow client, link");
}

#[test]
fn a_slow_upstream_through_a_linked_pipeline_gets_every_byte_in_bounded_memory() {
    slow_upstream(linked, "slow upstream, link");
}

#[test]
fn a_client_reset_mid_stream_through_a_linked_pipeline_ends_the_upstream_and_weir_serves_on() {
    client_resets(linked, "client reset, link");
}

#[test]
fn an_upstream_reset_mid_stream_through_a_linked_pipeline_ends_a_client_that_was_not_reading() {
    upstream_resets(linked, true, "upstream reset, paused client, link");
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
