//! The open-files limit: a proxy holds two descriptors per proxied connection, and service
//! managers start processes with a soft limit of 1,024. Weir raises its soft limit to the
//! hard one at start (as nginx's `worker_rlimit_nofile` and Go's runtime do), says so, and
//! `--max-open-files` caps it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use weir_tests::*;

/// Connections held open at once through the proxy: 3,000 descriptors in the proxy, past a
/// soft limit of 1,024.
const HELD: usize = 1500;

fn proxy(upstream: u16) -> String {
    format!("pipy.listen(PORT, $=>$.connect('127.0.0.1:{upstream}'))\n")
}

/// Weir started by `prlimit` with a soft limit of 1,024 and a hard one of 8,192.
fn start_limited(script: &str, args: &[&str]) -> (Weir, u16) {
    let port = free_port();
    let dir = TempDir::new();
    let path = dir.0.join("main.js");
    std::fs::write(&path, script.replace("PORT", &port.to_string())).unwrap();
    let mut weir = Weir::run_wrapped(&["prlimit", "--nofile=1024:8192"], &path, args, dir, |c| c);
    weir.wait_listening();
    (weir, port)
}

/// The soft and hard "Max open files" of a running process.
fn limits(pid: u32) -> (String, String) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text.lines().find(|l| l.starts_with("Max open files")).unwrap().to_string();
    let mut words = line["Max open files".len()..].split_whitespace();
    (words.next().unwrap().to_string(), words.next().unwrap().to_string())
}

#[test]
fn a_soft_limit_of_1024_does_not_cap_the_proxy_at_500_connections() {
    let upstream = echo_server();
    let (weir, port) = start_limited(&proxy(upstream), &[]);
    assert_eq!(limits(weir.child.id()), ("8192".into(), "8192".into()));
    assert!(
        weir.stderr().iter().any(|l| l.contains("open files") && l.contains("1024") && l.contains("8192")),
        "no line saying the limit was raised: {:?}",
        weir.stderr()
    );
    let mut held = Vec::with_capacity(HELD);
    for i in 0..HELD {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&[i as u8]).unwrap();
        held.push(s);
    }
    let mut echoed = 0;
    for (i, s) in held.iter_mut().enumerate() {
        let mut b = [0u8; 1];
        if matches!(s.read(&mut b), Ok(1)) && b[0] == i as u8 {
            echoed += 1;
        }
    }
    assert_eq!(echoed, HELD, "connections echoed while {HELD} were held open");
}

#[test]
fn max_open_files_caps_the_raise() {
    let upstream = echo_server();
    let (weir, _) = start_limited(&proxy(upstream), &["--max-open-files=2000"]);
    assert_eq!(limits(weir.child.id()), ("2000".into(), "8192".into()));
}

#[test]
fn max_open_files_rejects_what_is_not_a_number() {
    let mut weir = Weir::start("", &["--max-open-files=lots"]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    assert!(weir.stderr().iter().any(|l| l.contains("invalid --max-open-files value: lots")), "{:?}", weir.stderr());
}
