//! What a new connection through `connect` asks of the kernel, counted by strace on the
//! built binary: no call nginx `stream` does without (issue 24).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use weir_tests::*;

const CONNECTIONS: usize = 50;

/// An upstream that answers a request and closes, as nginx does for `Connection: close`.
fn answer_and_close() -> u16 {
    tcp_server(|mut s| {
        let mut buf = [0u8; 64];
        if s.read(&mut buf).is_ok_and(|n| n > 0) {
            let _ = s.write_all(b"pong");
        }
        let _ = s.shutdown(Shutdown::Write);
        let _ = s.read(&mut buf);
    })
}

/// The process strace started: its only child.
fn traced_pid(strace: u32) -> i32 {
    let children = std::fs::read_to_string(format!("/proc/{strace}/task/{strace}/children")).unwrap();
    children.split_whitespace().next().and_then(|p| p.parse().ok()).expect("strace's child")
}

/// Ends the traced weir when dropped.
struct Traced(i32);

impl Traced {
    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on a positive pid: the traced weir, our grandchild.
        unsafe { libc::kill(self.0, sig) };
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

/// How often each of `calls` was made over the run, from strace's output.
fn counts(log: &str, calls: &[&str]) -> HashMap<String, usize> {
    let mut n: HashMap<String, usize> = calls.iter().map(|c| (c.to_string(), 0)).collect();
    for line in log.lines() {
        // `-f` lines start with the thread id: "1234  shutdown(12, SHUT_WR) = 0".
        let call = line.split_whitespace().nth(1).and_then(|w| w.split('(').next());
        if let Some(c) = call.and_then(|c| n.get_mut(c)) {
            *c += 1;
        }
    }
    n
}

#[test]
fn a_new_connection_asks_no_address_and_shuts_down_at_most_one_side() {
    if std::process::Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: no strace");
        return;
    }
    let upstream = answer_and_close();
    let proxy = free_port();
    let dir = TempDir::new();
    let trace = dir.0.join("trace");
    let script = dir.0.join("main.js");
    std::fs::write(&script, format!("pipy.listen({proxy}, $=>$.connect('127.0.0.1:{upstream}'))\n")).unwrap();
    let trace_arg = trace.display().to_string();
    let wrapper = ["strace", "-f", "-qq", "-o", &trace_arg, "-e", "trace=getsockname,getpeername,shutdown"];
    let mut weir = Weir::run_wrapped(&wrapper, &script, &[], dir, |c| c);
    weir.wait_listening();
    // strace leaves its tracee running when it is killed: weir itself is ended, whatever
    // way the test ends.
    let traced = Traced(traced_pid(weir.child.id()));
    for _ in 0..CONNECTIONS {
        // As wrk with `Connection: close`: the answer read, then closed without waiting for
        // the proxy's end.
        let mut c = TcpStream::connect(("127.0.0.1", proxy)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
    }
    std::thread::sleep(Duration::from_millis(500));
    traced.signal(libc::SIGTERM);
    // strace exits with its tracee, having written all it saw; an ended weir's pid may be
    // another's soon.
    if weir.wait_exit(Duration::from_secs(10)).is_some() {
        std::mem::forget(traced);
    }
    let log = std::fs::read_to_string(&trace).unwrap();
    let n = counts(&log, &["getsockname", "getpeername", "shutdown"]);
    // A handful at startup (the listener's own); per connection none of the first two: the
    // peer came with accept and connect, local addresses are asked when a script wants them.
    assert!(n["getsockname"] < CONNECTIONS / 5, "{n:?}");
    assert!(n["getpeername"] < CONNECTIONS / 5, "{n:?}");
    // The client's side is shut down as the upstream's end comes; the upstream's, whose
    // end was read first, is closed without one.
    assert!(n["shutdown"] <= CONNECTIONS + CONNECTIONS / 5, "{n:?}");
}
