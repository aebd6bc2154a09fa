//! samples/bpf/transparent-proxy on the real kernel. Every test makes its own child cgroup,
//! starts weir and its clients in it with CGROUP pointing there, and so attaches programs
//! only to that cgroup; the cgroup is removed when the test ends, also when it fails.
//! The tests skip (loudly) when not root or when cgroup v2 or bpf() is unavailable.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use weir_tests::cgroup::TestCgroup;
use weir_tests::tproxy::*;
use weir_tests::*;

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
    assert_eq!(marked(&cg, &weir, second.port, 4), expected, "outside traffic was intercepted");

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
    let left = || maps.iter().map(|(id, _)| map_entries(*id)).collect::<Vec<usize>>();
    // The entries go as the proxy's sockets close, just after the client saw its answers.
    wait_until(Duration::from_secs(5), || left().iter().all(|n| *n <= 1));
    let after = left();
    eprintln!("{ok}/{N} connections through the proxy in {secs} s; max map occupancy {max}; after: {after:?}");
    assert_eq!(
        ok,
        N,
        "client report: {report}\nweir stderr tail: {:?}",
        weir.stderr().iter().rev().take(5).collect::<Vec<_>>()
    );
    assert!(max <= 32, "map occupancy grew to {max}");
    assert!(after.iter().all(|n| *n <= 1), "entries left behind: {after:?}");
}

const PROBE_CLIENT: &str = r#"
import socket, sys, time
t = time.time()
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
try:
    d = s.recv(100)
except OSError as e:
    d = b''
print(len(d), round(time.time() - t, 2))
"#;

#[test]
fn port_probes_get_one_log_line_and_no_invented_status() {
    require_ebpf!("port_probes_get_one_log_line_and_no_invented_status");
    let cg = TestCgroup::create();
    let server = HttpServer::ok("fine\n");
    let (mut weir, port) = start_proxy(&cg, "main.js", &[]);
    let mut listening = listening_on(port);
    listening.sort();
    assert_eq!(listening, [format!("127.0.0.1:{port}"), format!("[::1]:{port}")], "listening on");

    // From inside the cgroup (the programs leave it alone) and from outside. curl says 52
    // (empty reply) or 56 (reset), depending on how the close races the request.
    let (code, body, _) = curl_in(&cg, &[&format!("http://127.0.0.1:{port}/")]);
    assert!(matches!(code, 52 | 56) && body.is_empty(), "inside: a direct connection got a reply ({code}): {body}");
    let (code, body, _) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert!(matches!(code, 52 | 56) && body.is_empty(), "outside: a direct connection got a reply ({code}): {body}");
    // A probe that sends nothing is closed at once, not when it gives up.
    let out = python_in(None, PROBE_CLIENT, &["::1", &port.to_string()]);
    let secs: f64 = out.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(99.0);
    assert!(out.starts_with("0 ") && secs < 2.0, "silent probe: {out}");
    assert!(server.requests.lock().unwrap().is_empty(), "a direct connection was forwarded");
    // "no original destination", or "... is the proxy itself" where conntrack answers.
    let closings = || weir.stderr().into_iter().filter(|l| l.contains("closing connection from")).collect::<Vec<_>>();
    wait_until(Duration::from_secs(5), || closings().len() >= 3);
    let closing = closings();
    assert_eq!(closing.len(), 3, "one line per probe expected: {:?}", weir.stderr());
    assert!(weir.stdout().is_empty(), "a probe produced HTTP log lines: {:?}", weir.stdout());

    // Still serving redirected traffic.
    let (code, body, err) = curl_in(&cg, &[&format!("http://127.0.0.1:{}/", server.port)]);
    assert_eq!((code, body.as_str()), (0, "fine\n"), "{err}");
    weir.wait_stdout_lines(2, Duration::from_secs(5));
    assert_eq!(weir.stdout()[1], "  200 OK");
    weir.signal(libc::SIGINT);
    weir.wait_exit(Duration::from_secs(10));
}

const GETSOCKOPT_CLIENT: &str = r#"
import socket, sys, ctypes
libc = ctypes.CDLL(None, use_errno=True)
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
out = [s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF), s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)]
info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
out += [len(info), info[0]]
# Through libc: Python refuses buffers over 1 KiB (28: SO_PEERNAME). TCP_INFO changes by the moment, so only its
# length and state are compared; the other results are compared byte for byte.
def raw(level, opt, size):
    buf = ctypes.create_string_buffer(size)
    n = ctypes.c_uint32(size)
    if libc.getsockopt(s.fileno(), level, opt, buf, ctypes.byref(n)) != 0:
        return 'errno:%d' % ctypes.get_errno()
    if (level, opt) == (socket.IPPROTO_TCP, socket.TCP_INFO):
        return 'ok:%d:%d' % (n.value, buf.raw[0])
    return 'ok:%d:%s' % (n.value, buf.raw[:n.value].hex())
for level, opt, size in [(socket.SOL_IP, 80, 16), (socket.SOL_IP, 4242, 16), (socket.SOL_IP, socket.IP_TTL, 16),
                         (socket.IPPROTO_TCP, socket.TCP_INFO, 65536), (socket.SOL_IP, 80, 65536),
                         (socket.SOL_IP, 4242, 65536), (41, 80, 65536), (socket.SOL_SOCKET, 28, 65536),
                         (socket.SOL_IP, socket.IP_TTL, 65536)]:
    out.append(raw(level, opt, size))
print(' '.join(map(str, out)))
"#;

#[test]
fn other_getsockopt_calls_behave_as_without_the_programs() {
    require_ebpf!("other_getsockopt_calls_behave_as_without_the_programs");
    let cg = TestCgroup::create();
    let server = HttpServer::ok("x");
    // main-article.js is the variant that attaches the getsockopt program.
    let (mut weir, _) = start_proxy(&cg, "main-article.js", &[]);
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
    // 127.0.0.1 and [::1], for each worker.
    assert!(wait_until(Duration::from_secs(5), || listeners() == 4), "two listening sockets per worker expected");
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
    assert_eq!(cg.attached().len(), 4, "{:?}", cg.attached());

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

const SEND_AND_CLOSE: &str = r#"
import socket, sys, concurrent.futures
port, n, par = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def one(i):
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    s.sendall(b'%06d ' % i + b'x' * 1000 + b'\n')
    s.close()
    return 1
with concurrent.futures.ThreadPoolExecutor(par) as ex:
    print(sum(ex.map(one, range(n))))
"#;

fn payload(i: usize) -> Vec<u8> {
    let mut p = format!("{i:06} ").into_bytes();
    p.extend_from_slice(&[b'x'; 1000]);
    p.push(b'\n');
    p
}

/// Clients that connect, send and close at once (syslog and statsd senders, `nc -q0`) close
/// before the proxy has asked where they were going: every byte must still arrive.
#[test]
fn send_and_close_clients_lose_nothing() {
    require_ebpf!("send_and_close_clients_lose_nothing");
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let sink = {
        let got = got.clone();
        tcp_server(move |mut s| {
            let mut all = Vec::new();
            let _ = s.read_to_end(&mut all);
            got.lock().unwrap().push(all);
        })
    };
    // main.js takes destinations from the map, main-article.js asks getsockopt.
    for (script, n, par) in [("main.js", 2000usize, 50usize), ("main.js", 200, 1), ("main-article.js", 2000, 50)] {
        let cg = TestCgroup::create();
        let (weir, proxy_port) = start_proxy(&cg, script, &[]);
        let maps: Vec<(u32, String)> =
            maps_of(&cg).into_iter().filter(|(_, n)| n == "map_socks" || n == "map_ports").collect();
        got.lock().unwrap().clear();
        let t = Instant::now();
        let out = python_in(Some(&cg), SEND_AND_CLOSE, &[&sink.to_string(), &n.to_string(), &par.to_string()]);
        assert_eq!(out.trim(), n.to_string(), "client");
        // Longer than the kernel's SYN retries (63 s): a late connection is not a lost one.
        let all = wait_until(Duration::from_secs(70), || got.lock().unwrap().len() >= n);
        let secs = t.elapsed().as_secs_f64();
        let got = got.lock().unwrap();
        let mut ok = got
            .iter()
            .filter(|p| p.len() == 1008 && **p == payload(p[..6].iter().fold(0, |a, b| a * 10 + (b - b'0') as usize)))
            .count();
        let mut ids: Vec<&[u8]> = got.iter().filter(|p| p.len() >= 6).map(|p| &p[..6]).collect();
        ids.sort();
        ids.dedup();
        if ids.len() < ok {
            ok = ids.len();
        }
        let closed = weir.stderr().iter().filter(|l| l.contains("no original destination")).count();
        eprintln!(
            "{script}: send-and-close, {par} at a time: {ok}/{n} delivered byte for byte in {secs:.2} s; {closed} closed"
        );
        let errors: Vec<String> = weir.stderr().into_iter().filter(|l| !l.contains("[INF]")).take(5).collect();
        // Where lost ones wait, if anywhere: the listeners' accept queues (Recv-Q), and
        // connects to them still in their handshake.
        let queues = || {
            let ss = Command::new("ss").args(["-Htan"]).output().map(|o| o.stdout).unwrap_or_default();
            String::from_utf8_lossy(&ss)
                .lines()
                .filter(|l| l.starts_with("LISTEN") || l.starts_with("SYN"))
                .filter(|l| [sink, proxy_port].iter().any(|p| l.contains(&format!(":{p} "))))
                .take(20)
                .map(|l| l.split_whitespace().take(5).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
        };
        assert!(
            all && ok == n,
            "{script}: {ok}/{n} delivered ({} reached the server); {closed} closed; {errors:?}; listeners: {:?}",
            got.len(),
            queues()
        );
        drop(got);
        let left = || maps.iter().map(|(id, _)| map_entries(*id)).collect::<Vec<usize>>();
        wait_until(Duration::from_secs(5), || left().iter().all(|n| *n <= 1));
        let after = left();
        assert!(maps.len() == 2 && after.iter().all(|n| *n <= 1), "{script}: entries left behind: {maps:?} {after:?}");
    }
}

#[test]
fn weir_outside_the_cgroup_logs_the_article_lines() {
    require_ebpf!("weir_outside_the_cgroup_logs_the_article_lines");
    let cg = TestCgroup::create();
    let elsewhere = TestCgroup::create();
    // In the test's own cgroup, then in a cgroup of its own beside the intercepted one.
    for place in [None, Some(&elsewhere)] {
        let (first, second) = redirect_pair("outside\n");
        let (mut weir, _) = start_proxy_at(&cg, place, &[], "main.js", &[]);
        let (code, body, err) = curl_in(&cg, &["-L", &format!("http://127.0.0.1:{}/", first.port)]);
        assert_eq!((code, body.as_str()), (0, "outside\n"), "curl stderr: {err}; weir: {:?}", weir.stderr());
        let out = weir.wait_stdout_lines(4, Duration::from_secs(5));
        let expected = [
            format!("GET / 127.0.0.1:{}", first.port),
            "  301 Moved Permanently".to_string(),
            format!("GET / 127.0.0.1:{}", second.port),
            "  200 OK".to_string(),
        ];
        assert_eq!(out, expected, "weir stderr: {:?}", weir.stderr());
        weir.signal(libc::SIGINT);
        assert!(weir.wait_exit(Duration::from_secs(10)).is_some());
        assert!(cg.attached().is_empty() && elsewhere.attached().is_empty(), "still attached");
    }
}

#[test]
fn a_client_in_another_network_namespace_reaches_its_own_server() {
    require_ebpf!("a_client_in_another_network_namespace_reaches_its_own_server");
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("SKIPPED: a_client_in_another_network_namespace_reaches_its_own_server: no ip(8)");
        return;
    }
    let cg = TestCgroup::create();
    let mut ns = NetNs::create();
    let dir = TempDir::new();
    std::fs::write(dir.0.join("hello.txt"), "from the namespace\n").unwrap();
    let server = ns
        .command("python3", &["-m", "http.server", "--bind", "127.0.0.1", "8000", "--directory"])
        .arg(&dir.0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    ns.children.push(server);
    let url = "http://127.0.0.1:8000/hello.txt";
    let up = wait_until(Duration::from_secs(10), || {
        ns.command("curl", &["-sf", "--max-time", "1", url]).output().is_ok_and(|o| o.status.success())
    });
    assert!(up, "server in the namespace did not start");
    let (weir, _) = start_proxy(&cg, "main.js", &[]);
    let mut client = ns.command("curl", &["-sS", "--max-time", "5", url]);
    let out = cg.enter(&mut client).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "from the namespace\n",
        "curl: {}; weir: {:?}",
        String::from_utf8_lossy(&out.stderr),
        weir.stderr()
    );
    assert!(weir.stdout().is_empty(), "the namespace's connection went through the proxy: {:?}", weir.stdout());
}

#[test]
fn ipv6_and_mapped_ipv4_clients_are_intercepted() {
    require_ebpf!("ipv6_and_mapped_ipv4_clients_are_intercepted");
    for script in ["main.js", "main-article.js"] {
        let cg = TestCgroup::create();
        let v4 = HttpServer::ok("v4\n");
        let v6 = HttpServer::start_on("[::1]:0", |_, _| ("200 OK".into(), vec![], "v6\n".into()));
        let (mut weir, port) = start_proxy(&cg, script, &[]);
        assert_eq!(listening_on(port), [format!("127.0.0.1:{port}"), format!("[::1]:{port}")], "{script}");
        let mapped = format!("[::ffff:127.0.0.1]:{}", v4.port);
        let native = format!("[::1]:{}", v6.port);
        for (host, body) in [(&mapped, "v4\n"), (&native, "v6\n")] {
            let (code, got, err) = curl_in(&cg, &[&format!("http://{host}/")]);
            assert_eq!((code, got.as_str()), (0, body), "{script} {host}: {err}; weir: {:?}", weir.stderr());
        }
        let out = weir.wait_stdout_lines(4, Duration::from_secs(5));
        let expected = [format!("GET / {mapped}"), "  200 OK".into(), format!("GET / {native}"), "  200 OK".into()];
        assert_eq!(out, expected, "{script}: weir stderr {:?}", weir.stderr());
        weir.signal(libc::SIGINT);
        assert!(weir.wait_exit(Duration::from_secs(10)).is_some());
    }
}

#[test]
fn a_second_instance_on_the_same_cgroup_refuses_and_the_first_keeps_working() {
    require_ebpf!("a_second_instance_on_the_same_cgroup_refuses_and_the_first_keeps_working");
    let cg = TestCgroup::create();
    let server = HttpServer::ok("first\n");
    let (mut first, _) = start_proxy(&cg, "main.js", &[]);
    for script in ["main.js", "main-article.js"] {
        let mut second = Weir::run_file(&sample(script), &[], TempDir::new(), |c| {
            c.env("CGROUP", &cg.path).env("PROXY_PORT", free_port().to_string())
        });
        let code = second.wait_exit(Duration::from_secs(10));
        assert!(matches!(code, Some(c) if c != 0), "{script}: second instance did not refuse: {code:?}");
        let why = second.stderr().join("\n");
        assert!(why.contains(&first.child.id().to_string()), "{script}: the refusal does not name the first: {why}");
        eprintln!("{script} refused: {}", why.lines().find(|l| l.contains("already")).unwrap_or(&why));
    }
    assert_eq!(cg.attached().len(), 3, "{:?}", cg.attached());
    let (code, body, err) = curl_in(&cg, &[&format!("http://127.0.0.1:{}/", server.port)]);
    assert_eq!((code, body.as_str()), (0, "first\n"), "{err}");
    assert_eq!(first.wait_stdout_lines(2, Duration::from_secs(5)).len(), 2);
    first.signal(libc::SIGINT);
    first.wait_exit(Duration::from_secs(10));
}

#[test]
fn a_proxy_in_a_pid_namespace_with_threads_does_not_loop() {
    require_ebpf!("a_proxy_in_a_pid_namespace_with_threads_does_not_loop");
    let cg = TestCgroup::create();
    let (first, second) = redirect_pair("pidns\n");
    let (weir, _) =
        start_proxy_at(&cg, Some(&cg), &["unshare", "--pid", "--fork", "--kill-child"], "main.js", &["--threads=2"]);
    let (code, body, err) = curl_in(&cg, &["-L", &format!("http://127.0.0.1:{}/", first.port)]);
    assert_eq!((code, body.as_str()), (0, "pidns\n"), "curl: {err}");
    let out = marked(&cg, &weir, second.port, 4);
    assert_eq!(out.len(), 4, "the proxy saw its own connections: {out:?}");
    assert_eq!(out[2], format!("GET / 127.0.0.1:{}", second.port));
    assert!(!weir.stderr().iter().any(|l| l.contains("itself")), "{:?}", weir.stderr());
    // The proxy shares the cgroup with its clients: only its own process is left alone.
    assert_eq!(cg.pids().len(), 2, "unshare and weir, in the cgroup itself: {:?}", cg.pids());
}

/// The README's "try it on a single shell" lines, run as written: only `sudo`, the cgroup's
/// name, the binary's path and the ports are replaced.
#[test]
fn the_readme_try_it_lines_work_as_written() {
    require_ebpf!("the_readme_try_it_lines_work_as_written");
    let readme = std::fs::read_to_string(sample("README.md")).unwrap();
    let block = readme.split("<!-- try-it").nth(1).and_then(|s| s.split("```\n").nth(1)).expect("try-it block");
    let lines: Vec<&str> = block.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 5, "expected: CG=, mkdir, weir, client, rmdir:\n{block}");
    let (first, second) = redirect_pair("readme\n");
    let name = format!("weir-readme-{}", std::process::id());
    let cg = TestCgroup::adopt(weir_tests::cgroup::cgroup2_root().unwrap().join(&name));
    let out = TempDir::new();
    let port = free_port();
    let fix = |l: &str| {
        l.replace("sudo ", "")
            .replace("weir-demo", &name)
            .replace("target/release/weir", weir_bin().to_str().unwrap())
            .replace("CGROUP=$CG ", &format!("CGROUP=$CG PROXY_PORT={port} "))
            .replace("127.0.0.1:8000", &format!("127.0.0.1:{}", first.port))
    };
    let o = out.0.display();
    let script = format!(
        "set -e\n{}\n{}\n{} > {o}/weir.out 2> {o}/weir.err &\nW=$!\n\
         for i in $(seq 100); do grep -q 'intercepting TCP connects' {o}/weir.err && break; sleep 0.1; done\n\
         {} > {o}/curl.out\nkill -INT $W\nwait $W || true\n{}\n",
        fix(lines[0]),
        fix(lines[1]),
        fix(lines[2]),
        fix(lines[3]),
        fix(lines[4])
    );
    let run = Command::new("timeout").args(["60", "bash", "-c", &script]).current_dir(workspace()).output().unwrap();
    let read = |f: &str| std::fs::read_to_string(out.0.join(f)).unwrap_or_default();
    assert!(
        run.status.success(),
        "script failed: {}\n{script}\nweir: {}",
        String::from_utf8_lossy(&run.stderr),
        read("weir.err")
    );
    assert_eq!(read("curl.out"), "readme\n");
    let logged: Vec<String> = read("weir.out").lines().map(String::from).collect();
    let expected = [
        format!("GET / 127.0.0.1:{}", first.port),
        "  301 Moved Permanently".to_string(),
        format!("GET / 127.0.0.1:{}", second.port),
        "  200 OK".to_string(),
    ];
    assert_eq!(logged, expected, "weir stderr: {}", read("weir.err"));
    assert!(!cg.path.exists(), "the README's rmdir did not remove {}", cg.path.display());
}
