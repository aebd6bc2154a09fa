//! Many slow clients and listener bounds: a thousand clients that ask for a big body each
//! and read it slowly do not make the proxy hold a copy of every body (each connection's
//! queue is bounded, and bodies nobody looks at wait in the kernel), and the process keeps
//! answering while they wait; `maxConnections` keeps further clients in the backlog.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::FromRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weir_tests::big::{pattern_digest, read_body, read_head, rss, write_pattern};
use weir_tests::*;

const MIB: u64 = 1 << 20;
const SEED: u64 = 0x0B0D;

/// nginx serving `/1m`, with room for a thousand connections.
struct Nginx {
    port: u16,
    child: Child,
    _dir: TempDir,
}

impl Nginx {
    fn start() -> Nginx {
        let dir = TempDir::new();
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
               keepalive_requests 100000; send_timeout 120s;\n\
               server {{ listen 127.0.0.1:{port} backlog=4096; root {d}/www; }} }}\n"
        );
        let path = dir.0.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new("nginx")
            .args(["-e", &format!("{d}/error.log"), "-c", &path.to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen: {}", errors(&dir.0));
            std::thread::sleep(Duration::from_millis(5));
        }
        Nginx { port, child, _dir: dir }
    }
}

fn errors(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that asks for `/1m`, with a small receive buffer (set before connecting, so
/// that the window it offers is small from the start) so that the body waits in the proxy
/// rather than in this socket.
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

/// Reads every socket a little (`step` bytes each per round, a round every 100 ms) until
/// `stop`; returns the sockets and what each one got.
fn read_slowly(socks: Vec<TcpStream>, step: usize, stop: Arc<AtomicBool>) -> Vec<(TcpStream, Vec<u8>)> {
    let mut socks: Vec<_> = socks.into_iter().map(|s| (s, Vec::new())).collect();
    let mut buf = vec![0u8; step];
    while !stop.load(Ordering::Relaxed) {
        for (s, got) in socks.iter_mut() {
            s.set_nonblocking(true).unwrap();
            if let Ok(n) = s.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    socks
}

/// How long a health request took, or `None` when it was not answered `ok` within 5 s.
fn health(port: u16) -> Option<Duration> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n").ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    answer.ends_with("ok").then(|| t0.elapsed())
}

#[test]
fn a_thousand_slow_readers_through_demux_and_mux_keep_memory_bounded_and_health_answered() {
    let nginx = Nginx::start();
    let (port, health_port) = (free_port(), free_port());
    let script = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{}'))))\n\
         pipy.listen({health_port}, $=>$.serveHTTP(new Message('ok')))\n",
        nginx.port
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let pid = weir.child.id();
    let (base, _) = rss(pid);

    let t0 = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut socks = Vec::new();
    for i in 0..1000 {
        socks.push(slow_reader(port));
        if i % 100 == 99 {
            slowest = slowest.max(health(health_port).expect("no health answer while clients connect"));
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reading = {
        let stop = stop.clone();
        std::thread::spawn(move || read_slowly(socks, 2048, stop))
    };
    // Eight seconds of 1,000 bodies waiting for readers that take 20 KiB/s each.
    while t0.elapsed() < Duration::from_secs(8) {
        slowest = slowest.max(health(health_port).expect("no health answer while 1,000 bodies wait"));
        std::thread::sleep(Duration::from_millis(200));
    }
    let (now, peak) = rss(pid);
    stop.store(true, Ordering::Relaxed);
    let socks = reading.join().unwrap();
    let read: usize = socks.iter().map(|(_, got)| got.len()).sum();
    eprintln!(
        "rss {} MiB at start, {} MiB now, peak {} MiB; clients read {} KiB; slowest health answer {slowest:?}; {:?}",
        base / MIB,
        now / MIB,
        peak / MIB,
        read / 1024,
        t0.elapsed()
    );
    // 1,000 MiB of bodies are on their way; the proxy holds a small part of them.
    assert!(peak < base + 64 * MIB, "peak rss {} MiB", peak / MIB);

    // Readers that read on get their whole body.
    for (s, got) in socks.into_iter().step_by(100) {
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = std::io::BufReader::new(std::io::Cursor::new(got).chain(s));
        let head = read_head(&mut r).unwrap().expect("no response head");
        assert_eq!(head.status(), 200);
        assert_eq!(read_body(&mut r, &head, 0).unwrap(), (MIB, pattern_digest(SEED, MIB)));
    }
}

/// Sends a request on `s` and reads its answer, which shows the connection was accepted.
fn served(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n").unwrap();
    let mut buf = [0u8; 256];
    s.read(&mut buf).is_ok_and(|n| buf[..n].ends_with(b"hello\n"))
}

#[test]
fn max_connections_holds_further_clients_in_the_backlog_and_zero_means_no_bound() {
    let (bounded, unbounded) = (free_port(), free_port());
    let script = format!(
        "pipy.listen({bounded}, {{ maxConnections: 2 }}, $=>$.serveHTTP(new Message('hello\\n')))\n\
         pipy.listen({unbounded}, {{ maxConnections: 0 }}, $=>$.serveHTTP(new Message('hello\\n')))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();

    let mut holders: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(("127.0.0.1", bounded)).unwrap()).collect();
    assert!(holders.iter_mut().all(served));
    let url = format!("http://127.0.0.1:{bounded}/");
    let (code, _, _) = curl(&["--max-time", "1", &url]);
    assert_eq!(code, 28, "a third client must wait in the backlog, not be served");
    holders.pop();
    let (code, body, err) = curl(&["--max-time", "5", &url]);
    assert_eq!((code, body.as_str()), (0, "hello\n"), "{err}");

    // As in Pipy, 0 is no bound (it used to accept nobody).
    let mut open: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(("127.0.0.1", unbounded)).unwrap()).collect();
    assert!(open.iter_mut().all(served));
}
