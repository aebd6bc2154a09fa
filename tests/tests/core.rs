//! The runtime core, end to end: the built `weir` binary on scripts of our own, driven by
//! real TCP clients and curl against real local servers.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

use weir_tests::tproxy::wait_until;
use weir_tests::*;

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to weir");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn tcp_proxy_passes_bytes_both_ways_and_half_closes() {
    let upstream = echo_server();
    let port = free_port();
    let mut weir = Weir::start(&format!("pipy.listen({port}, $=>$.connect('127.0.0.1:{upstream}'))"), &[]);
    weir.wait_listening();

    let payload: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut s = connect(port);
    let mut r = s.try_clone().unwrap();
    let reader = thread::spawn(move || {
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        back
    });
    s.write_all(&payload).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let back = reader.join().unwrap();
    assert_eq!(back.len(), payload.len());
    assert!(back == payload, "bytes changed on the way through the proxy");
}

#[test]
fn upstream_that_speaks_first_reaches_the_client() {
    let upstream = tcp_server(|mut s| {
        s.write_all(b"220 weir-test ESMTP ready\r\n").unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        let _ = s.write_all(&buf[..n]);
    });
    let port = free_port();
    let mut weir = Weir::start(&format!("pipy.listen({port}, $=>$.connect('127.0.0.1:{upstream}'))"), &[]);
    weir.wait_listening();

    let mut s = connect(port);
    let mut greeting = [0u8; 27];
    s.read_exact(&mut greeting).expect("the server's greeting arrives before the client says anything");
    assert_eq!(&greeting, b"220 weir-test ESMTP ready\r\n");
    s.write_all(b"QUIT\r\n").unwrap();
    let mut echo = [0u8; 6];
    s.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"QUIT\r\n");
}

#[test]
fn dollar_variables_are_per_connection_under_50_concurrent_connections() {
    // Each connection stores its client's port in $port at start; later, after a timer, it
    // prints what the client says its port is next to what $port holds. They must match.
    let port = free_port();
    let script = format!(
        "var $port = 'unset'\n\
         pipy.listen({port}, $=>$\n\
           .onStart(ib => {{ $port = ib.remotePort }})\n\
           .handleData(d => new Timeout(0.05).wait().then(() => println(d.toString(), $port)))\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();

    let clients: Vec<TcpStream> = (0..50).map(|_| connect(port)).collect();
    for c in &clients {
        let mut c = c;
        c.write_all(c.local_addr().unwrap().port().to_string().as_bytes()).unwrap();
    }
    let lines = weir.wait_stdout_lines(50, Duration::from_secs(10));
    assert_eq!(lines.len(), 50, "stdout: {lines:?}");
    for line in &lines {
        let (said, held) = line.split_once(' ').unwrap();
        assert_eq!(said, held, "a connection saw another connection's $port: {line}");
    }
    drop(clients);
}

#[test]
fn syntax_error_names_the_file_and_line_and_exits_non_zero() {
    let mut weir = Weir::start("var ok = 1\nvar = 2\n", &[]);
    let code = weir.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(255));
    let err = weir.stderr().join("\n");
    assert!(err.contains("main.js:2:"), "stderr: {err}");
    assert!(err.contains("SyntaxError"), "stderr: {err}");
}

#[test]
fn error_at_load_time_names_the_line() {
    let mut weir = Weir::start("var a = {}\n\nvar b = a.missing.field\n", &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    let err = weir.stderr().join("\n");
    assert!(err.contains("main.js:3:"), "stderr: {err}");
    assert!(err.contains("TypeError"), "stderr: {err}");
}

#[test]
fn sigint_runs_exit_callbacks_and_waits_for_their_promise() {
    let port = free_port();
    let script = format!(
        "pipy.exit(() => {{ println('first') }})\n\
         pipy.exit(() => new Timeout(0.2).wait().then(() => println('second, after a wait')))\n\
         pipy.listen({port}, $=>$.connect('127.0.0.1:1'))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    weir.signal(libc::SIGINT);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(weir.stdout(), ["first", "second, after a wait"]);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "the listener is closed after exit");
}

#[test]
fn sigterm_also_runs_exit_callbacks() {
    let port = free_port();
    let mut weir = Weir::start(&format!("pipy.exit(() => println('bye'))\npipy.listen({port}, $=>$.dump())\n"), &[]);
    weir.wait_listening();
    weir.signal(libc::SIGTERM);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(weir.stdout(), ["bye"]);
}

#[test]
fn eval_prints_the_value_and_argv_reaches_the_script() {
    let out = std::process::Command::new(weir_bin()).args(["-e", "1+2"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
    let mut weir = Weir::start("println(pipy.argv.slice(1).join(','))", &["--", "a", "b"]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(weir.stdout(), ["a,b"]);
}

/// As in Pipy's sample READMEs: `pipy -e "pipy().listen(9000).serveHTTP(...)"` is a server.
#[test]
fn eval_of_a_configuration_serves_it() {
    let port = free_port();
    let expr = format!("pipy().listen({port}).serveHTTP(() => new Message('from -e\\n'))");
    let mut child = std::process::Command::new(weir_bin())
        .args(["-e", &expr])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let served = wait_until(Duration::from_secs(10), || curl(&[&format!("http://127.0.0.1:{port}/")]).1 == "from -e\n");
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(served, "no answer; stdout: {:?}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn unknown_option_is_an_error() {
    let out = std::process::Command::new(weir_bin()).args(["--frobnicate", "x.js"]).output().unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option: --frobnicate"));
}

#[test]
fn two_threads_share_the_port_and_both_serve() {
    let upstream = echo_server();
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.onStart(() => {{ println('thread', pipy.thread.id) }}).connect('127.0.0.1:{upstream}'))"
    );
    let mut weir = Weir::start(&script, &["--threads=2"]);
    weir.wait_listening();
    weir.wait_stderr("Listening on TCP port", Duration::from_secs(5));
    for _ in 0..200 {
        let mut s = connect(port);
        s.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
    }
    let out = weir.stdout();
    assert_eq!(out.len(), 200);
    assert!(
        out.iter().any(|l| l == "thread 0") && out.iter().any(|l| l == "thread 1"),
        "one thread served all: {out:?}"
    );
}

#[test]
fn connection_refused_upstream_closes_the_client() {
    let dead = free_port();
    let port = free_port();
    let mut weir = Weir::start(&format!("pipy.listen({port}, $=>$.connect('127.0.0.1:{dead}'))"), &[]);
    weir.wait_listening();
    let mut s = connect(port);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(buf.is_empty());
}

#[test]
fn on_start_stream_end_closes_the_client_without_connecting() {
    let (tx, rx) = channel_pair();
    let upstream = tcp_server(move |_| {
        let _ = tx.send(());
    });
    let port = free_port();
    let mut weir = Weir::start(
        &format!("pipy.listen({port}, $=>$.onStart(() => new StreamEnd).connect('127.0.0.1:{upstream}'))"),
        &[],
    );
    weir.wait_listening();
    let (code, _, _) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 52, "curl sees an empty reply");
    assert!(recv_n(&rx, 1, Duration::from_millis(300)).is_empty(), "no upstream connection was made");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_slow_client_holds_back_a_fast_upstream() {
    const TOTAL: usize = 200 << 20;
    let upstream = tcp_server(|mut s| {
        let chunk = vec![7u8; 1 << 16];
        let mut sent = 0;
        while sent < TOTAL && s.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
    });
    let port = free_port();
    let mut weir = Weir::start(&format!("pipy.listen({port}, $=>$.connect('127.0.0.1:{upstream}'))"), &[]);
    weir.wait_listening();
    let before = rss_kib(weir.child.id());
    let mut s = connect(port);
    thread::sleep(Duration::from_millis(1500));
    let during = rss_kib(weir.child.id());
    assert!(during < before + 32 * 1024, "weir buffered the upstream: RSS {before} KiB -> {during} KiB");
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 16];
    while total < TOTAL {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "stream ended early at {total}");
        total += n;
    }
}

#[test]
fn idle_timeout_counts_traffic_in_both_directions() {
    let upstream = tcp_server(|mut s| {
        let mut first = [0u8; 1];
        if s.read_exact(&mut first).is_err() {
            return;
        }
        if first[0] == b't' {
            // Trickle: a byte every 200 ms for 1.6 s, longer than the idle timeout.
            for b in b"trickled" {
                thread::sleep(Duration::from_millis(200));
                if s.write_all(&[*b]).is_err() {
                    return;
                }
            }
        } else {
            thread::sleep(Duration::from_secs(5));
        }
    });
    let port = free_port();
    let mut weir =
        Weir::start(&format!("pipy.listen({port}, {{ idleTimeout: 0.5 }}, $=>$.connect('127.0.0.1:{upstream}'))"), &[]);
    weir.wait_listening();

    let mut busy = connect(port);
    busy.write_all(b"t").unwrap();
    let mut got = [0u8; 8];
    busy.read_exact(&mut got).expect("a connection with traffic outlives the idle timeout");
    assert_eq!(&got, b"trickled");

    let mut quiet = connect(port);
    quiet.write_all(b"q").unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = quiet.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(400) && waited < Duration::from_secs(3), "closed after {waited:?}");
}

#[test]
fn error_inside_a_listener_builder_exits_cleanly_every_time() {
    for _ in 0..10 {
        let mut weir = Weir::start(&format!("pipy.listen({}, $=>$\n  .noSuchFilter()\n)\n", free_port()), &[]);
        assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255), "stderr: {:?}", weir.stderr());
        let err = weir.stderr().join("\n");
        assert!(err.contains("main.js:2:"), "stderr: {err}");
        assert!(!err.contains("corrupted") && !err.contains("tcache"), "crashed at exit: {err}");
    }
}

#[test]
fn json_decode_and_encode_work_on_data() {
    let out = std::process::Command::new(weir_bin())
        .args(["-e", "JSON.decode(JSON.encode({ a: [1, 'two'] })).a[1] + ' ' + (JSON.encode([1]) instanceof Data)"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "two true\n");
}

/// `onStart(new StreamEnd)` ends the stream: bytes the client sends afterwards reach no filter.
#[test]
fn a_stream_ended_by_on_start_takes_no_more_input() {
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .onStart(() => new StreamEnd)\n\
           .fork().to($=>$.decodeHTTPRequest().handleMessageStart(({{ head }}) => println('seen', head.path)))\n\
           .handleData(() => println('data'))\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _ = std::io::Write::write_all(&mut s, b"GET /late HTTP/1.1\r\nhost: x\r\n\r\n");
    let mut rest = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = std::io::Read::read_to_end(&mut s, &mut rest);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        weir.wait_stdout_lines(1, Duration::from_millis(500)),
        Vec::<String>::new(),
        "filters saw input after the end"
    );
}

/// An error no script can catch (Boa's recursion limit) still says what happened and where.
#[test]
fn runaway_recursion_names_the_limit_and_the_line() {
    let mut weir = Weir::start("function f() { return f() + 1 }\nf()\n", &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    let err = weir.stderr().join("\n");
    assert!(err.contains("main.js:1:") && err.contains("recursive calls"), "stderr: {err}");
}

#[test]
fn a_cancelled_timeout_rejects_its_waits_now_and_later() {
    let script = "var t = new Timeout(30), t0 = Date.now()\n\
         t.wait().then(() => println('fired'), () => println('cancelled'))\n\
         new Timeout(0.1).wait().then(() => {\n\
         \x20 t.cancel()\n\
         \x20 t.wait().catch(() => println('later wait rejected', Date.now() - t0 < 10000))\n\
         })\n";
    let mut weir = Weir::start(script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["cancelled", "later wait rejected true"]);
}
