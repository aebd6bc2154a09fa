//! samples/bpf/transparent-proxy on the real kernel. Every test makes its own child cgroup,
//! starts weir and its clients in it with CGROUP pointing there, and so attaches programs
//! only to that cgroup; the cgroup is removed when the test ends, also when it fails.
//! The tests skip (loudly) when not root or when cgroup v2 or bpf() is unavailable.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use weir_tests::cgroup::TestCgroup;
use weir_tests::*;

fn sample(file: &str) -> PathBuf {
    workspace().join("samples/bpf/transparent-proxy").join(file)
}

/// weir running `script` inside `cg`, intercepting `cg`, listening on a free port.
fn start_proxy(cg: &TestCgroup, script: &str, args: &[&str]) -> (Weir, u16) {
    let port = free_port();
    let mut weir = Weir::run_file(&sample(script), args, TempDir::new(), |c| {
        c.env("CGROUP", &cg.path).env("PROXY_PORT", port.to_string());
        cg.enter(c)
    });
    weir.wait_listening();
    (weir, port)
}

fn run_in(cg: &TestCgroup, program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args);
    cg.enter(&mut cmd).output().unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn curl_in(cg: &TestCgroup, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["-sS", "--max-time", "10"];
    all.extend_from_slice(args);
    let out = run_in(cg, "curl", &all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn python_in(cg: Option<&TestCgroup>, code: &str, args: &[&str]) -> String {
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
fn redirect_pair(body: &'static str) -> (HttpServer, HttpServer) {
    let second = HttpServer::ok(body);
    let to = format!("http://127.0.0.1:{}/", second.port);
    let first = HttpServer::start(move |_, _| {
        ("301 Moved Permanently".into(), vec![("Location".into(), to.clone())], String::new())
    });
    (first, second)
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    f()
}

#[test]
fn curl_follows_a_redirect_through_the_proxy_and_sigint_detaches() {
    require_ebpf!("curl_follows_a_redirect_through_the_proxy_and_sigint_detaches");
    let cg = TestCgroup::create();
    let (first, second) = redirect_pair("second body\n");
    let (mut weir, _) = start_proxy(&cg, "main.js", &[]);
    assert_eq!(cg.attached().len(), 3, "{:?}", cg.attached());

    let (code, body, err) = curl_in(&cg, &["-L", &format!("http://127.0.0.1:{}/", first.port)]);
    assert_eq!((code, body.as_str()), (0, "second body\n"), "curl stderr: {err}");
    let out = weir.wait_stdout_lines(4, Duration::from_secs(5));
    let expected = [
        format!("GET / 127.0.0.1:{}", first.port),
        "  301 Moved Permanently".to_string(),
        format!("GET / 127.0.0.1:{}", second.port),
        "  200 OK".to_string(),
    ];
    assert_eq!(out, expected, "weir stderr: {:?}", weir.stderr());

    // The test process is outside the cgroup: its traffic goes straight to the server.
    let (code, body, _) = curl(&["-L", &format!("http://127.0.0.1:{}/", first.port)]);
    assert_eq!((code, body.as_str()), (0, "second body\n"));
    thread::sleep(Duration::from_millis(300));
    assert_eq!(weir.stdout().len(), 4, "outside traffic was intercepted: {:?}", weir.stdout());

    weir.signal(libc::SIGINT);
    assert!(weir.wait_exit(Duration::from_secs(10)).is_some(), "weir did not stop on SIGINT");
    assert!(cg.attached().is_empty(), "still attached after SIGINT: {:?}", cg.attached());
    let (code, body, err) = curl_in(&cg, &["-L", &format!("http://127.0.0.1:{}/", first.port)]);
    assert_eq!((code, body.as_str()), (0, "second body\n"), "direct connect after exit: {err}");
}

#[test]
fn kill_9_leaves_nothing_attached() {
    require_ebpf!("kill_9_leaves_nothing_attached");
    let cg = TestCgroup::create();
    let server = HttpServer::ok("direct\n");
    let (mut weir, _) = start_proxy(&cg, "main.js", &[]);
    assert_eq!(cg.attached().len(), 3);
    weir.signal(libc::SIGKILL);
    weir.wait_exit(Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(3), || cg.attached().is_empty()),
        "attached after kill -9: {:?}",
        cg.attached()
    );
    let (code, body, err) = curl_in(&cg, &[&format!("http://127.0.0.1:{}/", server.port)]);
    assert_eq!((code, body.as_str()), (0, "direct\n"), "{err}");
}

/// The maps of the programs attached to `cg`, by name: (map id, name).
fn maps_of(cg: &TestCgroup) -> Vec<(u32, String)> {
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

fn map_entries(id: u32) -> usize {
    let out = Command::new("bpftool").args(["map", "dump", "id", &id.to_string(), "--json"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).matches("\"key\"").count()
}

const MANY_CLIENT: &str = r#"
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
req = b'GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n' % port
ok, bad, t = 0, [], time.time()
for i in range(n):
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=10)
        s.sendall(req)
        data = b''
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        s.close()
        if data.startswith(b'HTTP/1.1 200') and data.endswith(b'many'):
            ok += 1
        elif len(bad) < 5:
            bad.append(repr(data[:100]))
    except Exception as e:
        if len(bad) < 5:
            bad.append('%d: %r' % (i, e))
print(ok, n, '%.1f' % (time.time() - t))
for b in bad:
    print(b)
"#;

#[test]
fn thirty_thousand_connections_succeed_and_maps_stay_small() {
    require_ebpf!("thirty_thousand_connections_succeed_and_maps_stay_small");
    const N: usize = 30_000;
    let cg = TestCgroup::create();
    let server = HttpServer::ok("many");
    let (weir, _) = start_proxy(&cg, "main.js", &[]);
    let maps: Vec<(u32, String)> =
        maps_of(&cg).into_iter().filter(|(_, n)| n == "map_socks" || n == "map_ports").collect();
    assert_eq!(maps.len(), 2, "maps of the attached programs: {maps:?}");

    let mut client = Command::new("python3");
    client.arg("-c").arg(MANY_CLIENT).args([server.port.to_string(), N.to_string()]);
    cg.enter(&mut client);
    let client = client.stdout(std::process::Stdio::piped()).spawn().expect("spawn client");
    let sampler = {
        let maps = maps.clone();
        let pid = client.id() as i32;
        thread::spawn(move || {
            let mut max = 0;
            // SAFETY: kill(pid, 0) only checks that our client is still running.
            while unsafe { libc::kill(pid, 0) } == 0 {
                max = maps.iter().map(|(id, _)| map_entries(*id)).max().unwrap_or(0).max(max);
                thread::sleep(Duration::from_millis(200));
            }
            max
        })
    };
    let out = client.wait_with_output().unwrap();
    let max = sampler.join().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = report.split_whitespace();
    let ok: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    let _n = words.next();
    let secs = words.next().unwrap_or("?");
    thread::sleep(Duration::from_millis(500));
    let after: Vec<usize> = maps.iter().map(|(id, _)| map_entries(*id)).collect();
    eprintln!("{ok}/{N} connections through the proxy in {secs} s; max map occupancy {max}; after: {after:?}");
    assert_eq!(
        ok,
        N,
        "client report: {report}\nweir stderr tail: {:?}",
        weir.stderr().iter().rev().take(5).collect::<Vec<_>>()
    );
    assert!(max <= 64, "map occupancy grew to {max}");
    assert!(after.iter().all(|n| *n <= 2), "entries left behind: {after:?}");
}

#[test]
fn direct_connections_to_the_proxy_port_are_closed() {
    require_ebpf!("direct_connections_to_the_proxy_port_are_closed");
    let cg = TestCgroup::create();
    let server = HttpServer::ok("fine\n");
    let (mut weir, port) = start_proxy(&cg, "main.js", &[]);

    // From inside the cgroup (the programs leave it alone) and from outside. curl says 52
    // (empty reply) or 56 (reset), depending on how the close races the request.
    let (code, body, _) = curl_in(&cg, &[&format!("http://127.0.0.1:{port}/")]);
    assert!(matches!(code, 52 | 56) && body.is_empty(), "inside: a direct connection got a reply ({code}): {body}");
    weir.wait_stderr("closing direct connection", Duration::from_secs(5));
    let (code, body, _) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert!(matches!(code, 52 | 56) && body.is_empty(), "outside: a direct connection got a reply ({code}): {body}");
    assert!(server.requests.lock().unwrap().is_empty(), "a direct connection was forwarded");
    assert!(
        weir.stderr().iter().filter(|l| l.contains("closing direct connection")).count() >= 2,
        "{:?}",
        weir.stderr()
    );

    // Still serving redirected traffic.
    let (code, body, err) = curl_in(&cg, &[&format!("http://127.0.0.1:{}/", server.port)]);
    assert_eq!((code, body.as_str()), (0, "fine\n"), "{err}");
}

const GETSOCKOPT_CLIENT: &str = r#"
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
out = [s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF), s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)]
info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
out += [len(info), info[0]]
for level, opt in [(socket.SOL_IP, 80), (socket.SOL_IP, 4242), (socket.SOL_IP, socket.IP_TTL)]:
    try:
        out.append('ok:%d' % len(s.getsockopt(level, opt, 16)))
    except OSError as e:
        out.append('errno:%d' % e.errno)
print(' '.join(map(str, out)))
"#;

#[test]
fn other_getsockopt_calls_behave_as_without_the_programs() {
    require_ebpf!("other_getsockopt_calls_behave_as_without_the_programs");
    let cg = TestCgroup::create();
    let server = HttpServer::ok("x");
    let (mut weir, _) = start_proxy(&cg, "main.js", &[]);
    let port = server.port.to_string();
    let outside = python_in(None, GETSOCKOPT_CLIENT, &[&port]);
    let inside = python_in(Some(&cg), GETSOCKOPT_CLIENT, &[&port]);
    assert_eq!(inside, outside, "getsockopt inside the cgroup differs from outside");
    assert!(inside.split_whitespace().nth(3) == Some("1"), "TCP_INFO state is not ESTABLISHED: {inside}");
    assert!(weir.child.try_wait().unwrap().is_none(), "the proxy died during the getsockopt calls");
}

const RAW_CLIENT: &str = r#"
import socket, sys, os, threading, hashlib
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
banner = b''
while not banner.endswith(b'\r\n'):
    banner += s.recv(1)
payload = os.urandom(1 << 20)
def send():
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
back = b''
while True:
    d = s.recv(65536)
    if not d:
        break
    back += d
t.join()
print(banner.decode().strip(), len(back), hashlib.sha256(back).hexdigest() == hashlib.sha256(payload).hexdigest())
"#;

#[test]
fn raw_bytes_and_server_first_protocols_pass_unchanged() {
    require_ebpf!("raw_bytes_and_server_first_protocols_pass_unchanged");
    let cg = TestCgroup::create();
    let upstream = tcp_server(|mut s| {
        use std::io::Write;
        let _ = s.write_all(b"220 weir-test ready\r\n");
        let mut w = s.try_clone().unwrap();
        let _ = std::io::copy(&mut s, &mut w);
        let _ = w.shutdown(std::net::Shutdown::Write);
    });
    let (weir, _) = start_proxy(&cg, "main.js", &[]);
    let out = python_in(Some(&cg), RAW_CLIENT, &[&upstream.to_string()]);
    assert_eq!(out.trim(), format!("220 weir-test ready {} True", 1 << 20), "weir stderr: {:?}", weir.stderr());
}

#[test]
fn two_threads_attach_once_and_both_serve() {
    require_ebpf!("two_threads_attach_once_and_both_serve");
    let cg = TestCgroup::create();
    let server = HttpServer::ok("threads\n");
    let (mut weir, port) = start_proxy(&cg, "main.js", &["--threads=2"]);
    let listeners = || {
        let ss = Command::new("ss").args(["-Hltn", &format!("sport = :{port}")]).output().unwrap();
        String::from_utf8_lossy(&ss.stdout).lines().count()
    };
    assert!(wait_until(Duration::from_secs(5), || listeners() == 2), "one listening socket per worker expected");
    assert_eq!(cg.attached().len(), 3, "attached: {:?}", cg.attached());
    for _ in 0..20 {
        let (code, body, err) = curl_in(&cg, &[&format!("http://127.0.0.1:{}/", server.port)]);
        assert_eq!((code, body.as_str()), (0, "threads\n"), "{err}");
    }
    assert_eq!(weir.stdout().iter().filter(|l| l.starts_with("GET /")).count(), 20);

    weir.signal(libc::SIGINT);
    assert!(weir.wait_exit(Duration::from_secs(10)).is_some());
    assert!(cg.attached().is_empty(), "still attached after SIGINT: {:?}", cg.attached());
}

#[test]
fn article_variant_excludes_the_proxy_by_cgroup_id() {
    require_ebpf!("article_variant_excludes_the_proxy_by_cgroup_id");
    let cg = TestCgroup::create();
    let (first, second) = redirect_pair("article\n");
    let (mut weir, _) = start_proxy(&cg, "main-article.js", &[]);
    let own = cg.path.join("weir");
    let procs = std::fs::read_to_string(own.join("cgroup.procs")).unwrap_or_default();
    assert!(procs.lines().any(|p| p.trim() == weir.child.id().to_string()), "weir is not in {}", own.display());
    assert_eq!(cg.attached().len(), 3);

    let (code, body, err) = curl_in(&cg, &["-L", &format!("http://127.0.0.1:{}/", first.port)]);
    assert_eq!((code, body.as_str()), (0, "article\n"), "{err}");
    let out = weir.wait_stdout_lines(4, Duration::from_secs(5));
    assert_eq!(out[0], format!("GET / 127.0.0.1:{}", first.port));
    assert_eq!(out[2], format!("GET / 127.0.0.1:{}", second.port));

    weir.signal(libc::SIGINT);
    assert!(weir.wait_exit(Duration::from_secs(10)).is_some());
    assert!(cg.attached().is_empty(), "still attached after SIGINT: {:?}", cg.attached());
    assert!(!own.exists(), "{} was not removed on exit", own.display());
}
