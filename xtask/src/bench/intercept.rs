//! Scenario e's interceptions: throw-away cgroups and one iptables REDIRECT rule, both
//! named after the bench's pid so that a run killed with SIGKILL is cleaned up by the next.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::proc;

const PREFIX: &str = "weir-bench-";

/// Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems).
pub fn cgroup2_root() -> Result<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    info.lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let dir = left.split(' ').nth(4)?;
            (right.split(' ').next() == Some("cgroup2")).then(|| PathBuf::from(dir))
        })
        .context("no cgroup v2 mount in /proc/self/mountinfo")
}

/// `<cgroup2 root>/weir-bench-<pid>` with child cgroups, removed when dropped. Nothing is
/// ever attached to or changed in any cgroup outside it.
pub struct Cgroups {
    root: PathBuf,
    top: PathBuf,
}

impl Cgroups {
    pub fn create(cgroup2: &Path, children: &[&str]) -> Result<Cgroups> {
        let top = cgroup2.join(format!("{PREFIX}{}", std::process::id()));
        std::fs::create_dir(&top).with_context(|| format!("create cgroup {}", top.display()))?;
        let cg = Cgroups { root: cgroup2.to_path_buf(), top };
        for c in children {
            std::fs::create_dir(cg.top.join(c)).with_context(|| format!("create cgroup {}/{c}", cg.top.display()))?;
        }
        Ok(cg)
    }

    pub fn path(&self, child: &str) -> PathBuf {
        self.top.join(child)
    }

    /// The path iptables' cgroup match wants: relative to the cgroup2 root, with a leading '/'.
    pub fn match_path(&self, child: &str) -> String {
        format!("/{}", self.path(child).strip_prefix(&self.root).unwrap_or(Path::new(child)).display())
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        if let Err(e) = remove_cgroup(&self.top) {
            eprintln!("bench: {e:#}");
        }
    }
}

/// Kills whatever is still inside (only our own processes can be: the cgroup is ours) and
/// removes the cgroup, children first.
fn remove_cgroup(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup(&entry.path())?;
        }
    }
    let procs = dir.join("cgroup.procs");
    if !std::fs::read_to_string(&procs).unwrap_or_default().trim().is_empty() {
        let _ = std::fs::write(dir.join("cgroup.kill"), "1");
        let deadline = Instant::now() + Duration::from_secs(3);
        while !std::fs::read_to_string(&procs).unwrap_or_default().trim().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::fs::remove_dir(dir).with_context(|| format!("remove cgroup {}", dir.display()))
}

/// `iptables -t nat OUTPUT -p tcp -d 127.0.0.1 --dport <port> -m cgroup --path <cg>
/// -j REDIRECT --to-ports <proxy>`: only the bench client's own connects to the upstream
/// port are redirected. Deleted when dropped.
pub struct Redirect {
    spec: Vec<String>,
}

impl Redirect {
    pub fn add(cgroup: &str, port: u16, proxy_port: u16) -> Result<Redirect> {
        let spec: Vec<String> = [
            "OUTPUT",
            "-p",
            "tcp",
            "-d",
            "127.0.0.1",
            "--dport",
            &port.to_string(),
            "-m",
            "cgroup",
            "--path",
            cgroup,
            "-m",
            "comment",
            "--comment",
            &format!("{PREFIX}{}", std::process::id()),
            "-j",
            "REDIRECT",
            "--to-ports",
            &proxy_port.to_string(),
        ]
        .map(String::from)
        .to_vec();
        iptables("-A", &spec)?;
        Ok(Redirect { spec })
    }
}

impl Drop for Redirect {
    fn drop(&mut self) {
        if let Err(e) = iptables("-D", &self.spec) {
            eprintln!(
                "bench: could not remove the iptables rule, remove it by hand: iptables -t nat -D {}: {e:#}",
                self.spec.join(" ")
            );
        }
    }
}

fn iptables(op: &str, spec: &[String]) -> Result<()> {
    let out =
        Command::new("iptables").args(["-w", "5", "-t", "nat", op]).args(spec).output().context("run iptables")?;
    if !out.status.success() {
        bail!("iptables -t nat {op} {} failed: {}", spec.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Removes the rules and cgroups of earlier runs that died without cleaning up (their pid
/// is gone). Those of a bench still running are left alone.
pub fn sweep_stale(cgroup2: Option<&Path>) {
    let dead = |name: &str| name.strip_prefix(PREFIX).and_then(|p| p.parse().ok()).is_some_and(|p| !proc::is_alive(p));
    if let Ok(out) = Command::new("iptables").args(["-w", "5", "-t", "nat", "-S", "OUTPUT"]).output() {
        for rule in String::from_utf8_lossy(&out.stdout).lines() {
            let words: Vec<String> = rule.split_whitespace().map(|w| w.trim_matches('"').to_string()).collect();
            let tagged = words.windows(2).any(|w| w[0] == "--comment" && dead(&w[1]));
            if tagged && words.first().is_some_and(|w| w == "-A") {
                eprintln!("bench: removing a rule left by an earlier run: {rule}");
                let _ = iptables("-D", &words[1..]);
            }
        }
    }
    let Some(root) = cgroup2 else { return };
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        if entry.file_name().to_str().is_some_and(dead) {
            eprintln!("bench: removing a cgroup left by an earlier run: {}", entry.path().display());
            if let Err(e) = remove_cgroup(&entry.path()) {
                eprintln!("bench: {e:#}");
            }
        }
    }
}

/// What is left of this run in the firewall and the cgroup tree; empty when all is clean.
pub fn leftovers(cgroup2: &Path) -> Vec<String> {
    let tag = format!("{PREFIX}{}", std::process::id());
    let mut left = Vec::new();
    if let Ok(out) = Command::new("iptables").args(["-w", "5", "-t", "nat", "-S"]).output() {
        left.extend(
            String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains(&tag)).map(|l| format!("iptables: {l}")),
        );
    }
    if cgroup2.join(&tag).exists() {
        left.push(format!("cgroup: {}", cgroup2.join(&tag).display()));
    }
    if let Ok(out) = Command::new("bpftool").args(["cgroup", "tree"]).output() {
        left.extend(
            String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains(&tag)).map(|l| format!("bpftool: {l}")),
        );
    }
    left
}
