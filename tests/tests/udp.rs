//! UDP end to end: listeners with one session per peer, and `connect` over UDP, driven by
//! real UDP sockets.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use weir_tests::*;

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn client(port: u16) -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}

fn recv(s: &UdpSocket) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 65536];
    let n = s.recv(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

fn recv_text(s: &UdpSocket) -> String {
    String::from_utf8(recv(s).expect("no datagram back")).unwrap()
}

fn start_udp(script: &str) -> Weir {
    let mut weir = Weir::start(script, &[]);
    weir.wait_stderr("Listening on UDP port", Duration::from_secs(10));
    weir
}

/// Waits until stdout has a line equal to `line`, `n` times.
fn wait_lines(weir: &Weir, line: &str, n: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let count = weir.stdout().iter().filter(|l| *l == line).count();
        if count >= n || Instant::now() > deadline {
            return count;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn each_peer_gets_its_own_session_and_datagrams_keep_their_boundaries() {
    let port = free_udp_port();
    // `$n` counts datagrams per session: a shared session would count across peers.
    let script = format!(
        "var $n = 0\n\
         pipy.listen({port}, {{ protocol: 'udp', idleTimeout: 1 }}, $=>$\n\
           .onStart(() => {{ println('open') }})\n\
           .handleStreamEnd(e => println(`end ${{e.error}}`))\n\
           .replaceData(d => new Data(`${{++$n}}:${{d.size}}:` + d.toString().slice(0, 8)))\n\
         )\n"
    );
    let weir = start_udp(&script);
    let peers: Vec<UdpSocket> = (0..3).map(|_| client(port)).collect();
    // Sent back to back, so that a stream would merge them; a datagram is up to 60000 bytes.
    let sizes = [1usize, 2, 60000, 3];
    for p in &peers {
        for (i, n) in sizes.iter().enumerate() {
            p.send(&vec![b'a' + i as u8; *n]).unwrap();
        }
    }
    // An empty datagram is no event and opens no session.
    client(port).send(b"").unwrap();
    for p in &peers {
        for (i, n) in sizes.iter().enumerate() {
            let body = String::from_utf8(vec![b'a' + i as u8; (*n).min(8)]).unwrap();
            assert_eq!(recv_text(p), format!("{}:{n}:{body}", i + 1));
        }
    }
    // stdout comes through a pipe: wait for it rather than race it.
    assert_eq!(wait_lines(&weir, "open", 3, Duration::from_secs(2)), 3, "{:?}", weir.stdout());

    // No datagram for idleTimeout ends every session with IdleTimeout.
    let t0 = Instant::now();
    assert_eq!(wait_lines(&weir, "end IdleTimeout", 3, Duration::from_secs(5)), 3, "{:?}", weir.stdout());
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(700) && waited < Duration::from_secs(3), "expired after {waited:?}");

    // The same peer afterwards starts a new session: its count starts again.
    peers[0].send(b"again").unwrap();
    assert_eq!(recv_text(&peers[0]), "1:5:again");
    assert_eq!(wait_lines(&weir, "open", 4, Duration::from_secs(2)), 4);
}

#[test]
fn a_session_stays_while_it_talks_and_ends_when_its_output_ends() {
    let port = free_udp_port();
    // A datagram 'bye' makes the session end its output; the next one opens a new session.
    let script = format!(
        "var $n = 0\n\
         pipy.listen({port}, {{ protocol: 'udp', idleTimeout: 1 }}, $=>$\n\
           .replace(e => e instanceof Data ? (e.toString() === 'bye' ? new StreamEnd : new Data(`${{++$n}}`)) : e)\n\
           .onEnd(() => println('ended'))\n\
         )\n"
    );
    let weir = start_udp(&script);
    let c = client(port);
    // Traffic every 0.4 s keeps a 1 s idle timeout from firing.
    for i in 1..=6 {
        c.send(b"x").unwrap();
        assert_eq!(recv_text(&c), i.to_string());
        std::thread::sleep(Duration::from_millis(400));
    }
    assert!(weir.stdout().is_empty(), "{:?}", weir.stdout());
    c.send(b"bye").unwrap();
    assert_eq!(wait_lines(&weir, "ended", 1, Duration::from_secs(3)), 1);
    c.send(b"x").unwrap();
    assert_eq!(recv_text(&c), "1");
}

#[test]
fn max_connections_bounds_the_sessions_a_flood_of_peers_opens() {
    let port = free_udp_port();
    // The legacy form, as Pipy's test/curl/008 writes it.
    let script = format!(
        "pipy()\n\
         .listen({port}, {{ protocol: 'udp', idleTimeout: 1, maxConnections: 2 }})\n\
         .onStart(() => {{ println('open') }})\n\
         .replaceData(d => new Data('re:' + d.toString()))\n"
    );
    let weir = start_udp(&script);
    let flood: Vec<UdpSocket> = (0..200).map(|_| client(port)).collect();
    for c in &flood {
        c.send(b"hi").unwrap();
    }
    let mut answered = 0;
    for c in &flood {
        c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        if recv(c).is_some() {
            answered += 1;
        }
    }
    assert_eq!(answered, 2, "peers answered");
    assert_eq!(wait_lines(&weir, "open", 3, Duration::from_millis(500)), 2);

    // Once those two sessions expire, a new peer is served again.
    std::thread::sleep(Duration::from_millis(1600));
    let late = client(port);
    late.send(b"late").unwrap();
    assert_eq!(recv_text(&late), "re:late");
}

/// A UDP server that answers each datagram with `<its size> from <sender port>`.
fn udp_echo_server() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let mut answer = format!("{n} from {}:", from.port()).into_bytes();
            answer.extend_from_slice(&buf[..n.min(4)]);
            let _ = s.send_to(&answer, from);
        }
    });
    port
}

#[test]
fn connect_over_udp_sends_each_data_as_a_datagram_and_returns_each_reply() {
    let upstream = udp_echo_server();
    let port = free_udp_port();
    let script = format!("pipy.listen({port}, 'udp', $=>$.connect('127.0.0.1:{upstream}', {{ protocol: 'udp' }}))\n");
    let _weir = start_udp(&script);
    let a = client(port);
    let b = client(port);
    for s in [&a, &b] {
        s.send(b"one").unwrap();
        s.send(&[b'z'; 40000]).unwrap();
    }
    let mut upstream_ports = Vec::new();
    for s in [&a, &b] {
        let first = recv_text(s);
        let (size, rest) = first.split_once(" from ").unwrap();
        assert_eq!(size, "3");
        let (from, body) = rest.split_once(':').unwrap();
        assert_eq!(body, "one");
        assert_eq!(recv_text(s), format!("40000 from {from}:zzzz"));
        upstream_ports.push(from.to_string());
    }
    // One upstream socket per session.
    assert_ne!(upstream_ports[0], upstream_ports[1]);
}

#[test]
fn http_requests_through_a_udp_upstream() {
    // Each request becomes one datagram upstream; the reply datagram becomes the response.
    let upstream = udp_echo_server();
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
           .replaceMessage(req => new Data(req.body.toString() || 'empty'))\n\
           .connect('localhost:{upstream}', {{ protocol: 'udp' }})\n\
           .replaceData(d => new Message(d.toString().split(':')[1] + '\\n'))\n\
         ))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{port}/");
    let (code, body, err) = curl(&[&url, &url, "--next", "-d", "ping", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(body, "empt\nempt\nping\n");
}

#[test]
fn sigint_ends_the_open_udp_sessions_and_exits() {
    let port = free_udp_port();
    let script = format!(
        "pipy.listen({port}, 'udp', $=>$\n\
           .handleStreamEnd(e => println(`end ${{e.error}}`))\n\
           .replaceData(d => d)\n\
         )\n"
    );
    let mut weir = start_udp(&script);
    let peers: Vec<UdpSocket> = (0..3).map(|_| client(port)).collect();
    for p in &peers {
        p.send(b"hello").unwrap();
        assert_eq!(recv_text(p), "hello");
    }
    let t0 = Instant::now();
    weir.signal(libc::SIGINT);
    assert_eq!(weir.wait_exit(Duration::from_secs(5)), Some(0), "{:?}", weir.stderr());
    assert!(t0.elapsed() < Duration::from_secs(2), "stopping took {:?}", t0.elapsed());
    assert_eq!(wait_lines(&weir, "end undefined", 3, Duration::from_secs(1)), 3, "{:?}", weir.stdout());
}
