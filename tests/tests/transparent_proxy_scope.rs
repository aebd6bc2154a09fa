//! The transparent-proxy sample's scope (SCOPE, a YAML file): connects excluded by
//! destination port, destination address or uid go where they were going, the others through
//! the proxy, and a change of the file applies while the proxy runs. Each test makes its own
//! child cgroup and attaches only to it (see transparent_proxy.rs).

use std::path::Path;
use std::time::Duration;

use weir_tests::cgroup::TestCgroup;
use weir_tests::tproxy::*;
use weir_tests::*;

/// The servers a test reaches: one on 127.0.0.2 (probed), one on [::1] (probed), and one on
/// 127.0.0.1 whose port every scope keeps in, used as the marker after each round.
struct Servers {
    other: HttpServer,
    v6: HttpServer,
    marker: HttpServer,
}

impl Servers {
    fn start() -> Servers {
        let ok = |_: &str, _: &str| ("200 OK".to_string(), vec![], "ok\n".to_string());
        Servers {
            other: HttpServer::start_on("127.0.0.2:0", ok),
            v6: HttpServer::start_on("[::1]:0", ok),
            marker: HttpServer::start(ok),
        }
    }

    fn other(&self) -> String {
        format!("127.0.0.2:{}", self.other.port)
    }

    fn v6(&self) -> String {
        format!("[::1]:{}", self.v6.port)
    }
}

/// Requests `hosts` from inside the cgroup (each must succeed), then which of them the proxy
/// logged, by the marker request that follows them.
fn intercepted(cg: &TestCgroup, weir: &Weir, s: &Servers, round: &str, hosts: &[&str]) -> Vec<String> {
    let before = weir.stdout().len();
    for host in hosts {
        let (code, body, err) = curl_in(cg, &[&format!("http://{host}/{round}")]);
        assert_eq!((code, body.as_str()), (0, "ok\n"), "{round} {host}: {err}; weir: {:?}", weir.stderr());
    }
    let lines = marked(cg, weir, s.marker.port, before);
    let logged: Vec<String> = lines[before..].iter().filter(|l| l.starts_with("GET ")).cloned().collect();
    hosts.iter().filter(|h| logged.contains(&format!("GET /{round} {h}"))).map(|h| h.to_string()).collect()
}

/// Writes the scope file and waits for the proxy to say it applied it as `applied`.
fn change(weir: &mut Weir, file: &Path, yaml: &str, applied: &str) {
    std::fs::write(file, yaml).unwrap();
    weir.wait_stderr(&format!("scope from {}: {applied}", file.display()), Duration::from_secs(10));
}

fn start(cg: &TestCgroup, file: &Path) -> Weir {
    let scope = file.to_str().unwrap();
    start_proxy_with(cg, Some(cg), &[], &[("SCOPE", scope)], free_port(), "main.js", &[]).0
}

#[test]
fn excluded_ports_and_addresses_go_direct_and_the_scope_changes_while_running() {
    require_ebpf!("excluded_ports_and_addresses_go_direct_and_the_scope_changes_while_running");
    let cg = TestCgroup::create();
    let s = Servers::start();
    let dir = TempDir::new();
    let file = dir.0.join("scope.yaml");
    std::fs::write(&file, format!("ports: {{ exclude: [{}] }}\n", s.other.port)).unwrap();
    let mut weir = start(&cg, &file);
    let (other, v6) = (s.other(), s.v6());
    let both = [other.as_str(), v6.as_str()];

    // An excluded port: that server is reached directly, the other through the proxy.
    assert_eq!(intercepted(&cg, &weir, &s, "r0", &both), [v6.as_str()]);

    // Excluded addresses, IPv4 and IPv6.
    change(&mut weir, &file, "cidrs: { exclude: [127.0.0.2/32, '::1/128'] }\n", "cidrs not 127.0.0.2/32,::1/128");
    assert_eq!(intercepted(&cg, &weir, &s, "r1", &both), Vec::<String>::new());

    // The longest prefix decides: 127.0.0.0/8 is out but 127.0.0.1 (the marker) is in, and
    // with an include list, what matches no prefix is out, unless a prefix covers it.
    change(
        &mut weir,
        &file,
        "cidrs: { exclude: [127.0.0.0/8], include: [127.0.0.1/32, '::/0'] }\n",
        "cidrs only 127.0.0.1/32,::/0 not 127.0.0.0/8",
    );
    assert_eq!(intercepted(&cg, &weir, &s, "r2", &both), [v6.as_str()]);

    // Only the listed ports.
    change(&mut weir, &file, &format!("ports: {{ include: [{}] }}\n", s.marker.port), "ports only");
    assert_eq!(intercepted(&cg, &weir, &s, "r3", &both), Vec::<String>::new());

    // A broken file is refused with its name and the scope in force stays.
    std::fs::write(&file, "ports: { include: [70000] }\n").unwrap();
    weir.wait_stderr(
        &format!("{}: ports.include: not a port: 70000; the scope in force stays", file.display()),
        Duration::from_secs(10),
    );
    assert_eq!(intercepted(&cg, &weir, &s, "r4", &both), Vec::<String>::new());

    // An empty scope: everything again.
    change(&mut weir, &file, "{}\n", "everything");
    assert_eq!(intercepted(&cg, &weir, &s, "r5", &both), [other, v6]);

    weir.signal(libc::SIGINT);
    assert!(weir.wait_exit(Duration::from_secs(10)).is_some(), "weir did not stop on SIGINT");
    assert!(cg.attached().is_empty(), "still attached after SIGINT: {:?}", cg.attached());
}

#[test]
fn an_excluded_uid_connects_directly() {
    require_ebpf!("an_excluded_uid_connects_directly");
    let cg = TestCgroup::create();
    let s = Servers::start();
    let dir = TempDir::new();
    let file = dir.0.join("scope.yaml");
    std::fs::write(&file, "uids: { exclude: [65534] }\n").unwrap();
    let weir = start(&cg, &file);
    let before = weir.stdout().len();

    let url = format!("http://{}/as-nobody", s.other());
    let out = run_in(&cg, "setpriv", &["--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-sS", &url]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n", "{}", String::from_utf8_lossy(&out.stderr));
    let (code, _, err) = curl_in(&cg, &[&format!("http://{}/as-root", s.other())]);
    assert_eq!(code, 0, "{err}");

    let lines = marked(&cg, &weir, s.marker.port, before);
    let got: Vec<&String> = lines[before..].iter().filter(|l| l.starts_with("GET ")).collect();
    assert_eq!(got, [&format!("GET /as-root {}", s.other())]);
}

#[test]
fn a_bad_scope_file_stops_the_start_naming_it_and_attaches_nothing() {
    require_ebpf!("a_bad_scope_file_stops_the_start_naming_it_and_attaches_nothing");
    let cg = TestCgroup::create();
    let dir = TempDir::new();
    let file = dir.0.join("scope.yaml");
    for (yaml, said) in [
        ("cidrs: { exclude: [10.0.0.0/33] }\n", "cidrs.exclude: not an address or prefix: 10.0.0.0/33"),
        ("ports: { exclude: [80], include: [80] }\n", "ports: 80 is both included and excluded"),
        ("hosts: { exclude: [a] }\n", "unknown setting 'hosts'"),
    ] {
        std::fs::write(&file, yaml).unwrap();
        let mut weir = Weir::run_wrapped(&[], &sample("main.js"), &[], TempDir::new(), |c| {
            cg.enter(c.env("CGROUP", &cg.path).env("PROXY_PORT", free_port().to_string()).env("SCOPE", &file))
        });
        let code = weir.wait_exit(Duration::from_secs(10));
        assert!(matches!(code, Some(c) if c != 0), "{yaml}: exit {code:?}");
        let err = weir.stderr().join("\n");
        assert!(err.contains(&format!("{}: {said}", file.display())), "{yaml}: {err}");
        assert!(cg.attached().is_empty(), "{yaml}: attached {:?}", cg.attached());
    }
}

#[test]
fn a_reload_hands_the_programs_over_without_a_connect_going_direct() {
    require_ebpf!("a_reload_hands_the_programs_over_without_a_connect_going_direct");
    let cg = TestCgroup::create();
    let s = Servers::start();
    let dir = TempDir::new();
    let file = dir.0.join("scope.yaml");
    std::fs::write(&file, "{}\n").unwrap();
    let mut weir = start(&cg, &file);
    let url = format!("http://{}/", s.other());
    // Each connect of a shell loop inside the cgroup is either logged by the proxy or a
    // failure; none may reach the server directly while the script reloads three times.
    let script = format!("for i in $(seq 1 150); do curl -sS -o /dev/null --max-time 10 {url}/$i || echo FAIL; done");
    let client = {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", &script]).stdout(std::process::Stdio::piped());
        cg.enter(&mut cmd).spawn().unwrap()
    };
    for n in 1..=3 {
        std::thread::sleep(Duration::from_millis(300));
        weir.signal(libc::SIGHUP);
        let done = |w: &Weir| w.stderr().iter().filter(|l| l.contains("Codebase reloaded")).count();
        assert!(wait_until(Duration::from_secs(10), || done(&weir) >= n), "reload {n}: {:?}", weir.stderr());
    }
    let out = client.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "failed requests");
    let logged = weir.stdout().iter().filter(|l| l.starts_with("GET ")).count();
    assert_eq!(logged, 150, "requests that went through the proxy; stderr: {:?}", weir.stderr());
    assert_eq!(cg.attached().len(), 3, "programs after the reloads: {:?}", cg.attached());
    weir.signal(libc::SIGINT);
    assert!(weir.wait_exit(Duration::from_secs(10)).is_some());
    assert!(cg.attached().is_empty(), "still attached after SIGINT: {:?}", cg.attached());
}
