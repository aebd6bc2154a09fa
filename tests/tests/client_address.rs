//! samples/bpf/transparent-proxy with CLIENT_ADDRESS=1: the upstream connection leaves from
//! the client's address, so a server that answers with its peer's address names the client,
//! not the proxy. On loopback (a client bound to 127.0.0.2 in a test cgroup) and across a
//! test-made network namespace pair, where the client's address is not one the proxy's
//! namespace owns and the replies need policy routing there. Nothing is routed on the host.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use weir_tests::cgroup::TestCgroup;
use weir_tests::tproxy::*;
use weir_tests::*;

/// An HTTP server on `argv[1]`, port 0: prints its port, then answers each request with the
/// address of its peer as the body, and prints it.
const PEER_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.bind((sys.argv[1], 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
while True:
    c, a = s.accept(); c.recv(65536)
    print('peer', a[0], flush=True)
    body = a[0].encode()
    c.sendall(b'HTTP/1.1 200 OK\r\ncontent-length: %d\r\nconnection: close\r\n\r\n' % len(body) + body)
    c.close()
"#;

/// A [`PEER_SERVER`], stopped when dropped, also when a test fails.
struct PeerServer(Child);

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts [`PEER_SERVER`] with `cmd` (python3 here or in a namespace): the server and its port.
fn peer_server(mut cmd: Command) -> (PeerServer, u16) {
    let mut server = PeerServer(cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("python3"));
    let mut line = String::new();
    BufReader::new(server.0.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().parse().unwrap_or_else(|_| panic!("peer server said {line:?}"));
    (server, port)
}

fn curl_body(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn on_loopback_the_server_sees_the_clients_address() {
    require_ebpf!("on_loopback_the_server_sees_the_clients_address");
    let cg = TestCgroup::create();
    let mut py = Command::new("python3");
    py.args(["-c", PEER_SERVER, "127.0.0.1"]);
    let (_server, port) = peer_server(py);
    let url = format!("http://127.0.0.1:{port}/");
    let ask = |weir: &Weir| {
        let mut curl = Command::new("curl");
        curl.args(["-sS", "--max-time", "5", "--interface", "127.0.0.2", &url]);
        let body = curl_body(cg.enter(&mut curl));
        assert_eq!(
            weir.wait_stdout_lines(1, Duration::from_secs(5)).first().map(String::as_str),
            Some(format!("GET / 127.0.0.1:{port}").as_str())
        );
        body
    };
    for (mode, expected) in [("0", "127.0.0.1"), ("1", "127.0.0.2")] {
        let env = [("CLIENT_ADDRESS", mode)];
        let (mut weir, _) = start_proxy_with(&cg, None, &[], &env, free_port(), "main.js", &[]);
        assert_eq!(ask(&weir), expected, "CLIENT_ADDRESS={mode}; weir: {:?}", weir.stderr());
        weir.signal(libc::SIGINT);
        assert!(weir.wait_exit(Duration::from_secs(10)).is_some());
    }
}

/// Runs `ip` with `args` in the host's namespace (only to move veth ends and to name
/// namespaces) or, through `ip -n`, in a test namespace.
fn ip(args: &[&str]) {
    let ok = Command::new("ip").args(args).status().is_ok_and(|s| s.success());
    assert!(ok, "ip {}", args.join(" "));
}

fn run(ns: &NetNs, program: &str, args: &[&str]) {
    let ok = ns.command(program, args).status().is_ok_and(|s| s.success());
    assert!(ok, "{program} {} in {}", args.join(" "), ns.name);
}

/// Client namespace A (10.23.0.2) routed to B (10.23.0.1), which holds the server
/// (10.23.1.1 on its loopback) and the proxy. B sends the client's connects to the server
/// to the proxy (DNAT to 127.0.0.1:`proxy_port`, which the proxy's getsockopt fallback
/// answers), and delivers the server's replies to the client's address locally: that
/// address is A's, and B would otherwise route them out to A.
fn namespace_pair(proxy_port: u16) -> (NetNs, NetNs) {
    let (a, b) = (NetNs::create(), NetNs::create());
    let n = std::process::id() % 100_000;
    let (va, vb) = (format!("wca{n}"), format!("wcb{n}"));
    ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb]);
    ip(&["link", "set", &va, "netns", &a.name]);
    ip(&["link", "set", &vb, "netns", &b.name]);
    ip(&["-n", &a.name, "addr", "add", "10.23.0.2/24", "dev", &va]);
    ip(&["-n", &a.name, "link", "set", &va, "up"]);
    ip(&["-n", &a.name, "route", "add", "10.23.1.0/24", "via", "10.23.0.1"]);
    ip(&["-n", &b.name, "addr", "add", "10.23.0.1/24", "dev", &vb]);
    ip(&["-n", &b.name, "link", "set", &vb, "up"]);
    ip(&["-n", &b.name, "addr", "add", "10.23.1.1/32", "dev", "lo"]);
    run(&b, "sysctl", &["-q", &format!("net.ipv4.conf.{vb}.route_localnet=1")]);
    let to = format!("127.0.0.1:{proxy_port}");
    let dnat = ["-t", "nat", "-A", "PREROUTING", "-i", &vb, "-p", "tcp", "-d", "10.23.1.1", "-j", "DNAT"];
    run(&b, "iptables", &[&dnat[..], &["--to-destination", &to]].concat());
    ip(&["-n", &b.name, "rule", "add", "from", "10.23.1.1", "lookup", "100"]);
    ip(&["-n", &b.name, "route", "add", "local", "10.23.0.0/24", "dev", "lo", "table", "100"]);
    (a, b)
}

#[test]
fn across_namespaces_the_server_sees_the_clients_address() {
    require_ebpf!("across_namespaces_the_server_sees_the_clients_address");
    if Command::new("iptables").arg("-V").output().is_err() {
        weir_tests::cgroup::record_skip("across_namespaces_the_server_sees_the_clients_address", "no iptables");
        return;
    }
    let cg = TestCgroup::create();
    let proxy_port = free_port();
    let (a, b) = namespace_pair(proxy_port);
    let (_server, port) = peer_server(b.command("python3", &["-c", PEER_SERVER, "10.23.1.1"]));
    let url = format!("http://10.23.1.1:{port}/");
    // nsenter, not `ip netns exec`, which mounts a /sys of its own without the cgroup tree.
    let netns = format!("--net=/var/run/netns/{}", b.name);
    for (mode, expected) in [("0", "10.23.1.1"), ("1", "10.23.0.2")] {
        let env = [("CLIENT_ADDRESS", mode)];
        let (mut weir, _) = start_proxy_with(&cg, None, &["nsenter", &netns], &env, proxy_port, "main.js", &[]);
        let body = curl_body(&mut a.command("curl", &["-sS", "--max-time", "5", &url]));
        assert_eq!(body, expected, "CLIENT_ADDRESS={mode}; weir: {:?}", weir.stderr());
        assert_eq!(
            weir.wait_stdout_lines(1, Duration::from_secs(5)).first().map(String::as_str),
            Some(format!("GET / 10.23.1.1:{port}").as_str())
        );
        weir.signal(libc::SIGINT);
        assert!(weir.wait_exit(Duration::from_secs(10)).is_some());
    }
}
