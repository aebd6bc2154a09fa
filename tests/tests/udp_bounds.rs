//! UDP listeners without options stay bounded: a flood of peers cannot make the worker hold a
//! session (a pipeline, an upstream socket, a task) per peer for a minute.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use weir_tests::*;

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A UDP server that sends every datagram back to its sender.
fn udp_echo_server() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(&buf[..n], from);
        }
    });
    port
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Sends `text` from a fresh source port and waits for the answer.
fn ask(port: u16, text: &str, wait: Duration) -> Option<String> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send(text.as_bytes()).unwrap();
    let mut buf = [0u8; 2048];
    let n = s.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn a_flood_of_peers_on_a_default_udp_listener_keeps_the_fds_bounded() {
    let upstream = udp_echo_server();
    let port = free_udp_port();
    // No maxConnections, no idleTimeout: the defaults must bound the sessions. Each session
    // holds a connected socket upstream, so open sessions show as fds.
    let script = format!("pipy.listen({port}, 'udp', $=>$.connect('127.0.0.1:{upstream}', {{ protocol: 'udp' }}))\n");
    let mut weir = Weir::start(&script, &[]);
    weir.wait_stderr("Listening on UDP port", Duration::from_secs(10));
    let pid = weir.child.id();
    let before = fds(pid);

    // One datagram from each of 5,000 source ports, each answered before the next is sent,
    // so that none is lost to a full receive queue and every one opens a session.
    let t0 = Instant::now();
    let answered = (0..5000).filter(|i| ask(port, &format!("peer {i}"), Duration::from_secs(1)).is_some()).count();
    let after = fds(pid);
    eprintln!("{answered} of 5000 peers answered in {:?}; fds {before} -> {after}", t0.elapsed());
    assert!(answered >= 4990, "only {answered} of 5000 peers answered");
    assert!(after <= before + 300, "fds {before} -> {after} after 5,000 peers");

    // A peer arriving after the flood is still served: the session shed for it is the one idle
    // longest, not the newcomer.
    assert_eq!(ask(port, "normal client", Duration::from_secs(3)).as_deref(), Some("normal client"));
}
