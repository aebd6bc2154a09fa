//! `bpf.attach`/`bpf.detach` of a program loaded from `.text` (as Pipy's transparent-proxy
//! sample loads its three), and per-CPU maps, on the real kernel. The program
//! (runtime-ebpf/cgroup-counter.c) counts the connects of a child cgroup made by the test, per
//! CPU, and redirects one port to another; curl runs inside that cgroup pinned to each CPU in
//! turn, and the script reads the counts back. Weir itself runs outside the cgroup, so its
//! own connects are neither redirected nor counted. Skips (loudly) when not root or when
//! cgroup v2 or bpf() is unavailable.

use std::time::Duration;

use weir_tests::cgroup::TestCgroup;
use weir_tests::tproxy::{curl_in, run_in, wait_until};
use weir_tests::*;

const SCRIPT: &str = r#"
var obj = bpf.object(pipy.load('cgroup-counter.o'))
var prog = obj.programs.find(p => p.name === 'count_connect4')
  .load('BPF_PROG_TYPE_CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET4_CONNECT')
var map = name => obj.maps.find(m => m.name === name)
var CGROUP = os.env.CGROUP

map('config').update({ i: 0 }, { from_port: +os.env.FROM_PORT, to_port: +os.env.TO_PORT })
// One value per CPU, and one value for every CPU.
var cpus = map('total').lookup({ i: 0 }).length
map('total').update({ i: 0 }, Array.from({ length: cpus }, (_, c) => ({ i: 1000 * (c + 1) })))
map('by_uid').update({ i: 4242 }, { i: 7 })
try {
  map('total').update({ i: 0 }, [])
} catch (e) {
  println('refused:', e.message)
}

bpf.attach('BPF_CGROUP_INET4_CONNECT', prog.fd, CGROUP)
pipy.exit(() => bpf.detach('BPF_CGROUP_INET4_CONNECT', prog.fd, CGROUP))
println('attached', prog.size, cpus)
var listed = bpf.Program.list().find(p => p.id === prog.id)
println('listed', listed.name, listed.type, map('config').create() === map('config'))

var big = (k, v) => typeof v === 'bigint' ? Number(v) : v
pipy.listen(+os.env.PORT, $=>$
  .serveHTTP(() => new Message(JSON.stringify({
    total: map('total').lookup({ i: 0 }),
    byPort: map('by_port').entries(),
    byUid: map('by_uid').entries(),
  }, big)))
)
"#;

/// The number of possible CPUs (a per-CPU map's value count) and the online ones.
fn cpus() -> (usize, Vec<usize>) {
    let read = |f: &str| std::fs::read_to_string(format!("/sys/devices/system/cpu/{f}")).unwrap();
    let list = |s: String| -> Vec<usize> {
        let mut out = Vec::new();
        for part in s.trim().split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            out.extend(a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap());
        }
        out
    };
    (list(read("possible")).last().unwrap() + 1, list(read("online")))
}

/// weir running SCRIPT on `cg`, sending connects to `from` to `to`; its HTTP port.
fn start(cg: &TestCgroup, from: u16, to: u16) -> (Weir, u16) {
    let dir = TempDir::new();
    let object = workspace().join("tests/bpf/cgroup-counter.o");
    std::fs::copy(&object, dir.0.join("cgroup-counter.o")).unwrap();
    std::fs::write(dir.0.join("main.js"), SCRIPT).unwrap();
    let port = free_port();
    let path = dir.0.join("main.js");
    let mut weir = Weir::run_file(&path, &[], dir, |c| {
        c.env("CGROUP", &cg.path)
            .env("FROM_PORT", from.to_string())
            .env("TO_PORT", to.to_string())
            .env("PORT", port.to_string())
    });
    weir.wait_listening();
    (weir, port)
}

fn get(v: &serde_json::Value, path: &[&str]) -> serde_json::Value {
    path.iter().fold(v.clone(), |v, k| v[*k].clone())
}

#[test]
fn a_text_program_attaches_to_a_cgroup_counts_per_cpu_and_sigint_detaches() {
    require_ebpf!("a_text_program_attaches_to_a_cgroup_counts_per_cpu_and_sigint_detaches");
    let cg = TestCgroup::create();
    let (a, b) = (HttpServer::ok("A\n"), HttpServer::ok("B\n"));
    let (mut weir, port) = start(&cg, a.port, b.port);
    let lines = weir.wait_stdout_lines(3, Duration::from_secs(10));
    let (possible, online) = cpus();
    // bpf.Program.list() has the loaded program (type 18: CGROUP_SOCK_ADDR); Map.create()
    // returns the map itself.
    assert_eq!(lines[2], "listed count_connect4 18 true", "{lines:?}");
    assert!(lines[0].starts_with("refused: Map.update: value: a per-CPU map takes"), "{lines:?}");
    assert!(lines[1].starts_with("attached ") && lines[1].ends_with(&format!(" {possible}")), "{lines:?}");
    assert_eq!(cg.attached().len(), 1, "{:?}", cg.attached());

    // CPU c makes c + 2 connects to A, each sent to B by the program.
    let target = format!("http://127.0.0.1:{}/", a.port);
    for &c in &online {
        for _ in 0..c + 2 {
            let out = run_in(&cg, "taskset", &["-c", &c.to_string(), "curl", "-sS", "--max-time", "10", &target]);
            assert_eq!(String::from_utf8_lossy(&out.stdout), "B\n", "{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let (code, body, err) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 0, "{err}");
    let counts: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let total = counts["total"].as_array().unwrap();
    assert_eq!(total.len(), possible, "one value per possible CPU: {counts}");
    let by_port = counts["byPort"].as_array().unwrap();
    let a_counts = &by_port.iter().find(|e| e[0]["i"] == a.port).unwrap_or_else(|| panic!("{counts}"))[1];
    for &c in &online {
        let made = (c + 2) as u64;
        assert_eq!(get(&total[c], &["i"]), 1000 * (c as u64 + 1) + made, "CPU {c}: {counts}");
        assert_eq!(get(&a_counts[c], &["connects"]), made, "CPU {c}: {counts}");
        assert_eq!(get(&a_counts[c], &["redirected"]), made, "CPU {c}: {counts}");
    }
    let by_uid = counts["byUid"].as_array().unwrap();
    let set = by_uid.iter().find(|e| e[0]["i"] == 4242).unwrap_or_else(|| panic!("{counts}"));
    assert!(set[1].as_array().unwrap().iter().all(|v| v["i"] == 7), "one value for every CPU: {counts}");

    weir.signal(libc::SIGINT);
    assert!(weir.wait_exit(Duration::from_secs(10)).is_some(), "weir did not stop on SIGINT");
    assert!(cg.attached().is_empty(), "still attached after SIGINT: {:?}", cg.attached());
    let (code, body, err) = curl_in(&cg, &[&target]);
    assert_eq!((code, body.as_str()), (0, "A\n"), "direct connect after exit: {err}");
}

#[test]
fn kill_9_leaves_the_text_program_attached_nowhere() {
    require_ebpf!("kill_9_leaves_the_text_program_attached_nowhere");
    let cg = TestCgroup::create();
    let (a, b) = (HttpServer::ok("A\n"), HttpServer::ok("B\n"));
    let (mut weir, _) = start(&cg, a.port, b.port);
    weir.wait_stdout_lines(3, Duration::from_secs(10));
    assert_eq!(cg.attached().len(), 1, "{:?}", cg.attached());
    weir.signal(libc::SIGKILL);
    weir.wait_exit(Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(3), || cg.attached().is_empty()),
        "attached after kill -9: {:?}",
        cg.attached()
    );
    let (code, body, err) = curl_in(&cg, &[&format!("http://127.0.0.1:{}/", a.port)]);
    assert_eq!((code, body.as_str()), (0, "A\n"), "{err}");
}

const TARGETS: &str = r#"
var obj = bpf.object(pipy.load('attach-targets.o'))
var dissect = obj.programs.find(p => p.name === 'dissect').load('BPF_PROG_TYPE_FLOW_DISSECTOR')
var msg = obj.programs.find(p => p.name === 'msg_pass').load('BPF_PROG_TYPE_SK_MSG')
var socks = obj.maps.find(m => m.name === 'socks')

// No target: the network namespace Weir runs in. A number: an fd, here the sockmap's.
bpf.attach('BPF_FLOW_DISSECTOR', dissect.fd)
bpf.attach('BPF_SK_MSG_VERDICT', msg.fd, socks.fd)
pipy.exit(() => {
  bpf.detach('BPF_FLOW_DISSECTOR', dissect.fd)
  bpf.detach('BPF_SK_MSG_VERDICT', msg.fd, socks.fd)
})
println('attached', dissect.id, msg.id)
pipy.listen(+os.env.PORT, $=>$.serveHTTP(new Message('up')))
"#;

/// A network namespace made for the test, with lo up; deleted when dropped.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("wba{}", std::process::id());
        let ok = |args: &[&str]| assert!(std::process::Command::new("ip").args(args).status().unwrap().success());
        ok(&["netns", "add", &name]);
        let ns = Netns(name);
        ok(&["-n", &ns.0, "link", "set", "lo", "up"]);
        ns
    }

    fn bpftool(&self, args: &[&str]) -> String {
        let out =
            std::process::Command::new("ip").args(["netns", "exec", &self.0, "bpftool"]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// The ids of the programs `bpftool link` lists links for.
fn linked_programs() -> Vec<String> {
    let out = std::process::Command::new("bpftool").args(["link", "show"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(2).filter(|w| w[0] == "prog").map(|w| w[1].to_string()).collect()
}

#[test]
fn programs_attach_to_weirs_own_network_namespace_and_to_a_sockmap_fd() {
    require_ebpf!("programs_attach_to_weirs_own_network_namespace_and_to_a_sockmap_fd");
    let ns = Netns::new();
    let dir = TempDir::new();
    std::fs::copy(workspace().join("tests/bpf/attach-targets.o"), dir.0.join("attach-targets.o")).unwrap();
    std::fs::write(dir.0.join("main.js"), TARGETS).unwrap();
    let path = dir.0.join("main.js");
    let wrapper = ["ip", "netns", "exec", ns.0.as_str()];
    let mut weir = Weir::run_wrapped(&wrapper, &path, &[], dir, |c| c.env("PORT", free_port().to_string()));
    weir.wait_listening();
    let line = weir.wait_stdout_lines(1, Duration::from_secs(10))[0].clone();
    let ids: Vec<String> = line.split_whitespace().skip(1).map(String::from).collect();
    assert_eq!(ids.len(), 2, "{line}");
    let net = ns.bpftool(&["net"]);
    assert!(net.contains(&format!("id {}", ids[0])), "no flow dissector in the namespace: {net}");
    let linked = linked_programs();
    assert!(ids.iter().all(|id| linked.contains(id)), "links {linked:?}, programs {ids:?}");

    weir.signal(libc::SIGINT);
    assert!(weir.wait_exit(Duration::from_secs(10)).is_some(), "weir did not stop on SIGINT");
    let net = ns.bpftool(&["net"]);
    assert!(!net.contains(&format!("id {}", ids[0])), "flow dissector left after SIGINT: {net}");
    let linked = linked_programs();
    assert!(!ids.iter().any(|id| linked.contains(id)), "links left after SIGINT {linked:?}, programs {ids:?}");
}

/// `map.lookupAndDelete` (Weir's): the value and the entry gone in one call, `null` for a key
/// that is not there (where `lookup` throws), per-CPU values as `lookup` gives them, and a
/// clear error from a map type that has no such operation (an array).
const TAKE: &str = r#"
var obj = bpf.object(pipy.load('cgroup-counter.o'))
var map = name => obj.maps.find(m => m.name === name)
var cpus = map('total').lookup({ i: 0 }).length
map('by_uid').update({ i: 99 }, { i: 5 })
var taken = map('by_uid').lookupAndDelete({ i: 99 })
var again = map('by_uid').lookupAndDelete({ i: 99 })
var left = map('by_uid').keys().filter(k => k.i === 99).length
println('taken', taken.length === cpus && taken.every(v => v.i == 5), again, left)
try {
  map('config').lookupAndDelete({ i: 0 })
} catch (e) {
  println('array:', e.message)
}
"#;

#[test]
fn lookup_and_delete_takes_an_entry_out_in_one_call() {
    require_ebpf!("lookup_and_delete_takes_an_entry_out_in_one_call");
    let dir = TempDir::new();
    std::fs::copy(workspace().join("tests/bpf/cgroup-counter.o"), dir.0.join("cgroup-counter.o")).unwrap();
    std::fs::write(dir.0.join("main.js"), TAKE).unwrap();
    let path = dir.0.join("main.js");
    let mut weir = Weir::run_file(&path, &[], dir, |c| c);
    let lines = weir.wait_stdout_lines(2, Duration::from_secs(10));
    assert_eq!(lines.first().map(String::as_str), Some("taken true null 0"), "{lines:?} {:?}", weir.stderr());
    assert!(
        lines[1].starts_with("array: Map.lookupAndDelete: syscall BPF_MAP_LOOKUP_AND_DELETE_ELEM failed"),
        "{lines:?}"
    );
    weir.wait_exit(Duration::from_secs(10));
}
