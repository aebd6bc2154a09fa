//! `inbound.destinationAddress` and `destinationPort`: where a client meant to connect before
//! an iptables `REDIRECT` sent it to the proxy, as a script reads it in `onStart`. In a
//! network namespace the test makes, whose NAT rules send connects to port 80 (IPv4 and
//! IPv6 loopback) to the proxy; nothing is changed in the host's namespace.

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
