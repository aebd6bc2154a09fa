//! Child processes that cannot outlive the bench, free ports, and memory readings.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Turns Ctrl-C and SIGTERM into an error at the next check, so that the Drop guards still
/// remove firewall rules, cgroups and processes instead of the process dying with them set up.
pub fn catch_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    }
}

pub fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(())
}

/// A port the kernel just handed out on 127.0.0.1. It is free again when this returns, so
/// another process could take it first; a clash shows up as a failed start, not wrong numbers.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("bind 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Prepares a command whose stdout is discarded and whose stderr goes to `log`, and that
/// gets SIGTERM if the bench dies without running its destructors (SIGKILL, a panic in a
/// signal path).
pub fn command(program: impl AsRef<std::ffi::OsStr>, log: &Path) -> Result<Command> {
    let mut cmd = Command::new(program);
    let err = File::create(log).with_context(|| format!("create {}", log.display()))?;
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(cmd)
}

/// [`command`] for a program whose sockets must belong to `cgroup` (a cgroup v2 directory),
/// when given: a shell moves itself into the cgroup, then becomes the program.
pub fn command_in(cgroup: Option<&Path>, program: &str, log: &Path) -> Result<Command> {
    let Some(cg) = cgroup else { return command(program, log) };
    let mut c = command("sh", log)?;
    c.args(["-c", r#"echo $$ > "$0" && exec "$@""#]).arg(cg.join("cgroup.procs")).arg(program);
    Ok(c)
}

/// A running child, stopped (SIGTERM, then SIGKILL after 3 s) when dropped.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(name: impl Into<String>, mut cmd: Command, log: &Path) -> Result<Proc> {
        let name = name.into();
        let child = cmd.spawn().with_context(|| format!("start {name} ({:?})", cmd.get_program()))?;
        Ok(Proc { name, child, log: log.to_path_buf() })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until something accepts on 127.0.0.1:`port`, failing early if the child exits.
    pub fn wait_listening(&mut self, port: u16) -> Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            check_interrupted()?;
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}) before listening on {addr}\n{}", self.name, self.log_tail());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} did not listen on {addr} within 15 s\n{}", self.name, self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fails if the child is gone: numbers measured against a dead proxy mean nothing.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}) during the run\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        format!("--- last lines of {} ---\n{tail}", self.log.display())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// SIGTERM first, so that nginx stops its workers and weir runs its exit callbacks.
pub fn stop(child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    // SAFETY: kill(2) on our own child's pid, which we have not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    if wait_until(child, Instant::now() + Duration::from_secs(3)).is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Polls `child` until it exits or `deadline` passes.
pub fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => return None,
        }
    }
}

/// Peak resident memory of `pid` and its children (nginx's workers), in kB.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let own = status_kb(pid, "VmHWM:")?;
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    Some(own + children.split_whitespace().filter_map(|c| c.parse().ok()).filter_map(peak_rss_kb).sum::<u64>())
}

/// CPU time `pid` has used so far, all its threads and children (nginx's workers) included,
/// from the scheduler's nanosecond counters rather than `stat`'s 10 ms ticks.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let own: u64 = threads
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let theirs: Duration = children.split_whitespace().filter_map(|c| c.parse().ok()).filter_map(cpu_time).sum();
    Some(Duration::from_nanos(own) + theirs)
}

fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

pub fn is_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A directory under /tmp for configs and logs, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Result<TempDir> {
        let path = std::env::temp_dir().join(format!("weir-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("create {}", path.display()))?;
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
