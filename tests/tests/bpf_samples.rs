//! samples/bpf/port-interceptor (tc) and samples/bpf/load-balancer (XDP) on the real kernel,
//! driven as their READMEs say, in network namespaces made for the test and joined by veth
//! pairs: nothing is attached to a host link. Weir runs each sample under `unshare --mount
//! --pid --fork --kill-child` inside its namespace, with a bpffs of its own, so that no pin
//! it makes is seen outside and nothing it starts outlives the test. After SIGINT each test
//! checks that no tc or XDP program is left on any link of the namespace, no pin is left,
//! and the program and its maps are gone from the kernel. Skips (loudly) when not root or
//! when bpf() is unavailable.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use weir_tests::tproxy::wait_until;
use weir_tests::*;

/// A network namespace made for this test, with lo up; deleted when dropped.
struct Ns {
    name: String,
}

impl Ns {
    fn new(tag: &str) -> Ns {
        let name = format!("wbs{}-{tag}", std::process::id());
        assert!(Command::new("ip").args(["netns", "add", &name]).status().unwrap().success(), "ip netns add {name}");
        let ns = Ns { name };
        ns.ok("ip", &["link", "set", "lo", "up"]);
        ns
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip").args(["netns", "exec", &self.name, program]).args(args).output().unwrap()
    }

    /// Runs `program args` in the namespace; its stdout, after checking it succeeded.
    fn ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.run(program, args);
        assert!(out.status.success(), "{program} {args:?} in {}: {}", self.name, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A veth pair: `here` in this namespace with `addr`, `there` in `peer` with `peer_addr`.
    fn veth(&self, here: &str, addr: &str, peer: &Ns, there: &str, peer_addr: &str) {
        self.ok("ip", &["link", "add", here, "type", "veth", "peer", "name", there, "netns", &peer.name]);
        self.ok("ip", &["addr", "add", addr, "dev", here]);
        self.ok("ip", &["link", "set", here, "up"]);
        peer.ok("ip", &["addr", "add", peer_addr, "dev", there]);
        peer.ok("ip", &["link", "set", there, "up"]);
    }

    /// The ids of the BPF programs on the namespace's links (`bpftool net`), tc and XDP alike.
    fn programs(&self) -> Vec<u32> {
        let shown = self.ok("bpftool", &["net"]);
        shown
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] == "id")
            .map(|w| w[1].parse().unwrap())
            .collect()
    }

    /// Runs weir on `script` in the namespace (`ip netns exec`), with `env`.
    fn weir(&self, script: &Path, env: &[(&str, String)]) -> Weir {
        Weir::run_wrapped(&["ip", "netns", "exec", &self.name], script, &[], TempDir::new(), |c| {
            c.envs(env.iter().cloned())
        })
    }

    /// Runs weir on `script` in the namespace, in a mount namespace with its own bpffs and a
    /// PID namespace; after weir exits, prints its exit code and the pins left.
    fn weir_private(&self, script: &Path, dir: TempDir, env: &[(&str, String)]) -> Weir {
        let wrapper = ["ip", "netns", "exec", &self.name, "unshare", "--mount", "--pid", "--fork", "--kill-child"];
        let wrapper: Vec<&str> = wrapper.into_iter().chain(["sh", "-c", AFTER, "sh"]).collect();
        Weir::run_wrapped(&wrapper, script, &[], dir, |c| c.envs(env.iter().cloned()))
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// What the wrapper prints after weir exits: its exit code and what is left on its bpffs
/// (which the kernel may fill with its own `maps.debug` and `progs.debug`).
const AFTER: &str = r#"mount -t bpf bpf /sys/fs/bpf || exit 99
"$@"
code=$?
echo "after: exit $code, pins [$(ls -A /sys/fs/bpf | grep -v '[.]debug$')]"
exit $code"#;

/// The pid of the first process below `pid` whose command is `comm`.
fn descendant(pid: u32, comm: &str) -> Option<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for c in children.split_whitespace().filter_map(|p| p.parse::<u32>().ok()) {
        if std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|n| n.trim() == comm) {
            return Some(c);
        }
        if let Some(d) = descendant(c, comm) {
            return Some(d);
        }
    }
    None
}

/// The map ids of program `id`.
fn maps_of(id: u32) -> Vec<u32> {
    let out = Command::new("bpftool").args(["prog", "show", "id", &id.to_string()]).output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    let ids = shown.split("map_ids ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or_default();
    ids.split(',').filter_map(|m| m.parse().ok()).collect()
}

fn exists(kind: &str, id: u32) -> bool {
    Command::new("bpftool").args([kind, "show", "id", &id.to_string()]).output().unwrap().status.success()
}

/// Sends SIGINT to the weir below the wrapper, then checks that it exited with 0 leaving no
/// pin, that no program is left on the links of `ns`, and that `programs` and their maps are
/// gone from the kernel.
fn interrupt_and_check_clean(mut weir: Weir, ns: &Ns, programs: &[u32]) {
    let maps: Vec<u32> = programs.iter().flat_map(|&p| maps_of(p)).collect();
    assert!(!maps.is_empty(), "no maps found for programs {programs:?}");
    let pid = descendant(weir.child.id(), "weir").expect("weir below the wrapper");
    // SAFETY: kill(2) on weir, a process this test started.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    assert_eq!(weir.wait_exit(Duration::from_secs(15)), Some(0), "stderr: {:?}", weir.stderr());
    assert_eq!(weir.stdout().last().map(String::as_str), Some("after: exit 0, pins []"));
    assert_eq!(ns.programs(), Vec::<u32>::new(), "programs left on links:\n{}", ns.ok("bpftool", &["net"]));
    for &p in programs {
        assert!(wait_until(Duration::from_secs(5), || !exists("prog", p)), "program {p} still loaded");
    }
    for &m in &maps {
        assert!(wait_until(Duration::from_secs(5), || !exists("map", m)), "map {m} still there");
    }
    eprintln!("after SIGINT: programs {programs:?} and maps {maps:?} gone, no pin, nothing on any link");
}

/// A copy of samples/bpf/`sample` (and the shared rtnl.js beside it) in `dir`, with `config`
/// written as `config_name`; the path of its main.js.
fn copy_sample(dir: &TempDir, sample: &str, files: &[&str], config_name: &str, config: &str) -> std::path::PathBuf {
    let from = workspace().join("samples/bpf");
    let to = dir.0.join(sample);
    std::fs::create_dir_all(&to).unwrap();
    std::fs::copy(from.join("rtnl.js"), dir.0.join("rtnl.js")).unwrap();
    for f in files {
        std::fs::copy(from.join(sample).join(f), to.join(f)).unwrap();
    }
    std::fs::write(to.join(config_name), config).unwrap();
    to.join("main.js")
}

#[test]
fn port_interceptor_answers_a_peer_from_the_interceptor_and_cleans_up() {
    require_ebpf!("port_interceptor_answers_a_peer_from_the_interceptor_and_cleans_up");
    let host = Ns::new("pi");
    let peer = Ns::new("pic");
    host.veth("wpi0", "10.0.0.1/24", &peer, "wpi1", "10.0.0.2/24");
    let (original, interceptor) = (free_port(), free_port());
    let dir = TempDir::new();
    let config = format!("interceptors:\n  - port: {interceptor}\n    originalPort: {original}\n");
    let main =
        copy_sample(&dir, "port-interceptor", &["main.js", "backend.js", "port-interceptor.o"], "config.yaml", &config);
    let env = [("BACKEND", original.to_string()), ("PROXY", interceptor.to_string())];
    let mut backend = host.weir(&main.with_file_name("backend.js"), &env);
    backend.wait_listening();
    let url = format!("http://10.0.0.1:{original}/");
    let before = peer.ok("curl", &["-s", "-i", "-m", "5", &url]);
    assert!(before.ends_with("hi\n") && !before.contains("Weir interceptor"), "before the sample: {before}");

    let mut weir = host.weir_private(&main, dir, &[("PIN", "/sys/fs/bpf/wpi".into())]);
    weir.wait_stderr("hooking wpi0", Duration::from_secs(10));
    assert!(wait_until(Duration::from_secs(5), || host.programs().len() == 2), "{}", host.ok("bpftool", &["net"]));
    let after = peer.ok("curl", &["-s", "-i", "-m", "5", &url]);
    assert!(after.contains("server: Weir interceptor") && after.ends_with("hi\n"), "with the sample: {after}");
    eprintln!("port {original} from the peer: before, the backend's own answer; with the sample, the interceptor's");
    // config.yaml is watched: with the interception gone from it, the backend answers again.
    std::fs::write(main.with_file_name("config.yaml"), "interceptors: []\n").unwrap();
    // Which server answered, or None: a connection under way as the maps change loses its
    // translation half-way (the programs keep no per-connection state) and is reset.
    let intercepted = || {
        let out = peer.run("curl", &["-s", "-i", "-m", "5", &url]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).contains("Weir interceptor"))
    };
    assert!(
        wait_until(Duration::from_secs(5), || intercepted() == Some(false)),
        "config change not applied; stderr {:?}",
        weir.stderr()
    );
    std::fs::write(main.with_file_name("config.yaml"), &config).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || intercepted() == Some(true)),
        "config change not applied; stderr {:?}",
        weir.stderr()
    );
    let mut programs = host.programs();
    programs.dedup();
    interrupt_and_check_clean(weir, &host, &programs);
    let qdiscs = host.ok("tc", &["qdisc", "show", "dev", "wpi0"]);
    assert!(!qdiscs.contains("clsact"), "clsact left on wpi0: {qdiscs}");
    let again = peer.ok("curl", &["-s", "-i", "-m", "5", &url]);
    assert!(!again.contains("Weir interceptor"), "still intercepted after SIGINT: {again}");
}

/// The load balancer's config: `vip:port` over the three upstreams, weights 1, 1 and 2.
fn balancer_config(port: u16, upstream_port: u16) -> String {
    let target =
        |n: u8, w: u8| format!("      - ip: 10.0.{n}.200\n        port: {upstream_port}\n        weight: {w}\n");
    format!(
        "balancers:\n  - ip: 10.0.0.100\n    port: {port}\n    targets:\n{}{}{}",
        target(1, 1),
        target(2, 1),
        target(3, 2)
    )
}

#[test]
fn load_balancer_spreads_connections_by_weight_and_cleans_up() {
    require_ebpf!("load_balancer_spreads_connections_by_weight_and_cleans_up");
    let (port, upstream_port) = (free_port(), free_port());
    let lb = Ns::new("lb");
    let client = Ns::new("cl");
    lb.veth("wlb0", "10.0.0.100/24", &client, "wlb", "10.0.0.200/24");
    let upstreams: Vec<Ns> = (1..=3).map(|n| Ns::new(&format!("s{n}"))).collect();
    let servers = TempDir::new();
    let mut running = Vec::new();
    for (i, ns) in upstreams.iter().enumerate() {
        let n = i + 1;
        lb.veth(&format!("wlb{n}"), &format!("10.0.{n}.100/24"), ns, "wlb", &format!("10.0.{n}.200/24"));
        let script = servers.0.join(format!("server{n}.js"));
        std::fs::write(&script, format!("pipy.listen({upstream_port}, $=>$.serveHTTP(new Message('server{n}')))"))
            .unwrap();
        let mut server = ns.weir(&script, &[]);
        server.wait_listening();
        // As the sample's README says: the balancer's host learns each upstream's MAC address.
        assert_eq!(
            lb.ok("curl", &["-s", "-m", "5", &format!("http://10.0.{n}.200:{upstream_port}/")]),
            format!("server{n}")
        );
        running.push(server);
    }
    let dir = TempDir::new();
    let main = copy_sample(
        &dir,
        "load-balancer",
        &["main.js", "load-balancer.o"],
        "config.yml",
        &balancer_config(port, upstream_port),
    );
    let mut weir = lb.weir_private(&main, dir, &[]);
    weir.wait_stderr("balancing 10.0.0.100", Duration::from_secs(10));
    // lo, the client's link and the three upstreams' links.
    assert!(wait_until(Duration::from_secs(5), || lb.programs().len() == 5), "{}", lb.ok("bpftool", &["net"]));

    let url = format!("http://10.0.0.100:{port}/");
    let mut answers = BTreeMap::new();
    for _ in 0..64 {
        *answers.entry(client.ok("curl", &["-s", "-m", "5", &url])).or_insert(0) += 1;
    }
    eprintln!("64 connections to the balancer answered by {answers:?}");
    // The ring has 64 slots filled 1:1:2; each connection takes the next one.
    let count = |s: &str| answers.get(s).copied().unwrap_or(0);
    let near = |n: i32, want: i32| (n - want).abs() <= 2;
    assert!(near(count("server1"), 16) && near(count("server2"), 16) && near(count("server3"), 32), "{answers:?}");
    let mut programs = lb.programs();
    programs.dedup();
    interrupt_and_check_clean(weir, &lb, &programs);
    let direct = client.run("curl", &["-s", "-m", "2", &url]);
    assert!(!direct.status.success(), "the balanced address still answers after SIGINT");
}
