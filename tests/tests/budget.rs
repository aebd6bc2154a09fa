//! The process-wide buffer budget (`--max-buffer`): a thousand slow readers each asking for
//! 1 MiB through demuxHTTP/muxHTTP keep the proxy's memory (past what it takes idle) under
//! the budget, the process answers health requests all the while, and every reader gets
//! its whole body once it reads on.
//!
//! On the host's loopback each socket's kernel buffers take a whole 1 MiB body (the send
//! buffer grows to 4 MiB), so the proxy would hold nothing whatever its budget. The test
//! runs in a network namespace of its own with TCP buffers of 64 KiB at most, so that the
//! bodies the readers do not take wait in the proxy's queues, as they would behind real
//! networks' slow clients.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir_tests::big::{big_server, pattern_digest, read_body, read_head, rss, write_pattern};
use weir_tests::tproxy::NetNs;
use weir_tests::*;

const MIB: u64 = 1 << 20;
const SEED: u64 = 0xB0D6;
const READERS: usize = 1000;

/// Moves this thread into `ns`: sockets it opens and processes it starts live there.
fn enter(ns: &NetNs) {
    let f = std::fs::File::open(format!("/run/netns/{}", ns.name)).expect("open the netns");
    // SAFETY: setns on an fd we own; it changes only this thread's network namespace.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
}

/// nginx, stopped when dropped (even when the test fails).
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx serving `/1m` (patterned), started from a thread inside the namespace.
fn nginx(dir: &TempDir) -> (u16, Nginx) {
    let d = dir.0.display().to_string();
    std::fs::create_dir_all(dir.0.join("www")).unwrap();
    let mut f = std::fs::File::create(dir.0.join("www/1m")).unwrap();
    write_pattern(&mut f, SEED, MIB, 0).unwrap();
    let port = free_port();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         worker_rlimit_nofile 8192;\nevents {{ worker_connections 4096; }}\n\
         http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           keepalive_requests 100000; send_timeout 300s;\n\
           server {{ listen 127.0.0.1:{port} backlog=4096; root {d}/www; }} }}\n"
    );
    std::fs::write(dir.0.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .args(["-e", &format!("{d}/error.log"), "-c", &format!("{d}/nginx.conf")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run nginx");
    let child = Nginx(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen");
        std::thread::sleep(Duration::from_millis(5));
    }
    (port, child)
}

/// A client with a 4 KiB receive buffer (set before connecting, so its window is small from
/// the start) that asks for `/1m` and reads nothing yet.
fn slow_reader(port: u16) -> TcpStream {
    // SAFETY: a new socket, a c_int option of its size, an address of its size; the fd is
    // owned by the TcpStream from then on.
    let s = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let size: libc::c_int = 4096;
        let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &size as *const _ as *const libc::c_void, len);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr { s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be() },
            sin_zero: [0; 8],
        };
        let alen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let r = libc::connect(fd, &addr as *const _ as *const libc::sockaddr, alen);
        assert_eq!(r, 0, "connect: {}", std::io::Error::last_os_error());
        TcpStream::from_raw_fd(fd)
    };
    (&s).write_all(b"GET /1m HTTP/1.1\r\nhost: test\r\n\r\n").unwrap();
    s
}

/// Asks `path` and reads the whole answer (the server closes); returns it and how long it took.
fn get(port: u16, path: &str) -> (String, Duration) {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    (answer, t0.elapsed())
}

/// A health request on a keep-alive connection opened before the readers came (accepting
/// pauses past the budget, so a new connection would wait in the backlog): how long the
/// worker took to answer it.
fn health(s: &mut TcpStream) -> Duration {
    let t0 = Instant::now();
    s.write_all(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n").unwrap();
    let mut r = BufReader::new(&*s);
    let head = read_head(&mut r).unwrap().expect("a health answer");
    let (n, _) = read_body(&mut r, &head, 0).unwrap();
    assert_eq!((head.status(), n), (200, 2));
    t0.elapsed()
}

/// What the proxy says it holds in queues, from its admin port.
fn held(admin: u16) -> u64 {
    let (text, _) = get(admin, "/metrics");
    let line = text.lines().find(|l| l.starts_with("weir_buffer_held_bytes ")).expect("the held series");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Reads `s` to its end at full speed: whether it got the whole body, correct.
fn read_whole(s: TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut r = BufReader::with_capacity(64 * 1024, s);
    let Ok(Some(head)) = read_head(&mut r) else { return false };
    head.status() == 200 && read_body(&mut r, &head, 0).is_ok_and(|got| got == (MIB, pattern_digest(SEED, MIB)))
}

struct Seen {
    /// The idle process's RSS, before any reader came.
    base: u64,
    peak: u64,
    /// The most the proxy said it held (queues, collected bodies, open sockets).
    held_peak: u64,
    /// The slowest health answer and `/ready`, while the readers wait (`[0]`) and while
    /// they all read at once (`[1]`, with a thousand client threads competing for the CPU).
    slowest_health: [Duration; 2],
    slowest_ready: [Duration; 2],
    reading: bool,
}

impl Seen {
    /// One look: the health request, `/ready`, and the proxy's peak RSS so far.
    fn look(&mut self, pid: u32, keep_alive: &mut TcpStream, admin: u16) {
        let phase = usize::from(self.reading);
        self.slowest_health[phase] = self.slowest_health[phase].max(health(keep_alive));
        let (ready, took) = get(admin, "/ready");
        assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
        self.slowest_ready[phase] = self.slowest_ready[phase].max(took);
        self.peak = self.peak.max(rss(pid).1);
        self.held_peak = self.held_peak.max(held(admin));
    }
}

fn slow_readers_under(budget: u64) -> Seen {
    let ns = NetNs::create();
    let small = "4096 16384 65536";
    let mut sysctl =
        ns.command("sysctl", &["-qw", &format!("net.ipv4.tcp_wmem={small}"), &format!("net.ipv4.tcp_rmem={small}")]);
    assert!(sysctl.status().unwrap().success(), "sysctl in the namespace");
    std::thread::scope(|scope| scope.spawn(|| run_in(&ns, budget)).join().unwrap())
}

fn run_in(ns: &NetNs, budget: u64) -> Seen {
    enter(ns);
    let dir = TempDir::new();
    let (upstream, _nginx) = nginx(&dir);
    let (port, health_port, admin) = (free_port(), free_port(), free_port());
    let script = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{upstream}'))))\n\
         pipy.listen({health_port}, $=>$.serveHTTP(new Message('ok')))\n"
    );
    let args = [format!("--max-buffer={budget}"), format!("--admin-port=127.0.0.1:{admin}")];
    let mut weir = Weir::start(&script, &args.iter().map(String::as_str).collect::<Vec<_>>());
    weir.wait_stderr(&format!("Listening on TCP port {health_port} "), Duration::from_secs(10));
    let pid = weir.child.id();
    let mut keep_alive = TcpStream::connect(("127.0.0.1", health_port)).unwrap();
    keep_alive.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut seen = Seen {
        base: rss(pid).0,
        peak: 0,
        held_peak: 0,
        slowest_health: [Duration::ZERO; 2],
        slowest_ready: [Duration::ZERO; 2],
        reading: false,
    };

    let mut socks = Vec::new();
    for i in 0..READERS {
        socks.push(slow_reader(port));
        if i % 100 == 99 {
            seen.look(pid, &mut keep_alive, admin);
        }
    }
    // The queues fill to the budget's low-water mark; then five seconds of nobody reading.
    let t0 = Instant::now();
    while held(admin) < budget / 4 * 3 {
        assert!(t0.elapsed() < Duration::from_secs(60), "the queues never filled: {} bytes", held(admin));
        seen.look(pid, &mut keep_alive, admin);
    }
    let filled = Instant::now();
    while filled.elapsed() < Duration::from_secs(5) {
        seen.look(pid, &mut keep_alive, admin);
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "queues at the budget after {:?}; {} bytes held, rss peak {} MiB",
        filled - t0,
        held(admin),
        rss(pid).1 / MIB
    );

    // The readers read on, all at once (each on a thread of its own: a reader waiting for a
    // connection still in the backlog must not keep others from draining the queues that
    // hold it there), and every one gets its whole body.
    seen.reading = true;
    let readers: Vec<_> = socks
        .into_iter()
        .map(|s| std::thread::Builder::new().stack_size(256 * 1024).spawn(move || read_whole(s)).unwrap())
        .collect();
    while !readers.iter().all(|r| r.is_finished()) {
        seen.look(pid, &mut keep_alive, admin);
        std::thread::sleep(Duration::from_millis(100));
    }
    let whole = readers.into_iter().map(|r| r.join().unwrap()).filter(|whole| *whole).count();
    assert_eq!(whole, READERS, "readers that got their whole 1 MiB");
    seen
}

#[test]
fn a_thousand_slow_readers_stay_under_the_buffer_budget_and_health_is_answered() {
    let budget = 64 * MIB;
    let seen = slow_readers_under(budget);
    eprintln!(
        "budget {} MiB: rss {} MiB at start, peak {} MiB (+{} MiB); held at most {} MiB; slowest health \
         answer, /ready: {:?}, {:?} while the readers wait, {:?}, {:?} while they read",
        budget / MIB,
        seen.base / MIB,
        seen.peak / MIB,
        (seen.peak - seen.base) / MIB,
        seen.held_peak / MIB,
        seen.slowest_health[0],
        seen.slowest_ready[0],
        seen.slowest_health[1],
        seen.slowest_ready[1]
    );
    // What the proxy holds stays under the budget: readers with bytes queued pause at
    // thirteen sixteenths of it, and the rest is the headroom of those whose queues are
    // empty, which read on by one 4 KiB read each, and of what the budget does not see.
    // Held counts queued bytes, bodies collected whole and 12 KiB for each open socket
    // (what one keeps besides its queues, and that read). Before the headroom: 66 to 69
    // MiB; with an eighth of headroom, 58 to 61.
    assert!(seen.held_peak <= budget, "held {} MiB", seen.held_peak / MIB);
    // And the process's memory past its idle start stays under the budget too. Before the
    // headroom it grew by 66 to 68 MiB (62 to 64 with an eighth of headroom); before the budget counted open sockets, and before
    // queued bytes stopped keeping larger buffers alive, by 109 MiB (held 81 MiB); without
    // a budget, by over 1 GiB.
    assert!(
        seen.peak - seen.base < budget,
        "peak rss {} MiB over the idle {} MiB",
        (seen.peak - seen.base) / MIB,
        seen.base / MIB
    );
    let (health, ready) = (seen.slowest_health[0], seen.slowest_ready[0]);
    assert!(health < Duration::from_secs(1), "health took {health:?} while the readers waited");
    assert!(ready < Duration::from_secs(1), "/ready took {ready:?} while the readers waited");
    let (health, ready) = (seen.slowest_health[1], seen.slowest_ready[1]);
    assert!(health.max(ready) < Duration::from_secs(5), "health took {health:?}, /ready {ready:?} while they read");
}

/// A budget of one byte: every queued byte is over it, yet readers whose queues are empty
/// read on and writers never wait, so everything still moves (only slower).
#[test]
fn with_a_one_byte_budget_every_download_still_completes() {
    let ns = NetNs::create();
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                enter(&ns);
                let dir = TempDir::new();
                let (upstream, _nginx) = nginx(&dir);
                let (mux, plain) = (free_port(), free_port());
                let script = format!(
                    "pipy.listen({mux}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{upstream}'))))\n\
                     pipy.listen({plain}, $=>$.connect('127.0.0.1:{upstream}'))\n"
                );
                let mut weir = Weir::start(&script, &["--max-buffer=1"]);
                weir.wait_stderr(&format!("Listening on TCP port {plain} "), Duration::from_secs(10));
                let clients: Vec<_> = (0..40)
                    .map(|i| {
                        let s = slow_reader(if i % 2 == 0 { mux } else { plain });
                        std::thread::spawn(move || read_whole(s))
                    })
                    .collect();
                let whole = clients.into_iter().map(|c| c.join().unwrap()).filter(|w| *w).count();
                assert_eq!(whole, 40, "downloads that completed whole");
            })
            .join()
            .unwrap()
    });
}

/// Issue 11: bytes held behind a pending promise count in the budget like any queue's. Each
/// of 48 clients posts 2 MiB while `handleMessageStart`'s promise stays pending: past the
/// budget their readers pause, so the proxy's memory stays near the budget instead of
/// holding a megabyte for each (each connection's own limit); once the promises resolve,
/// every body reaches the upstream whole.
#[test]
fn bytes_behind_a_pending_promise_stay_under_the_budget() {
    const CLIENTS: usize = 48;
    const BODY: u64 = 2 * MIB;
    let budget = 8 * MIB;
    let upstream = big_server();
    let (port, go, admin) = (free_port(), free_port(), free_port());
    // Requests that come after the go (their connections waited in the backlog) pass at once.
    let script = format!(
        "var waiting = [], released = false\n\
         pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
           .handleMessageStart(() => released ? undefined : new Promise(r => waiting.push(r)))\n\
           .muxHTTP().to($=>$.connect('127.0.0.1:{upstream}'))))\n\
         pipy.listen({go}, $=>$.serveHTTP(() => {{ released = true; waiting.splice(0).forEach(r => r()); return new Message('ok') }}))\n"
    );
    let args = [format!("--max-buffer={budget}"), format!("--admin-port=127.0.0.1:{admin}")];
    let mut weir = Weir::start(&script, &args.iter().map(String::as_str).collect::<Vec<_>>());
    weir.wait_stderr(&format!("Listening on TCP port {go} "), Duration::from_secs(10));
    let pid = weir.child.id();
    // Opened before the clients: accepting pauses past the budget.
    let mut release = TcpStream::connect(("127.0.0.1", go)).unwrap();
    release.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let base = rss(pid).0;
    let t0 = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let seed = SEED + i as u64;
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                write!(s, "POST /up HTTP/1.1\r\nhost: test\r\ncontent-length: {BODY}\r\n\r\n").unwrap();
                write_pattern(&mut s, seed, BODY, 0).unwrap();
                let mut r = BufReader::new(s);
                let head = read_head(&mut r).unwrap().expect("an answer");
                let mut answer = String::new();
                r.take(head.length().unwrap_or(0)).read_to_string(&mut answer).unwrap();
                answer == format!("{BODY} {}", pattern_digest(seed, BODY))
            })
        })
        .collect();
    // The clients stream into the pending promises for three seconds.
    let (mut peak, mut held_peak) = (0, 0);
    while t0.elapsed() < Duration::from_secs(3) {
        peak = peak.max(rss(pid).1);
        held_peak = held_peak.max(held(admin));
        std::thread::sleep(Duration::from_millis(50));
    }
    release.write_all(b"GET /go HTTP/1.1\r\nhost: test\r\n\r\n").unwrap();
    let head = read_head(&mut BufReader::new(&release)).unwrap().expect("the go answer");
    assert_eq!(head.status(), 200);
    let whole = clients.into_iter().map(|c| c.join().unwrap()).filter(|w| *w).count();
    eprintln!(
        "budget {} MiB: rss {} MiB idle, peak +{} MiB behind the promises; held at most {} KiB; done in {:?}",
        budget / MIB,
        base / MIB,
        (peak - base) / MIB,
        held_peak / 1024,
        t0.elapsed()
    );
    assert_eq!(whole, CLIENTS, "bodies that reached the upstream whole");
    // Uncounted, each connection held its own limit (1 MiB, more with its read buffers):
    // seen +58 MiB.
    assert!(held_peak <= budget + MIB, "held {} KiB", held_peak / 1024);
    assert!(peak - base < 2 * budget, "peak rss +{} MiB over the idle {} MiB", (peak - base) / MIB, base / MIB);
}
