//! Throw-away cgroups for the eBPF tests. A test creates its own child of the cgroup v2 root,
//! starts only its own processes in it and attaches programs only there; dropping the
//! [`TestCgroup`] kills whatever is still inside and removes it with all its children, also
//! when the test fails.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The cgroup v2 mount point, from `/proc/self/mountinfo` (`/sys/fs/cgroup/unified` on
/// hybrid systems).
pub fn cgroup2_root() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split(' ').next()? != "cgroup2" {
            return None;
        }
        left.split(' ').nth(4).map(PathBuf::from)
    })
}

/// Skips the calling eBPF test, loudly, when [`skip_reason`] says it cannot run here: the
/// reason goes to stderr and to the skip log that `cargo xtask test` counts at the end.
#[macro_export]
macro_rules! require_ebpf {
    ($name:expr) => {
        if let Some(reason) = $crate::cgroup::skip_reason() {
            $crate::cgroup::record_skip($name, &reason);
            return;
        }
    };
}

/// Notes a skipped test in `$WEIR_SKIP_LOG` (set by `cargo xtask test`) and on stderr.
pub fn record_skip(name: &str, reason: &str) {
    eprintln!("SKIPPED: {name}: {reason}");
    if let Some(log) = std::env::var_os("WEIR_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = writeln!(f, "{name}: {reason}");
        }
    }
}

/// Why the eBPF tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("eBPF tests need root".into());
    }
    let Some(root) = cgroup2_root() else {
        return Some("no cgroup v2 mount".into());
    };
    if !root.join("cgroup.procs").exists() {
        return Some(format!("{} is not a usable cgroup v2 root", root.display()));
    }
    if !bpf_available() {
        return Some("the bpf() syscall is not available".into());
    }
    for tool in ["curl", "python3", "bpftool"] {
        if Command::new(tool).arg("--version").output().is_err() {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// Creates and closes a one-entry array map: proof that bpf() works for us.
fn bpf_available() -> bool {
    #[repr(C)]
    struct MapCreate {
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    }
    let attr = MapCreate { map_type: 2, key_size: 4, value_size: 4, max_entries: 1 };
    // SAFETY: BPF_MAP_CREATE reads `size` bytes of a properly initialised attr.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, 0, &attr as *const MapCreate, size_of::<MapCreate>()) };
    if fd < 0 {
        return false;
    }
    // SAFETY: closing the fd we just got.
    unsafe { libc::close(fd as i32) };
    true
}

pub struct TestCgroup {
    pub path: PathBuf,
    root: PathBuf,
}

impl TestCgroup {
    /// `<cgroup2 root>/weir-test-<pid>-<n>`.
    pub fn create() -> TestCgroup {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = cgroup2_root().expect("cgroup v2 mount");
        let path = root.join(format!("weir-test-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TestCgroup { path, root }
    }

    /// Takes charge of `path`, a cgroup that something else is about to create: it is removed
    /// like one made by [`TestCgroup::create`].
    pub fn adopt(path: PathBuf) -> TestCgroup {
        TestCgroup { path, root: cgroup2_root().expect("cgroup v2 mount") }
    }

    /// Makes `cmd` start inside this cgroup: the child joins it between fork and exec, so
    /// every socket it creates belongs to it.
    pub fn enter<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        let procs = CString::new(self.path.join("cgroup.procs").into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: the hook only makes async-signal-safe calls (open, getpid, write, close)
        // and formats the pid on the stack.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let mut buf = [0u8; 16];
                let mut i = buf.len();
                let mut pid = libc::getpid() as u32;
                loop {
                    i -= 1;
                    buf[i] = b'0' + (pid % 10) as u8;
                    pid /= 10;
                    if pid == 0 {
                        break;
                    }
                }
                let n = libc::write(fd, buf[i..].as_ptr().cast(), buf.len() - i);
                let err = std::io::Error::last_os_error();
                libc::close(fd);
                if n < 0 { Err(err) } else { Ok(()) }
            })
        }
    }

    /// `bpftool cgroup show` for this cgroup: the program lines, empty when nothing is attached.
    pub fn attached(&self) -> Vec<String> {
        bpftool_cgroup_show(&self.path)
    }

    /// The pids in this cgroup and its children.
    pub fn pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for dir in subtree(&self.path) {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            out.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
        out
    }
}

pub fn bpftool_cgroup_show(path: &Path) -> Vec<String> {
    let out = Command::new("bpftool").args(["cgroup", "show"]).arg(path).output().expect("run bpftool");
    String::from_utf8_lossy(&out.stdout).lines().skip(1).filter(|l| !l.trim().is_empty()).map(String::from).collect()
}

/// `dir` and every cgroup below it, deepest first.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(subtree(&e.path()));
            }
        }
    }
    out.push(dir.to_path_buf());
    out
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Only this test's processes can be in here.
        for pid in self.pids() {
            // SAFETY: kill(2) on a pid read from our own test cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for dir in subtree(&self.path) {
            while std::fs::remove_dir(&dir).is_err() && Instant::now() < deadline {
                // A process that will not die in time is moved out so the cgroup can go.
                let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines() {
                    let _ = std::fs::write(self.root.join("cgroup.procs"), pid);
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        if self.path.exists() {
            eprintln!("WARNING: could not remove test cgroup {}", self.path.display());
        }
    }
}
