//! `STUN.encode`/`STUN.decode` against a STUN server over real UDP (tests/scripts/stun_peer.py,
//! which answers with a padded SOFTWARE attribute and then XOR-MAPPED-ADDRESS), sent through
//! `connect(..., { protocol: 'udp' })` as Pipy's nat sample does: the address the server saw
//! must be the one `pipy.outbound` shows as the socket's own.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use weir_tests::*;

struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The STUN server on 127.0.0.1 (`"4"`) or ::1 (`"6"`), and its port.
fn stun_peer(family: &str) -> (Peer, u16) {
    let script = workspace().join("tests/scripts/stun_peer.py");
    let mut child =
        Command::new("python3").arg(script).arg(family).stdout(Stdio::piped()).spawn().expect("python3 stun_peer.py");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().parse().unwrap_or_else(|_| panic!("stun_peer.py printed {line:?}"));
    (Peer(child), port)
}

fn discover(target: &str) -> Vec<String> {
    let script = format!(
        "var tid = new Data([1,2,3,4,5,6,7,8,9,10,11,12])\n\
         pipeline($=>$\n\
         \x20 .onStart(new Data)\n\
         \x20 .replaceData(() => STUN.encode({{ type: 'BindingRequest', transactionId: tid }}))\n\
         \x20 .connect('{target}', {{ protocol: 'udp' }})\n\
         \x20 .handleData(d => {{\n\
         \x20   var r = STUN.decode(d), a = r.mappedAddress, mine = []\n\
         \x20   pipy.outbound.forEach(o => mine.push([o.state, o.localAddress, o.localPort].join(' ')))\n\
         \x20   println(r.type, r.transactionId.toString('hex'), a.family)\n\
         \x20   println('server saw', a.ip, a.port)\n\
         \x20   println(pipy.outbound.count, mine.join())\n\
         \x20   pipy.exit(0)\n\
         \x20 }})\n\
         ).spawn()\n"
    );
    let mut weir = Weir::start(&script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    weir.stdout()
}

#[test]
fn a_binding_request_over_udp_learns_the_address_the_server_saw() {
    let (_peer, port) = stun_peer("4");
    let out = discover(&format!("127.0.0.1:{port}"));
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0], "BindingResponse 0102030405060708090a0b0c IPv4");
    let saw = out[1].strip_prefix("server saw ").unwrap();
    assert_eq!(out[2], format!("1 connected {saw}"), "{out:?}");
}

#[test]
fn an_ipv6_mapped_address_is_written_out_in_full() {
    let (_peer, port) = stun_peer("6");
    let out = discover(&format!("[::1]:{port}"));
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0], "BindingResponse 0102030405060708090a0b0c IPv6");
    let saw: Vec<&str> = out[1].split(' ').collect();
    // Pipy's text for ::1: eight groups, never shortened.
    assert_eq!(saw[2], "0000:0000:0000:0000:0000:0000:0000:0001", "{out:?}");
    assert_eq!(out[2], format!("1 connected ::1 {}", saw[3]), "{out:?}");
}
