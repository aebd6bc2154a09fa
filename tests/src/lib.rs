//! Helpers for the end-to-end tests: they start the built `weir` binary on scripts and drive
//! it with real clients against real local servers.

pub mod big;
pub mod bulk;
pub mod bulk_http;
pub mod cgroup;
pub mod differential;
pub mod origin;
pub mod tls;
pub mod tproxy;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test: `$WEIR_BIN`, else the workspace's release build. Either must be
/// newer than every runtime source, so that no test passes or fails on yesterday's code.
pub fn weir_bin() -> PathBuf {
    static CHECKED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let bin = match std::env::var("WEIR_BIN") {
                Ok(p) => PathBuf::from(p),
                Err(_) => workspace().join("target/release/weir"),
            };
            let built = std::fs::metadata(&bin).and_then(|m| m.modified()).unwrap_or_else(|_| {
                panic!("{} is missing: run `cargo xtask test` (or `cargo build --release -p weir`)", bin.display())
            });
            let root = workspace();
            // What the binary is built from: an example or a bench changing does not relink it.
            let sources = [root.join("runtime/src"), root.join("runtime/Cargo.toml"), root.join("Cargo.lock")];
            if let Some((path, _)) = newest(&sources).filter(|(_, t)| *t > built) {
                panic!(
                    "{} is older than {}: run `cargo xtask test` (or `cargo build --release -p weir`)",
                    bin.display(),
                    path.display()
                );
            }
            bin
        })
        .clone()
}

/// The most recently modified file under `paths`.
fn newest(paths: &[PathBuf]) -> Option<(PathBuf, std::time::SystemTime)> {
    let mut best: Option<(PathBuf, std::time::SystemTime)> = None;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else { continue };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        } else if let Ok(t) = meta.modified()
            && best.as_ref().is_none_or(|(_, b)| t > *b)
        {
            best = Some((p, t));
        }
    }
    best
}

/// `$WEIR_TEST_SLOWDOWN` (default 1): how many times longer to wait for weir to start, print
/// and exit, for a `WEIR_BIN` that runs it under Valgrind.
pub fn slowdown() -> u32 {
    std::env::var("WEIR_TEST_SLOWDOWN").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A port the kernel says is free right now.
/// A TCP port the kernel just gave out on 127.0.0.1 that is free on [::1] too: scripts that
/// listen on both loopbacks with one port (the transparent-proxy sample) would otherwise
/// fail now and then where another test's IPv6 socket holds the number.
pub fn free_port() -> u16 {
    loop {
        let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        match TcpListener::bind(("::1", port)) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            // Free, or no IPv6 on this host (nothing to collide with).
            _ => return port,
        }
    }
}

/// A running weir with its stdout and stderr collected line by line.
pub struct Weir {
    pub child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    pub script: PathBuf,
    _dir: TempDir,
}

fn collect(r: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>, echo: &'static str) {
    thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if std::env::var_os("WEIR_TEST_ECHO").is_some() {
                eprintln!("{echo}| {line}");
            }
            into.lock().unwrap().push(line);
        }
    });
}

impl Weir {
    /// Writes `script` to a temp dir and runs weir on it with `args`.
    pub fn start(script: &str, args: &[&str]) -> Weir {
        Weir::start_with(script, args, |c| c)
    }

    pub fn start_with(script: &str, args: &[&str], f: impl FnOnce(&mut Command) -> &mut Command) -> Weir {
        let dir = TempDir::new();
        let path = dir.0.join("main.js");
        std::fs::write(&path, script).unwrap();
        Weir::run_file(&path, args, dir, f)
    }

    /// Writes `files` (path, text) into a fresh codebase and runs weir on its `main.js`.
    pub fn start_codebase(files: &[(&str, &str)], args: &[&str], f: impl FnOnce(&mut Command) -> &mut Command) -> Weir {
        let dir = TempDir::new();
        for (path, text) in files {
            let path = dir.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let main = dir.0.join("main.js");
        Weir::run_file(&main, args, dir, f)
    }

    pub fn run_file(
        path: &std::path::Path,
        args: &[&str],
        dir: TempDir,
        f: impl FnOnce(&mut Command) -> &mut Command,
    ) -> Weir {
        Weir::run_wrapped(&[], path, args, dir, f)
    }

    /// Like [`Weir::run_file`], with weir started by `wrapper` (e.g. `["unshare", "-pf"]`).
    pub fn run_wrapped(
        wrapper: &[&str],
        path: &std::path::Path,
        args: &[&str],
        dir: TempDir,
        f: impl FnOnce(&mut Command) -> &mut Command,
    ) -> Weir {
        Weir::run_binary(&weir_bin(), wrapper, path, args, dir, f)
    }

    /// Like [`Weir::run_wrapped`], with the weir binary at `bin` (a copy elsewhere).
    pub fn run_binary(
        bin: &std::path::Path,
        wrapper: &[&str],
        path: &std::path::Path,
        args: &[&str],
        dir: TempDir,
        f: impl FnOnce(&mut Command) -> &mut Command,
    ) -> Weir {
        let mut cmd = match wrapper.split_first() {
            None => Command::new(bin),
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(bin);
                c
            }
        };
        cmd.arg(path).args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        f(&mut cmd);
        // Weir dies with the test process, even when that is killed before `Drop` can run
        // (an interrupted `cargo test`): orphans would keep their ports and cgroups.
        // SAFETY: prctl(2) is async-signal-safe and touches no memory of the parent.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn weir");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().unwrap(), stdout.clone(), "out");
        collect(child.stderr.take().unwrap(), stderr.clone(), "err");
        Weir { child, stdout, stderr, script: path.to_path_buf(), _dir: dir }
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until a line of stderr contains `text`.
    pub fn wait_stderr(&mut self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout * slowdown();
        while Instant::now() < deadline {
            if self.stderr().iter().any(|l| l.contains(text)) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("weir exited ({status}) before printing {text:?}; stderr:\n{}", self.stderr().join("\n"));
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("weir did not print {text:?} in {timeout:?}; stderr:\n{}", self.stderr().join("\n"));
    }

    /// Waits until weir listens (the `Listening on TCP port` log line).
    pub fn wait_listening(&mut self) {
        self.wait_stderr("Listening on TCP port", Duration::from_secs(10));
    }

    /// Waits until stdout has at least `n` lines.
    pub fn wait_stdout_lines(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout * slowdown();
        while Instant::now() < deadline {
            let out = self.stdout();
            if out.len() >= n {
                return out;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.stdout()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for weir to exit; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout * slowdown();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the collector threads read the last lines.
                thread::sleep(Duration::from_millis(50));
                return status.code();
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("weir-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tiny real HTTP/1.1 server on 127.0.0.1 (keep-alive, content-length), answering every
/// request with `respond(method, path)` -> (status line, extra headers, body).
pub struct HttpServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
    /// How many connections it accepted.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
}

pub type Responder = dyn Fn(&str, &str) -> (String, Vec<(String, String)>, String) + Send + Sync;

impl HttpServer {
    pub fn start(
        respond: impl Fn(&str, &str) -> (String, Vec<(String, String)>, String) + Send + Sync + 'static,
    ) -> HttpServer {
        HttpServer::start_on("127.0.0.1:0", respond)
    }

    /// [`HttpServer::start`] on another address, e.g. `"[::1]:0"`.
    pub fn start_on(
        addr: &str,
        respond: impl Fn(&str, &str) -> (String, Vec<(String, String)>, String) + Send + Sync + 'static,
    ) -> HttpServer {
        let listener = TcpListener::bind(addr).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Responder> = Arc::new(respond);
        let log = requests.clone();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let accepted = connections.clone();
        thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(s) = s else { continue };
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (respond, log) = (respond.clone(), log.clone());
                spawn_or_run(move || serve_http(s, &*respond, &log));
            }
        });
        HttpServer { port, requests, connections }
    }

    /// A server answering `200 OK` with `body` to everything.
    pub fn ok(body: &'static str) -> HttpServer {
        HttpServer::start(move |_, _| ("200 OK".into(), vec![], body.into()))
    }
}

fn serve_http(s: TcpStream, respond: &Responder, log: &Mutex<Vec<String>>) {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut len = 0usize;
        let mut close = false;
        let mut host = String::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                match k.as_str() {
                    "content-length" => len = v.parse().unwrap_or(0),
                    "connection" => close = v.eq_ignore_ascii_case("close"),
                    "host" => host = v.to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().unwrap().push(format!("{method} {path} {host}"));
        let (status, headers, body) = respond(&method, &path);
        let mut resp = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
        for (k, v) in headers {
            resp.push_str(&format!("{k}: {v}\r\n"));
        }
        if close {
            resp.push_str("connection: close\r\n");
        }
        resp.push_str("\r\n");
        resp.push_str(&body);
        if w.write_all(resp.as_bytes()).is_err() || close {
            let _ = w.shutdown(Shutdown::Write);
            return;
        }
    }
}

/// A TCP server that runs `f` on each connection in its own thread.
pub fn tcp_server(f: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // std listens with a backlog of 128: a burst of connects past it has its SYNs dropped and
    // retried 1, 3, 7, 15 and 31 s later, which a test would take for a lost connection.
    // listen() again on a listening socket only sets the backlog.
    // SAFETY: a valid listening socket of our own.
    unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), 4096) };
    let port = listener.local_addr().unwrap().port();
    let f = Arc::new(f);
    thread::spawn(move || {
        for s in listener.incoming() {
            // An accept that fails (out of descriptors while another test runs beside this
            // one) must not end the server: the clients still waiting would never be served.
            let Ok(s) = s else {
                thread::sleep(Duration::from_millis(10));
                continue;
            };
            let f = f.clone();
            spawn_or_run(move || f(s));
        }
    });
    port
}

/// Runs `f` on a thread of its own, or here if no thread can be made now (the test process
/// at its task limit while another test runs beside it): a test server's accept loop must
/// go on, where `thread::spawn` would panic and end it.
pub fn spawn_or_run(f: impl FnOnce() + Send + 'static) {
    let f = Arc::new(Mutex::new(Some(f)));
    let take = f.clone();
    let spawned = thread::Builder::new().spawn(move || {
        if let Some(f) = take.lock().unwrap().take() {
            f()
        }
    });
    if spawned.is_err()
        && let Some(f) = f.lock().unwrap().take()
    {
        f()
    }
}

/// An echo server: every byte read is written back; EOF is echoed as a half-close.
pub fn echo_server() -> u16 {
    tcp_server(|mut s| {
        let mut w = s.try_clone().unwrap();
        let _ = std::io::copy(&mut s, &mut w);
        let _ = w.shutdown(Shutdown::Write);
    })
}

/// Runs curl with `args` and returns (exit code, stdout, stderr).
pub fn curl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().expect("run curl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Collects `n` items from `rx`, waiting at most `timeout` in all.
pub fn recv_n<T>(rx: &Receiver<T>, n: usize, timeout: Duration) -> Vec<T> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) => out.push(v),
            Err(_) => break,
        }
    }
    out
}

pub fn channel_pair<T>() -> (std::sync::mpsc::Sender<T>, Receiver<T>) {
    channel()
}
