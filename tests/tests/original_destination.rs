//! Where a client meant to connect, as a proxy that iptables sent the connection to sees it:
//! `inbound.destinationAddress` and `destinationPort` after a NAT `REDIRECT`, and the inbound's
//! own address on a listener opened with `transparent: true` after a `TPROXY`. In network
//! namespaces the tests make; nothing is changed in the host's namespace.

use std::time::Duration;

use weir_tests::tproxy::NetNs;
use weir_tests::*;

/// Answers each request with the destination its connection's inbound names.
const SCRIPT: &str = r#"
var $dst
var tell = $=>$
  .onStart(ib => { $dst = `${ib.destinationAddress} ${ib.destinationPort}` })
  .serveHTTP(() => new Message($dst))
pipy.listen(`127.0.0.1:${os.env.PORT}`, tell)
pipy.listen(`[::1]:${os.env.PORT}`, tell)
"#;

fn curl_in(ns: &NetNs, url: &str) -> String {
    let out = ns.command("curl", &["-sS", "--max-time", "10", url]).output().expect("curl");
    assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_redirected_connection_names_where_its_client_meant_to_go() {
    let ns = NetNs::create();
    let port = free_port().to_string();
    for (tables, to) in [("iptables", "127.0.0.1"), ("ip6tables", "::1")] {
        let rule = ["-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", to, "--dport", "80", "-j", "REDIRECT"];
        let ok = ns.command(tables, &[&rule[..], &["--to-ports", &port]].concat()).status().unwrap().success();
        assert!(ok, "{tables} REDIRECT in {}", ns.name);
    }
    let dir = TempDir::new();
    let script = dir.0.join("main.js");
    std::fs::write(&script, SCRIPT).unwrap();
    let mut weir = Weir::run_wrapped(&["ip", "netns", "exec", &ns.name], &script, &[], dir, |c| c.env("PORT", &port));
    weir.wait_listening();
    std::thread::sleep(Duration::from_millis(200));

    assert_eq!(curl_in(&ns, "http://127.0.0.1:80/"), "127.0.0.1 80");
    assert_eq!(curl_in(&ns, "http://[::1]:80/"), "::1 80");
    // Not redirected: the kernel's record of the connection names the proxy's own address.
    assert_eq!(curl_in(&ns, &format!("http://127.0.0.1:{port}/")), format!("127.0.0.1 {port}"));
}

/// Answers each request with the addresses its connection's inbound names.
const TRANSPARENT: &str = r#"
var tell = $=>$.serveHTTP(
  () => new Message(`${__inbound.localAddress} ${__inbound.localPort} from ${__inbound.remoteAddress}`)
)
pipy.listen(`0.0.0.0:${os.env.PORT4}`, { transparent: true }, tell)
pipy.listen(`[::]:${os.env.PORT6}`, { transparent: true }, tell)
"#;

/// A client namespace whose default routes (IPv4 and IPv6) lead through a veth pair to a
/// gateway namespace, where iptables `TPROXY` hands TCP to port 80 of 198.51.100.7 and
/// 2001:db8::7 to the local ports `port4` and `port6`.
fn tproxy_gateway(port4: &str, port6: &str) -> (NetNs, NetNs) {
    let (client, gateway) = (NetNs::create(), NetNs::create());
    let run = |ns: &NetNs, cmd: &str| {
        let args: Vec<&str> = cmd.split(' ').collect();
        assert!(ns.command(args[0], &args[1..]).status().unwrap().success(), "{cmd} in {}", ns.name);
    };
    run(&client, &format!("ip link add va type veth peer name vb netns {}", gateway.name));
    for (ns, dev, v4, v6) in
        [(&client, "va", "10.77.0.1/24", "fd77::1/64"), (&gateway, "vb", "10.77.0.2/24", "fd77::2/64")]
    {
        run(ns, &format!("ip addr add {v4} dev {dev}"));
        run(ns, &format!("ip -6 addr add {v6} dev {dev} nodad"));
        run(ns, &format!("ip link set {dev} up"));
    }
    run(&client, "ip route add default via 10.77.0.2");
    run(&client, "ip -6 route add default via fd77::2");
    for (tables, ip, dst, port) in
        [("iptables", "ip", "198.51.100.7", port4), ("ip6tables", "ip -6", "2001:db8::7", port6)]
    {
        let rule =
            format!("-t mangle -A PREROUTING -p tcp -d {dst} --dport 80 -j TPROXY --on-port {port} --tproxy-mark 1");
        run(&gateway, &format!("{tables} {rule}"));
        run(&gateway, &format!("{ip} rule add fwmark 1 lookup 100"));
        let all = if tables == "iptables" { "0.0.0.0/0" } else { "::/0" };
        run(&gateway, &format!("{ip} route add local {all} dev lo table 100"));
    }
    (client, gateway)
}

#[test]
fn a_transparent_listener_takes_connections_tproxy_hands_it_for_other_addresses() {
    let (port4, port6) = (free_port().to_string(), free_port().to_string());
    let (client, gateway) = tproxy_gateway(&port4, &port6);
    let dir = TempDir::new();
    let script = dir.0.join("main.js");
    std::fs::write(&script, TRANSPARENT).unwrap();
    let mut weir = Weir::run_wrapped(&["ip", "netns", "exec", &gateway.name], &script, &[], dir, |c| {
        c.env("PORT4", &port4).env("PORT6", &port6)
    });
    weir.wait_listening();
    std::thread::sleep(Duration::from_millis(200));

    // The connection keeps the address the client asked for as its local end.
    assert_eq!(curl_in(&client, "http://198.51.100.7/"), "198.51.100.7 80 from 10.77.0.1");
    assert_eq!(curl_in(&client, "http://[2001:db8::7]/"), "2001:db8::7 80 from fd77::1");
}

#[test]
fn a_transparent_listener_without_the_capability_stops_the_start_saying_why() {
    let dir = TempDir::new();
    let script = dir.0.join("main.js");
    std::fs::write(
        &script,
        format!("pipy.listen('127.0.0.1:{}', {{ transparent: true }}, $=>$.dummy())\n", free_port()),
    )
    .unwrap();
    let drop = ["setpriv", "--inh-caps=-net_admin,-net_raw", "--bounding-set=-net_admin,-net_raw"];
    let mut weir = Weir::run_wrapped(&drop, &script, &[], dir, |c| c);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    let said = weir.stderr().join("\n");
    assert!(said.contains("option transparent: Operation not permitted") && said.contains("CAP_NET_ADMIN"), "{said}");
}
