//! `pipy` members about the running instance and its connections: `since`, `source`, `uuid`,
//! `performance`, `tty`, `fork` and `inbound` (listing a live connection), by the built binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use weir_tests::*;

#[test]
fn instance_members_say_when_and_what_started() {
    let mut weir = Weir::start(
        "println(typeof pipy.since, pipy.since === pipy.performance.timeOrigin)\n\
         println(pipy.source.endsWith('main.js'), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(pipy.uuid))\n\
         var t = pipy.performance.now(); println(t >= 0 && t < 10000, pipy.tty.raw)\n\
         println(pipy.since)\n",
        &[],
    );
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    let out = weir.stdout();
    assert_eq!(out[..3], ["number true", "true true", "true false"]);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as f64;
    let since: f64 = out[3].parse().unwrap();
    assert!(since <= now && now - since < 60_000.0, "since {since}, now {now}");
}

#[test]
fn pipy_inbound_lists_live_connections_and_fork_has_fresh_context_variables() {
    let port = free_port();
    let script = format!(
        "var $n = 1\n\
         pipy.listen({port}, $=>$.serveHTTP(() => {{\n\
         \x20 $n = 5\n\
         \x20 var ports = []\n\
         \x20 pipy.inbound.forEach(ib => ports.push(ib.remotePort))\n\
         \x20 return new Message([pipy.inbound.count, ports.join(','), pipy.fork(() => $n), $n].join(' ') + '\\n')\n\
         }}))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut held = TcpStream::connect(("127.0.0.1", port)).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let held_port = held.local_addr().unwrap().port();
    // The held connection is accepted once it asks something.
    held.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 1024];
    assert!(held.read(&mut buf).unwrap() > 0);
    let (code, body, err) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 0, "{err}");
    let fields: Vec<&str> = body.trim().split(' ').collect();
    assert_eq!(fields[0], "2", "{body}");
    let ports: Vec<u16> = fields[1].split(',').map(|p| p.parse().unwrap()).collect();
    assert_eq!(ports[0], held_port, "oldest first: {body}");
    assert_eq!(fields[2..], ["1", "5"], "{body}");
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let (_, body, _) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert!(body.starts_with("1 "), "a closed connection is no longer listed: {body}");
}
