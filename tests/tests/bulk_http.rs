//! Bulk paths keep every byte: HTTP through the transparent-proxy sample's shape (forks
//! that decode the bytes on their way past and print the heads): content-length bodies,
//! chunked bodies with chunks from 1 byte to over 1 MiB, uploads and downloads at once,
//! 100-continue, an answer that ends with the connection, Upgrade and CONNECT tunnels, slow
//! readers, five pipelined requests, a reset mid-body, two threads, and the eBPF sample
//! itself; the heads must be printed in order. Raw streams are in `bulk.rs`.
//!
//! Default sizes are 256 MiB and 64 MiB; `WEIR_BIG_TESTS=1` moves 1 GiB and 256 MiB.

use std::io::{self, BufReader, Read, Write};
use std::net::Shutdown;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use weir_tests::big::*;
use weir_tests::bulk::*;
use weir_tests::bulk_http::*;
use weir_tests::cgroup::TestCgroup;
use weir_tests::*;

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

// Pipelining.

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

// The eBPF sample.

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
