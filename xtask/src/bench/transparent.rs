//! Scenario e: the transparent-proxy sample intercepting through its eBPF programs, beside
//! the same sample behind an iptables REDIRECT and beside no interception.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::proc::{self, Proc, free_port};
use super::{Bench, E_CONN, E_KEEP, Row, SAMPLE, System, intercept, nginx, skipped, wrk};

/// The plain TCP proxies of e's new-connection group: no interception, no script, the cost a
/// new connection through the sample is weighed against (issue 24: at most 1.25x weir's).
pub(super) const PLAIN_CONNECT: &str = "weir connect, no interception";
pub(super) const PLAIN_STREAM: &str = "nginx stream, no interception";

impl Bench {
    /// Scenario e. The sample intercepts the connects of one cgroup; the bench gives it a
    /// child cgroup of its own holding only the sample and its wrk, and the iptables rule
    /// matches only a second one holding only the other wrk.
    pub(super) fn transparent(&self) -> Result<Vec<Row>> {
        let (cgroup2, sample) = match self.sample_ready(&[E_CONN, E_KEEP], "BPF programs, cgroups, iptables") {
            Ok(found) => found,
            Err(rows) => return Ok(rows),
        };

        // Declared first so that it is dropped last, after the rule and the processes.
        let cgroups = intercept::Cgroups::create(&cgroup2, &["ebpf", "iptables", "idle"])?;
        let (upstream, up) = self.upstream()?;
        let (ebpf_port, ipt_port) = (free_port()?, free_port()?);
        // The eBPF proxy runs inside the intercepted cgroup, next to its clients (the harder
        // case: its programs must recognise its own connects, by the process that bound
        // the proxy port).
        let ebpf = self.sample(&sample, ebpf_port, &cgroups.path("ebpf"), Some(&cgroups.path("ebpf")))?;
        // The same proxy for iptables. Its programs go to an empty cgroup, where they see
        // nothing, and it runs outside every bench cgroup; finding nothing in its map, it
        // asks SO_ORIGINAL_DST, which the kernel answers from conntrack.
        let iptables = self.sample(&sample, ipt_port, &cgroups.path("idle"), None)?;
        let (ebpf_pid, ipt_pid) = (ebpf.pid(), iptables.pid());
        let ((plain, plain_port), (stream, stream_port)) = self.plain_proxies(up)?;
        let (plain_pid, stream_pid) = (plain.pid(), stream.pid());
        let mut procs = vec![upstream, ebpf, iptables, plain, stream];
        let rule = intercept::Redirect::add(&cgroups.match_path("iptables"), up, ipt_port)?;

        for (cg, port, what) in [("ebpf", ebpf_port, "eBPF"), ("iptables", ipt_port, "iptables")] {
            self.check_intercepted(&cgroups.path(cg), up, port, what)?;
        }

        let url = format!("http://127.0.0.1:{up}/");
        let systems = |close: bool| {
            let to = |url: &str, cgroup: Option<PathBuf>| wrk::Load {
                url: url.to_string(),
                close,
                cgroup,
                h2: false,
                connections: None,
            };
            let load = |cgroup: Option<PathBuf>| to(&url, cgroup);
            let plain = |name: &str, port: u16, pid: u32| System {
                name: name.into(),
                load: to(&format!("http://127.0.0.1:{port}/"), None),
                pid: Some(pid),
                baseline: false,
            };
            let mut all = vec![
                System { name: "no interception".into(), load: load(None), pid: None, baseline: false },
                System {
                    name: "iptables REDIRECT + weir".into(),
                    load: load(Some(cgroups.path("iptables"))),
                    pid: Some(ipt_pid),
                    baseline: true,
                },
                System {
                    name: "eBPF sample (weir)".into(),
                    load: load(Some(cgroups.path("ebpf"))),
                    pid: Some(ebpf_pid),
                    baseline: false,
                },
            ];
            if close {
                all.push(plain(PLAIN_CONNECT, plain_port, plain_pid));
                all.push(plain(PLAIN_STREAM, stream_port, stream_pid));
            }
            all
        };
        let (conn, keep) = (systems(true), systems(false));
        let mut rows = self.measure(E_CONN, conn, &mut procs)?;
        rows.extend(self.measure(E_KEEP, keep, &mut procs)?);
        drop(rule);
        drop(procs);
        drop(cgroups);
        let left = intercept::leftovers(&cgroup2);
        if !left.is_empty() {
            bail!("left behind after scenario e:\n{}", left.join("\n"));
        }
        eprintln!("bench: e cleaned up: no iptables rule, cgroup or BPF attachment of this run is left");
        Ok(rows)
    }

    /// A plain weir `connect` and an nginx `stream` to the upstream, with their ports.
    fn plain_proxies(&self, up: u16) -> Result<((Proc, u16), (Proc, u16))> {
        let (plain_port, stream_port) = (free_port()?, free_port()?);
        let up_addr = format!("127.0.0.1:{up}");
        let plain = self.weir("tcp-proxy.js", plain_port, Some(up), 1)?;
        let stream =
            nginx::start("nginx-stream-e", nginx::Role::Stream { upstream: &up_addr }, stream_port, self.dir())?;
        Ok(((plain, plain_port), (stream, stream_port)))
    }

    /// Starts the transparent-proxy sample. Its stdout (a line per request and per
    /// response) goes to a file: [`Bench::check_intercepted`] reads it.
    pub(super) fn sample(&self, script: &Path, port: u16, intercepted: &Path, inside: Option<&Path>) -> Result<Proc> {
        let log = self.dir().join(format!("sample-{port}.log"));
        let mut cmd = match inside {
            Some(cg) => {
                let mut c = proc::command("sh", &log)?;
                c.args(["-c", r#"echo $$ > "$0" && exec "$@""#]).arg(cg.join("cgroup.procs")).arg(&self.weir);
                c
            }
            None => proc::command(&self.weir, &log)?,
        };
        cmd.arg(script).env("CGROUP", intercepted).env("PROXY_PORT", port.to_string());
        cmd.stdout(std::fs::File::create(self.sample_out(port))?);
        let mut p = Proc::spawn(format!("transparent-proxy sample on port {port}"), cmd, &log)?;
        p.wait_listening(port)?;
        Ok(p)
    }

    /// Where the sample on `port` prints the heads it sees.
    pub(super) fn sample_out(&self, port: u16) -> PathBuf {
        self.dir().join(format!("sample-{port}.out"))
    }

    /// One request from inside `cgroup` to the upstream must come back 200 and show up in
    /// the proxy's output: otherwise the numbers would be those of the direct path.
    pub(super) fn check_intercepted(&self, cgroup: &Path, up: u16, proxy_port: u16, what: &str) -> Result<()> {
        let out = Command::new("sh")
            .args(["-c", r#"echo $$ > "$0" && exec curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1""#])
            .arg(cgroup.join("cgroup.procs"))
            .arg(format!("http://127.0.0.1:{up}/"))
            .output()
            .context("run curl")?;
        let code = String::from_utf8_lossy(&out.stdout);
        if code != "200" {
            bail!("{what}: a request to the upstream from {} got HTTP {code:?}, not 200", cgroup.display());
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        let seen = self.sample_out(proxy_port);
        while !std::fs::read_to_string(&seen).unwrap_or_default().contains("GET /") {
            if Instant::now() > deadline {
                bail!(
                    "{what}: the request from {} did not go through the proxy on port {proxy_port}",
                    cgroup.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Bench {
    /// The cgroup v2 mount and the sample, if the sample can run here; otherwise the rows
    /// saying why not, one per title. `needs` names what root is needed for.
    pub(super) fn sample_ready(&self, titles: &[&'static str], needs: &str) -> Result<(PathBuf, PathBuf), Vec<Row>> {
        let skip = |why: String| titles.iter().map(|t| skipped(t, "-", why.clone())).collect::<Vec<_>>();
        if !crate::deps::is_root() {
            return Err(skip(format!("skipped: needs root ({needs})")));
        }
        let cgroup2 = intercept::cgroup2_root().map_err(|e| skip(format!("skipped: {e}")))?;
        let sample = self.root.join(SAMPLE);
        if !sample.exists() {
            return Err(skip(format!("skipped: {SAMPLE} does not exist")));
        }
        if let Some(rows) = self.lacks(titles[0], &["decodeHTTPRequest", "decodeHTTPResponse", "fork", "connect"]) {
            return Err(rows);
        }
        Ok((cgroup2, sample))
    }
}
