//! How Weir ends: graceful stops that finish within the drain limit whatever the script left
//! running, a second signal that ends it at once, and scripts or peers that cannot crash it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use weir_tests::*;

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to weir");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends one keep-alive request on `s` and reads the response: (status line, body).
fn request(s: &mut TcpStream, method: &str, body: &[u8]) -> std::io::Result<(String, Vec<u8>)> {
    let head = format!("{method} / HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n", body.len());
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut status = String::new();
    r.read_line(&mut status)?;
    if status.is_empty() {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let mut len = 0;
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok((status.trim_end().to_string(), body))
}

/// Signals `sig` and returns how long weir took to exit, and its exit code.
fn stop(weir: &mut Weir, sig: i32, within: Duration) -> (Duration, Option<i32>) {
    let t = Instant::now();
    weir.signal(sig);
    let code = weir.wait_exit(within);
    (t.elapsed(), code)
}

#[test]
fn sigint_ends_timers_tasks_and_idle_clients_within_the_drain_limit() {
    let port = free_port();
    let script = format!(
        "pipy.exit(() => println('exit callback'))\n\
         new Timeout(3600).wait().then(() => println('never'))\n\
         var tick = () => new Timeout(0.05).wait().then(tick)\n\
         tick()\n\
         pipy()\n\
         .listen({port})\n\
         .serveHTTP(new Message('hi'))\n\
         .task('0.1s')\n\
         .onStart(() => new StreamEnd)\n\
         .handleStreamEnd(() => {{}})\n"
    );
    let mut weir = Weir::start(&script, &["--drain-timeout=1"]);
    weir.wait_listening();
    let mut idle = connect(port);
    let (status, body) = request(&mut idle, "GET", b"").unwrap();
    assert_eq!((status.as_str(), body.as_slice()), ("HTTP/1.1 200 OK", &b"hi"[..]));
    // The client keeps its connection open and sends nothing more.
    let (took, code) = stop(&mut weir, libc::SIGINT, Duration::from_secs(8));
    assert_eq!(code, Some(0), "stderr:\n{}", weir.stderr().join("\n"));
    assert!(took < Duration::from_secs(3), "took {took:?} with a 1 s drain limit");
    assert_eq!(weir.stdout(), ["exit callback"]);
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).ok(), Some(0), "the idle client is closed");
}

#[test]
fn sigint_with_only_timers_and_no_clients_exits_at_once() {
    let script = "pipy.exit(() => println('exit callback'))\n\
                  new Timeout(3600).wait()\n\
                  pipy().task('0.1s').onStart(() => new StreamEnd).handleStreamEnd(() => {})\n\
                  .listen(0).dump()\n";
    let script = script.replace("listen(0)", &format!("listen({})", free_port()));
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let (took, code) = stop(&mut weir, libc::SIGINT, Duration::from_secs(8));
    assert_eq!(code, Some(0), "stderr:\n{}", weir.stderr().join("\n"));
    assert!(took < Duration::from_secs(1), "took {took:?}: nothing was open, nothing to drain");
    assert_eq!(weir.stdout(), ["exit callback"]);
}

#[test]
fn sigint_on_a_script_without_listeners_runs_its_exit_callbacks() {
    let script = "pipy.exit(() => println('bye'))\n\
                  var tick = () => new Timeout(0.05).wait().then(tick)\n\
                  tick()\n\
                  println('ready')\n";
    let mut weir = Weir::start(script, &[]);
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(10)), ["ready"]);
    let (took, code) = stop(&mut weir, libc::SIGINT, Duration::from_secs(8));
    assert_eq!(code, Some(0), "stderr:\n{}", weir.stderr().join("\n"));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(weir.stdout(), ["ready", "bye"]);
}

#[test]
fn a_second_sigint_exits_at_once() {
    let port = free_port();
    // The exit callback never settles and a connection stays open: only the second
    // signal ends this.
    let (accepted, upstream) = channel_pair();
    let script = format!(
        "pipy.exit(() => new Promise(() => {{}}))\n\
         pipy.listen({port}, $=>$.connect('127.0.0.1:{}'))\n",
        tcp_server(move |s| {
            let _ = accepted.send(());
            thread::sleep(Duration::from_secs(30));
            drop(s)
        })
    );
    let mut weir = Weir::start(&script, &["--drain-timeout=60"]);
    weir.wait_listening();
    let mut client = connect(port);
    // `connect` dials when the first bytes come.
    client.write_all(b"x").unwrap();
    upstream.recv_timeout(Duration::from_secs(5)).expect("the upstream was reached");
    weir.signal(libc::SIGINT);
    weir.wait_stderr("Shutting down", Duration::from_secs(5));
    thread::sleep(Duration::from_millis(300));
    assert_eq!(weir.child.try_wait().unwrap(), None, "the first signal waits");
    let (took, code) = stop(&mut weir, libc::SIGINT, Duration::from_secs(5));
    assert!(code.is_some() && took < Duration::from_secs(1), "took {took:?}, code {code:?}");
}

#[test]
fn a_second_sigint_ends_a_script_that_never_finishes_loading() {
    let mut weir = Weir::start("println('loading'); for (;;) {}\n", &[]);
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(10)), ["loading"]);
    weir.signal(libc::SIGINT);
    weir.wait_stderr("Shutting down", Duration::from_secs(5));
    let (took, code) = stop(&mut weir, libc::SIGINT, Duration::from_secs(5));
    assert!(code.is_some() && took < Duration::from_secs(1), "took {took:?}, code {code:?}");
}

#[test]
fn drain_timeout_bounds_the_wait_for_open_streams_and_lets_short_ones_finish() {
    let (stuck_port, late_port) = (free_port(), free_port());
    let (got, heard) = channel_pair();
    let silent = tcp_server(move |mut s| {
        let mut buf = [0; 5];
        let _ = got.send(s.read_exact(&mut buf).map(|_| buf));
        thread::sleep(Duration::from_secs(30));
        drop(s)
    });
    let script = format!(
        "pipy()\n\
         .listen({stuck_port})\n\
         .connect('127.0.0.1:{silent}')\n\
         .listen({late_port})\n\
         .serveHTTP(() => (println('late in'), new Timeout(0.5).wait().then(() => new Message('late'))))\n"
    );
    let mut weir = Weir::start(&script, &["--drain-timeout", "1.5s"]);
    weir.wait_listening();
    // One stream that the upstream never ends, one request that needs half a second.
    let mut stuck = connect(stuck_port);
    stuck.write_all(b"hello").unwrap();
    let mut late = connect(late_port);
    late.write_all(b"GET /late HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
    // Both are under way when the signal comes: the bytes reached the upstream, the
    // request its handler.
    let upstream_got = heard.recv_timeout(Duration::from_secs(5)).expect("the upstream was reached");
    assert_eq!(upstream_got.ok(), Some(*b"hello"));
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), ["late in"]);
    let t = Instant::now();
    weir.signal(libc::SIGINT);
    let mut answer = String::new();
    let _ = late.read_to_string(&mut answer);
    assert!(answer.ends_with("late"), "the short request finished during the drain: {answer:?}");
    let code = weir.wait_exit(Duration::from_secs(8));
    let took = t.elapsed();
    assert_eq!(code, Some(0), "stderr:\n{}", weir.stderr().join("\n"));
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_millis(3000), "took {took:?}");
}

#[test]
fn a_bad_drain_timeout_is_refused() {
    let mut weir = Weir::start("", &["--drain-timeout=soon"]);
    assert_eq!(weir.wait_exit(Duration::from_secs(5)), Some(255));
    assert!(weir.stderr().join("\n").contains("--drain-timeout"), "{:?}", weir.stderr());
}

#[test]
fn huge_durations_do_not_crash_and_idle_timeout_zero_is_off() {
    let (huge, off, short) = (free_port(), free_port(), free_port());
    let script = format!(
        "new Timeout(1e20).wait().then(() => println('never'))\n\
         new Timeout(1e300).wait()\n\
         new Timeout('99999999999999999999999d').wait()\n\
         pipy.listen({huge}, {{ idleTimeout: 1e20 }}, $=>$.serveHTTP(new Message('huge')))\n\
         pipy().listen({off}, {{ idleTimeout: 0 }}).serveHTTP(new Message('off'))\n\
         .listen({short}, {{ idleTimeout: 0.3 }}).serveHTTP(new Message('short'))\n\
         .pipeline('unused').connect('127.0.0.1:1', {{ idleTimeout: 1e30, connectTimeout: 1e30, retryDelay: 1e30 }})\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_stderr(&format!("Listening on TCP port {short}"), Duration::from_secs(10));
    let mut open: Vec<_> = [(huge, "huge"), (off, "off"), (short, "short")]
        .into_iter()
        .map(|(port, want)| {
            let mut c = connect(port);
            assert_eq!(request(&mut c, "GET", b"").unwrap().1, want.as_bytes());
            (c, want)
        })
        .collect();
    // The short idle timeout does fire: weir closes that connection while it sits idle.
    let (mut c, _) = open.pop().unwrap();
    let t = Instant::now();
    let mut rest = Vec::new();
    assert_eq!(c.read_to_end(&mut rest).ok(), Some(0), "a 0.3 s idle timeout closes the connection");
    assert!(t.elapsed() < Duration::from_secs(5), "closed after {:?}", t.elapsed());
    // The others were idle at least as long and still answer: neither 0 nor 1e20 fired.
    for (mut c, want) in open {
        assert_eq!(request(&mut c, "GET", b"").unwrap().1, want.as_bytes(), "port of {want}");
    }
    assert_eq!(weir.child.try_wait().unwrap(), None, "stderr:\n{}", weir.stderr().join("\n"));
    let (_, code) = stop(&mut weir, libc::SIGINT, Duration::from_secs(8));
    assert_eq!(code, Some(0));
}

#[test]
fn messages_over_the_size_limit_end_their_stream_with_an_error() {
    let (port, served) = (free_port(), free_port());
    let script = format!(
        "pipy()\n\
         .listen({port})\n\
         .demuxHTTP().to($=>$\n\
           .handleMessage(msg => println('handled', msg.body.size), {{ bufferLimit: '1k' }})\n\
           .replaceMessage(512 * 1024, msg => new Message('ok ' + msg.body.size))\n\
         )\n\
         .listen({served})\n\
         .serveHTTP(msg => new Message('served ' + msg.body.size), {{ bufferLimit: 2000 }})\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_stderr(&format!("Listening on TCP port {served}"), Duration::from_secs(10));
    let mut c = connect(port);
    let (status, body) = request(&mut c, "POST", &[b'x'; 1000]).unwrap();
    assert_eq!((status.as_str(), body.as_slice()), ("HTTP/1.1 200 OK", &b"ok 1000"[..]));
    // Past the limit: no answer but a closed connection and a log line naming the filter.
    let mut c = connect(port);
    let r = request(&mut c, "POST", &vec![b'x'; 64 * 1024]);
    assert!(r.is_err(), "got {r:?}");
    weir.wait_stderr("handleMessage", Duration::from_secs(5));
    assert!(weir.stderr().join("\n").contains("1024"), "the log line names the limit: {:?}", weir.stderr());

    let mut c = connect(served);
    assert_eq!(request(&mut c, "POST", &[b'y'; 2000]).unwrap().1, b"served 2000");
    let mut c = connect(served);
    assert!(request(&mut c, "POST", &[b'y'; 2001]).is_err());
    weir.wait_stderr("serveHTTP", Duration::from_secs(5));

    // The process lives on and still answers.
    let mut c = connect(port);
    assert_eq!(request(&mut c, "POST", b"small").unwrap().1, b"ok 5");
    // The line is printed before the answer goes out, but read by another thread here.
    assert_eq!(weir.wait_stdout_lines(2, Duration::from_secs(5)), ["handled 1000", "handled 5"]);
}

#[test]
fn messages_are_limited_by_default() {
    let (port, branched, fixed) = (free_port(), free_port(), free_port());
    let script = format!(
        "pipy().listen({port}).serveHTTP(msg => new Message('served ' + msg.body.size))\n\
         .listen({branched}).demuxHTTP().to($=>$.branchMessage(() => true, $=>$.replaceMessage(m => new Message('b ' + m.body.size))))\n\
         .listen({fixed}).serveHTTP(new Message('fixed'))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_stderr(&format!("Listening on TCP port {fixed}"), Duration::from_secs(10));
    for p in [port, branched] {
        let mut c = connect(p);
        let r = request(&mut c, "POST", &vec![0; 17 << 20]);
        assert!(r.is_err(), "port {p}: 17 MiB are past the default 16 MiB: {r:?}");
        let mut c = connect(p);
        assert!(request(&mut c, "POST", &vec![0; 1 << 20]).is_ok(), "1 MiB is fine");
    }
    assert!(weir.stderr().join("\n").contains("16777216"), "{:?}", weir.stderr());
    // A fixed answer holds no body, so any size goes.
    let mut c = connect(fixed);
    assert_eq!(request(&mut c, "POST", &vec![0; 17 << 20]).unwrap().1, b"fixed");
}

/// A script can withdraw the traffic it draws (detach a program that redirects connects to
/// its port) in `pipy.exit` before the port closes: the listeners accept until the callbacks
/// have settled.
#[test]
fn listeners_accept_while_exit_callbacks_run() {
    let port = free_port();
    let script = format!(
        "pipy.exit(() => {{ println('exit callback'); return new Timeout(1).wait() }})\n\
         pipy.listen({port}, $ => $.serveHTTP(new Message('still here')))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    weir.signal(libc::SIGINT);
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), ["exit callback"]);
    let mut s = connect(port);
    let (status, body) = request(&mut s, "GET", b"").unwrap();
    assert_eq!((status.as_str(), body.as_slice()), ("HTTP/1.1 200 OK", &b"still here"[..]));
    drop(s);
    assert_eq!(weir.wait_exit(Duration::from_secs(8)), Some(0), "stderr:\n{}", weir.stderr().join("\n"));
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "still listening after the exit");
}

/// The first `Listening on` line comes when every listener of the script is open: a client
/// that waits for it may connect at once to the last port of many.
#[test]
fn the_first_listening_line_means_every_port_is_open() {
    let mut ports: Vec<u16> = Vec::new();
    while ports.len() < 300 {
        let p = free_port();
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    let mut script = String::from("pipy()\n");
    for p in &ports {
        script.push_str(&format!(".listen({p}).dummy()\n"));
    }
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let last = *ports.last().unwrap();
    let reached = TcpStream::connect(("127.0.0.1", last));
    assert!(
        reached.is_ok(),
        "port {last}, the last of {}, refused right after the first line: {reached:?}",
        ports.len()
    );
}
