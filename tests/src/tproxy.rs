//! What the transparent-proxy tests share: starting samples/bpf/transparent-proxy on a test
//! cgroup, running clients inside it, and reading the programs' maps with bpftool.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use crate::cgroup::TestCgroup;
use crate::*;

pub fn sample(file: &str) -> PathBuf {
    workspace().join("samples/bpf/transparent-proxy").join(file)
}

/// The names of the sample's files ending in one of `ends` (its modules, its object), for
/// tests that run it from a copy: a module added to the sample is copied with no edit here.
pub fn sample_files(ends: &[&str]) -> Vec<String> {
    let dir = sample("");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| ends.iter().any(|end| n.ends_with(end)))
        .collect();
    names.sort();
    names
}

/// weir running `script` inside `cg`, intercepting `cg`, listening on a free port.
pub fn start_proxy(cg: &TestCgroup, script: &str, args: &[&str]) -> (Weir, u16) {
    start_proxy_at(cg, Some(cg), &[], script, args)
}

/// weir intercepting `cg`, started in `place` (None: the test's own cgroup), by `wrapper`.
pub fn start_proxy_at(
    cg: &TestCgroup,
    place: Option<&TestCgroup>,
    wrapper: &[&str],
    script: &str,
    args: &[&str],
) -> (Weir, u16) {
    start_proxy_with(cg, place, wrapper, &[], free_port(), script, args)
}

/// [`start_proxy_at`] with more environment variables, on a given port.
pub fn start_proxy_with(
    cg: &TestCgroup,
    place: Option<&TestCgroup>,
    wrapper: &[&str],
    env: &[(&str, &str)],
    port: u16,
    script: &str,
    args: &[&str],
) -> (Weir, u16) {
    let mut weir = Weir::run_wrapped(wrapper, &sample(script), args, TempDir::new(), |c| {
        c.env("CGROUP", &cg.path).env("PROXY_PORT", port.to_string()).envs(env.iter().copied());
        match place {
            Some(place) => place.enter(c),
            None => c,
        }
    });
    // main.js attaches the programs once the listeners are open, and then says so.
    weir.wait_listening();
    weir.wait_stderr("intercepting TCP connects", Duration::from_secs(10));
    (weir, port)
}

pub fn run_in(cg: &TestCgroup, program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args);
    cg.enter(&mut cmd).output().unwrap_or_else(|e| panic!("run {program}: {e}"))
}

pub fn curl_in(cg: &TestCgroup, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["-sS", "--max-time", "10"];
    all.extend_from_slice(args);
    let out = run_in(cg, "curl", &all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn python_in(cg: Option<&TestCgroup>, code: &str, args: &[&str]) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(code).args(args);
    if let Some(cg) = cg {
        cg.enter(&mut cmd);
    }
    let out = cmd.output().expect("run python3");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A 301 to a second server answering 200 with `body`: (first port, second port).
pub fn redirect_pair(body: &'static str) -> (HttpServer, HttpServer) {
    let second = HttpServer::ok(body);
    let to = format!("http://127.0.0.1:{}/", second.port);
    let first = HttpServer::start(move |_, _| {
        ("301 Moved Permanently".into(), vec![("Location".into(), to.clone())], String::new())
    });
    (first, second)
}

/// The proxy's log lines once a marker request from inside the cgroup to `port` has gone
/// through after `before` lines: whatever the proxy logged before the marker, without it.
/// A request that should not show in the log is over before the marker starts, and the
/// proxy logs a request before its answer goes back, so a line it wrongly made is here.
pub fn marked(cg: &TestCgroup, weir: &Weir, port: u16, before: usize) -> Vec<String> {
    let (code, _, err) = curl_in(cg, &[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 0, "marker request: {err}");
    let marker = [format!("GET / 127.0.0.1:{port}"), "  200 OK".to_string()];
    let mut out = Vec::new();
    wait_until(Duration::from_secs(5), || {
        out = weir.stdout();
        out.len() >= before + 2 && out[out.len() - 2..] == marker
    });
    assert!(out.ends_with(&marker), "no marker lines: {out:?}, stderr: {:?}", weir.stderr());
    out.truncate(out.len() - 2);
    out
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// The maps of the programs attached to `cg`, by name: (map id, name).
pub fn maps_of(cg: &TestCgroup) -> Vec<(u32, String)> {
    let json = |args: &[&str]| {
        String::from_utf8_lossy(&Command::new("bpftool").args(args).output().unwrap().stdout).into_owned()
    };
    let ids = |text: &str, key: &str| -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find(key) {
            rest = &rest[i + key.len()..];
            let digits: String =
                rest.chars().skip_while(|c| !c.is_ascii_digit()).take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(n) = digits.parse() {
                out.push(n);
            }
        }
        out
    };
    let mut maps = Vec::new();
    for prog in ids(&json(&["cgroup", "show", cg.path.to_str().unwrap(), "--json"]), "\"id\":") {
        let info = json(&["prog", "show", "id", &prog.to_string(), "--json"]);
        let Some(list) = info.split("\"map_ids\":[").nth(1).and_then(|s| s.split(']').next()) else {
            continue;
        };
        for id in list.split(',').filter_map(|s| s.trim().parse::<u32>().ok()) {
            let m = json(&["map", "show", "id", &id.to_string(), "--json"]);
            let name = m.split("\"name\":\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("").to_string();
            if !maps.iter().any(|(i, _)| *i == id) {
                maps.push((id, name));
            }
        }
    }
    maps
}

pub fn map_entries(id: u32) -> usize {
    // Each entry has its raw key (an array of hex bytes) and, where the map has BTF, a
    // formatted one: count the raw ones.
    map_dump(id).matches("\"key\":[\"0x").count()
}

/// The map's entries as `bpftool map dump --json` prints them.
pub fn map_dump(id: u32) -> String {
    let out = Command::new("bpftool").args(["map", "dump", "id", &id.to_string(), "--json"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The listening sockets on `port`: local addresses as `ss` prints them.
pub fn listening_on(port: u16) -> Vec<String> {
    let ss = Command::new("ss").args(["-Hltn", &format!("sport = :{port}")]).output().unwrap();
    let mut out: Vec<String> = String::from_utf8_lossy(&ss.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3).map(String::from))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A network namespace made for one test, deleted (with its processes) when dropped.
pub struct NetNs {
    pub name: String,
    pub children: Vec<std::process::Child>,
}

impl NetNs {
    pub fn create() -> NetNs {
        // Unique within the process too: tests of one file run in parallel.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("weir-test-{}-{n}", std::process::id());
        let ok = Command::new("ip").args(["netns", "add", &name]).status().is_ok_and(|s| s.success());
        assert!(ok, "ip netns add {name}");
        let ns = NetNs { name, children: Vec::new() };
        assert!(ns.command("ip", &["link", "set", "lo", "up"]).status().unwrap().success());
        ns
    }

    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]).args(args);
        c
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}
