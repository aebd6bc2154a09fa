//! samples/bpf/transparent-proxy without root: as `nobody`, with only CAP_BPF, CAP_NET_ADMIN
//! and CAP_PERFMON (what deploy/ grants), the sample attaches, intercepts and logs; without
//! one of them it stops before loading anything, naming what it lacks, and attaches nothing.

use std::process::Command;
use std::time::Duration;

use weir_tests::cgroup::TestCgroup;
use weir_tests::tproxy::*;
use weir_tests::*;

/// `setpriv` running weir as nobody with exactly `caps` (e.g. "+bpf,+net_admin").
fn as_nobody(caps: &str) -> Vec<String> {
    let set = format!("-all,{caps}");
    ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--inh-caps={set}"), format!("--ambient-caps={set}"), format!("--bounding-set={set}")])
        .collect()
}

/// weir started by `setpriv` as nobody with `caps`, on copies of the binary and the sample in
/// a folder anyone can read (a checkout may sit where only root can enter).
fn start_as_nobody(cg: &TestCgroup, caps: &str) -> Weir {
    use std::os::unix::fs::PermissionsExt;
    let readable =
        |path: &std::path::Path, mode| std::fs::set_permissions(path, PermissionsExt::from_mode(mode)).unwrap();
    let dir = TempDir::new();
    readable(&dir.0, 0o755);
    let sample = sample("main.js");
    for f in sample_files(&[".js", ".o"]) {
        std::fs::copy(sample.parent().unwrap().join(&f), dir.0.join(&f)).unwrap();
        readable(&dir.0.join(&f), 0o644);
    }
    let bin = dir.0.join("weir");
    std::fs::copy(weir_bin(), &bin).unwrap();
    readable(&bin, 0o755);
    let script = dir.0.join("main.js");
    let wrapper = as_nobody(caps);
    let wrapper: Vec<&str> = wrapper.iter().map(|s| s.as_str()).collect();
    Weir::run_binary(&bin, &wrapper, &script, &[], dir, |c| {
        c.env("CGROUP", &cg.path).env("PROXY_PORT", free_port().to_string())
    })
}

#[test]
fn the_sample_runs_as_nobody_with_bpf_net_admin_and_perfmon() {
    require_ebpf!("the_sample_runs_as_nobody_with_bpf_net_admin_and_perfmon");
    let cg = TestCgroup::create();
    let server = HttpServer::ok("unprivileged\n");
    let mut weir = start_as_nobody(&cg, "+bpf,+net_admin,+perfmon");
    weir.wait_stderr("intercepting TCP connects", Duration::from_secs(10));
    let status = std::fs::read_to_string(format!("/proc/{}/status", weir.child.id())).unwrap();
    assert!(status.lines().any(|l| l.starts_with("Uid:") && l.contains("65534")), "{status}");
    let (code, body, err) = curl_in(&cg, &[&format!("http://127.0.0.1:{}/", server.port)]);
    assert_eq!((code, body.as_str()), (0, "unprivileged\n"), "{err}");
    let logged = weir.wait_stdout_lines(1, Duration::from_secs(10));
    assert!(logged.iter().any(|l| l.contains(&format!("127.0.0.1:{}", server.port))), "{logged:?}");
}

#[test]
fn without_a_capability_the_sample_stops_before_loading_naming_it_and_attaches_nothing() {
    require_ebpf!("without_a_capability_the_sample_stops_before_loading_naming_it_and_attaches_nothing");
    let grant = "; run as root or grant CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON (see deploy/)";
    let cases = [
        ("+net_admin,+perfmon", format!("this process lacks CAP_BPF{grant}")),
        ("+bpf,+perfmon", format!("this process lacks CAP_NET_ADMIN{grant}")),
        ("+bpf,+net_admin", format!("this process lacks CAP_PERFMON{grant}")),
        ("+net_admin", format!("this process lacks CAP_BPF, CAP_PERFMON{grant}")),
    ];
    for (caps, said) in &cases {
        let cg = TestCgroup::create();
        let mut weir = start_as_nobody(&cg, caps);
        assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255), "{caps}");
        let err = weir.stderr().join("\n");
        assert!(err.contains("preflight.js:") && err.contains(said.as_str()), "{caps}: {err}");
        let tree = Command::new("bpftool").args(["cgroup", "show", cg.path.to_str().unwrap()]).output().unwrap();
        assert!(!String::from_utf8_lossy(&tree.stdout).contains("cg_"), "{caps}: attached: {tree:?}");
    }
}
