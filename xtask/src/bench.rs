//! `cargo xtask bench [--quick] [SCENARIO...]`: weir side by side with nginx, iptables and
//! the direct path, on 127.0.0.1, every baseline measured in the same run.
//!
//! The VMs this runs on have two noisy cores, so a number is only meaningful next to a
//! baseline taken moments apart: the systems of a scenario all run at once and wrk visits
//! them in turn (A, B, A, B, ...), and each column is the median over the rounds.

mod big;
mod intercept;
mod nginx;
mod proc;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::deps::{self, Need};
use proc::{Proc, TempDir, free_port};

const USAGE: &str = "\
Usage: cargo xtask bench [--quick] [SCENARIO...]

Scenarios (default: all):
  a   HTTP hello: weir serveHTTP vs nginx return 200
  b   TCP proxy: weir listen + connect vs nginx stream vs the upstream directly
  c   HTTP/1 proxy: weir decode + encode vs nginx proxy_pass (keep-alive upstream)
  d   weir demuxHTTP/muxHTTP + handleMessageStart vs nginx proxy_pass
  e   transparent proxy: eBPF sample vs iptables REDIRECT vs no interception (root only)
  f   --threads=2 vs --threads=1 on a and d
  g   1 GiB through demux/mux vs nginx proxy_pass, one download at a time, peak RSS
  cb  micro-benchmark: one handleMessageStart call on a 10-header head

--quick  3 rounds of 1 s per system (about a minute in all) instead of 5 rounds of 5 s;
         g downloads 256 MiB instead of 1 GiB
";

const SCENARIOS: &[&str] = &["a", "b", "c", "d", "e", "f", "g", "cb"];

const A: &str = "a. HTTP hello";
const B: &str = "b. TCP proxy";
const C: &str = "c. HTTP/1 proxy";
const D: &str = "d. demux/mux + callback";
const E_CONN: &str = "e. transparent, new conn/s";
const E_KEEP: &str = "e. transparent, keep-alive";
const F_A: &str = "f. threads, hello (a)";
const F_D: &str = "f. threads, demux/mux (d)";
const G: &str = "g. 1 GiB through demux/mux";
const CB: &str = "cb. handleMessageStart call";

const SAMPLE: &str = "samples/bpf/transparent-proxy/main.js";

struct Bench {
    root: PathBuf,
    weir: PathBuf,
    dir: TempDir,
    quick: bool,
    rounds: usize,
    secs: u64,
    /// Filters the built weir does not have (asked from the binary, not the source tree).
    missing: Vec<String>,
}

enum Outcome {
    Measured(wrk::Sample),
    Skipped(String),
    Failed(String),
}

struct Row {
    scenario: &'static str,
    system: String,
    outcome: Outcome,
    rss_kb: Option<u64>,
    baseline: bool,
}

/// One thing to load in a scenario.
struct System {
    name: String,
    load: wrk::Load,
    /// Whose memory to report: the proxy (none for the direct path).
    pid: Option<u32>,
    baseline: bool,
}

impl System {
    fn http(name: &str, port: u16, pid: Option<u32>, baseline: bool) -> System {
        let load = wrk::Load { url: format!("http://127.0.0.1:{port}/"), close: false, cgroup: None };
        System { name: name.into(), load, pid, baseline }
    }
}

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut quick = false;
    let mut selected = Vec::new();
    for a in args {
        match a.as_str() {
            "--quick" => quick = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            s if SCENARIOS.contains(&s) => selected.push(s),
            s => bail!("unknown bench argument: {s} (scenarios: {})\n\n{USAGE}", SCENARIOS.join(" ")),
        }
    }
    // The table always comes in the issue's order, whatever the order on the command line.
    let selected: Vec<&str> =
        SCENARIOS.iter().copied().filter(|s| selected.is_empty() || selected.contains(s)).collect();
    proc::catch_signals();
    deps::ensure(deps::BENCH)?;
    if selected.contains(&"b") {
        deps::ensure(&[Need { what: nginx::STREAM_MODULE, package: "libnginx-mod-stream" }])?;
    }
    crate::cargo(&["build", "--release", "-p", "weir"])?;
    if selected.contains(&"cb") {
        crate::cargo(&["build", "--release", "-p", "weir", "--example", "callback_bench"])?;
    }
    proc::check_interrupted()?;
    intercept::sweep_stale(intercept::cgroup2_root().ok().as_deref());

    let weir = root.join("target/release/weir");
    let missing = missing_filters(&weir)?;
    let (rounds, secs) = if quick { (3, 1) } else { (5, 5) };
    let bench = Bench { root: root.to_path_buf(), weir, dir: TempDir::new()?, quick, rounds, secs, missing };

    let started = Instant::now();
    let mut rows = Vec::new();
    for s in selected {
        let result = match s {
            "a" => bench.hello(),
            "b" => bench.tcp_proxy(),
            "c" => bench.http_proxy(),
            "d" => bench.demux_mux(),
            "e" => bench.transparent(),
            "f" => bench.threads(),
            "g" => bench.big_body(),
            _ => bench.callback(),
        };
        proc::check_interrupted()?;
        match result {
            Ok(r) => rows.extend(r),
            Err(e) => {
                eprintln!("bench: scenario {s} failed: {e:#}");
                let first_line = format!("{e:#}").lines().next().unwrap_or_default().to_string();
                rows.push(Row {
                    scenario: scenario_name(s),
                    system: "-".into(),
                    outcome: Outcome::Failed(first_line),
                    rss_kb: None,
                    baseline: false,
                });
            }
        }
    }
    println!("\n{}", table(&rows));
    println!("{}", goals(&rows));
    eprintln!("bench: done in {:.0} s", started.elapsed().as_secs_f64());
    if rows.iter().any(|r| matches!(r.outcome, Outcome::Failed(_))) {
        bail!("some scenarios failed (see above)");
    }
    Ok(())
}

fn scenario_name(s: &str) -> &'static str {
    match s {
        "a" => A,
        "b" => B,
        "c" => C,
        "d" => D,
        "e" => E_KEEP,
        "f" => F_A,
        "g" => G,
        _ => CB,
    }
}

/// Asks the built binary which filter methods a pipeline designer has.
fn missing_filters(weir: &Path) -> Result<Vec<String>> {
    const NEEDED: &[&str] = &[
        "serveHTTP",
        "connect",
        "decodeHTTPRequest",
        "encodeHTTPRequest",
        "decodeHTTPResponse",
        "encodeHTTPResponse",
        "demuxHTTP",
        "muxHTTP",
        "handleMessageStart",
        "fork",
    ];
    let probe = format!(
        "var missing; pipeline($ => {{ missing = {NEEDED:?}.filter(n => typeof $[n] !== 'function').join(' '); return $ }}); missing"
    );
    let out = Command::new(weir).arg("-e").arg(&probe).output().with_context(|| format!("run {}", weir.display()))?;
    if !out.status.success() {
        bail!("{} -e <filter probe> failed: {}", weir.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect())
}

impl Bench {
    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A row saying why `scenario` was not run, if weir lacks one of `filters`.
    fn lacks(&self, scenario: &'static str, filters: &[&str]) -> Option<Vec<Row>> {
        let lacking: Vec<&str> = filters.iter().copied().filter(|f| self.missing.iter().any(|m| m == f)).collect();
        (!lacking.is_empty())
            .then(|| vec![skipped(scenario, "weir", format!("skipped: weir lacks {}", lacking.join(", ")))])
    }

    /// Starts `xtask/bench/<script>` listening on 127.0.0.1:`port`.
    fn weir(&self, script: &str, port: u16, upstream: Option<u16>, threads: usize) -> Result<Proc> {
        let log = self.dir().join(format!("weir-{port}.log"));
        let mut cmd = proc::command(&self.weir, &log)?;
        cmd.arg(self.root.join("xtask/bench").join(script)).arg(format!("--threads={threads}"));
        cmd.env("PORT", port.to_string());
        if let Some(up) = upstream {
            cmd.env("UPSTREAM", format!("127.0.0.1:{up}"));
        }
        let mut p = Proc::spawn(format!("weir {script}"), cmd, &log)?;
        p.wait_listening(port)?;
        Ok(p)
    }

    fn upstream(&self) -> Result<(Proc, u16)> {
        let port = free_port()?;
        Ok((nginx::start("upstream", nginx::Role::Hello, port, self.dir())?, port))
    }

    fn hello(&self) -> Result<Vec<Row>> {
        if let Some(rows) = self.lacks(A, &["serveHTTP"]) {
            return Ok(rows);
        }
        let (np, wp) = (free_port()?, free_port()?);
        let mut procs = vec![nginx::start("nginx-hello", nginx::Role::Hello, np, self.dir())?];
        procs.push(self.weir("hello.js", wp, None, 1)?);
        let systems = vec![
            System::http("nginx return 200", np, Some(procs[0].pid()), true),
            System::http("weir serveHTTP", wp, Some(procs[1].pid()), false),
        ];
        self.measure(A, systems, &mut procs)
    }

    fn tcp_proxy(&self) -> Result<Vec<Row>> {
        if let Some(rows) = self.lacks(B, &["connect"]) {
            return Ok(rows);
        }
        let (upstream, up) = self.upstream()?;
        let (np, wp) = (free_port()?, free_port()?);
        let upstream_addr = format!("127.0.0.1:{up}");
        let mut procs = vec![
            upstream,
            nginx::start("nginx-stream", nginx::Role::Stream { upstream: &upstream_addr }, np, self.dir())?,
        ];
        procs.push(self.weir("tcp-proxy.js", wp, Some(up), 1)?);
        let systems = vec![
            System::http("direct to upstream", up, None, false),
            System::http("nginx stream", np, Some(procs[1].pid()), true),
            System::http("weir connect", wp, Some(procs[2].pid()), false),
        ];
        self.measure(B, systems, &mut procs)
    }

    fn http_proxy(&self) -> Result<Vec<Row>> {
        let needs = ["decodeHTTPRequest", "encodeHTTPRequest", "connect", "decodeHTTPResponse", "encodeHTTPResponse"];
        if let Some(rows) = self.lacks(C, &needs) {
            return Ok(rows);
        }
        self.proxied(C, "http-proxy.js", "weir decode+encode")
    }

    fn demux_mux(&self) -> Result<Vec<Row>> {
        if let Some(rows) = self.lacks(D, &["demuxHTTP", "muxHTTP", "handleMessageStart", "connect"]) {
            return Ok(rows);
        }
        self.proxied(D, "http-mux.js", "weir demux/mux+callback")
    }

    /// An HTTP proxy scenario against nginx `proxy_pass`, on a shared nginx upstream.
    fn proxied(&self, scenario: &'static str, script: &str, name: &str) -> Result<Vec<Row>> {
        let (upstream, up) = self.upstream()?;
        let (np, wp) = (free_port()?, free_port()?);
        let upstream_addr = format!("127.0.0.1:{up}");
        let mut procs = vec![
            upstream,
            nginx::start("nginx-proxy", nginx::Role::Proxy { upstream: &upstream_addr }, np, self.dir())?,
        ];
        procs.push(self.weir(script, wp, Some(up), 1)?);
        let systems = vec![
            System::http("nginx proxy_pass", np, Some(procs[1].pid()), true),
            System::http(name, wp, Some(procs[2].pid()), false),
        ];
        self.measure(scenario, systems, &mut procs)
    }

    fn threads(&self) -> Result<Vec<Row>> {
        let mut rows = match self.lacks(F_A, &["serveHTTP"]) {
            Some(rows) => rows,
            None => {
                let (p1, p2) = (free_port()?, free_port()?);
                let mut procs = vec![self.weir("hello.js", p1, None, 1)?, self.weir("hello.js", p2, None, 2)?];
                let systems = vec![
                    System::http("weir --threads=1", p1, Some(procs[0].pid()), true),
                    System::http("weir --threads=2", p2, Some(procs[1].pid()), false),
                ];
                self.measure(F_A, systems, &mut procs)?
            }
        };
        rows.extend(match self.lacks(F_D, &["demuxHTTP", "muxHTTP", "handleMessageStart", "connect"]) {
            Some(rows) => rows,
            None => {
                let (upstream, up) = self.upstream()?;
                let (p1, p2) = (free_port()?, free_port()?);
                let mut procs = vec![upstream, self.weir("http-mux.js", p1, Some(up), 1)?];
                procs.push(self.weir("http-mux.js", p2, Some(up), 2)?);
                let systems = vec![
                    System::http("weir --threads=1", p1, Some(procs[1].pid()), true),
                    System::http("weir --threads=2", p2, Some(procs[2].pid()), false),
                ];
                self.measure(F_D, systems, &mut procs)?
            }
        });
        Ok(rows)
    }

    /// Scenario e. The sample intercepts the connects of one cgroup; the bench gives it a
    /// child cgroup of its own holding only the sample and its wrk, and the iptables rule
    /// matches only a second one holding only the other wrk.
    fn transparent(&self) -> Result<Vec<Row>> {
        let skip = |why: String| Ok(vec![skipped(E_CONN, "-", why.clone()), skipped(E_KEEP, "-", why)]);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return skip("skipped: needs root (BPF programs, cgroups, iptables)".into());
        }
        let cgroup2 = match intercept::cgroup2_root() {
            Ok(p) => p,
            Err(e) => return skip(format!("skipped: {e}")),
        };
        let sample = self.root.join(SAMPLE);
        if !sample.exists() {
            return skip(format!("skipped: {SAMPLE} does not exist"));
        }
        if let Some(rows) = self.lacks(E_KEEP, &["decodeHTTPRequest", "decodeHTTPResponse", "fork", "connect"]) {
            return Ok(rows);
        }

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
        let mut procs = vec![upstream, ebpf, iptables];
        let rule = intercept::Redirect::add(&cgroups.match_path("iptables"), up, ipt_port)?;

        for (cg, port, what) in [("ebpf", ebpf_port, "eBPF"), ("iptables", ipt_port, "iptables")] {
            self.check_intercepted(&cgroups.path(cg), up, port, what)?;
        }

        let url = format!("http://127.0.0.1:{up}/");
        let systems = |close: bool| {
            let load = |cgroup: Option<PathBuf>| wrk::Load { url: url.clone(), close, cgroup };
            vec![
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
            ]
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

    /// Starts the transparent-proxy sample. Its stdout (a line per request and per
    /// response) goes to a file: [`Bench::check_intercepted`] reads it.
    fn sample(&self, script: &Path, port: u16, intercepted: &Path, inside: Option<&Path>) -> Result<Proc> {
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
        cmd.stdout(std::fs::File::create(self.dir().join(format!("sample-{port}.out")))?);
        let mut p = Proc::spawn(format!("transparent-proxy sample on port {port}"), cmd, &log)?;
        p.wait_listening(port)?;
        Ok(p)
    }

    /// One request from inside `cgroup` to the upstream must come back 200 and show up in
    /// the proxy's output: otherwise the numbers would be those of the direct path.
    fn check_intercepted(&self, cgroup: &Path, up: u16, proxy_port: u16, what: &str) -> Result<()> {
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
        let seen = self.dir().join(format!("sample-{proxy_port}.out"));
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

    fn callback(&self) -> Result<Vec<Row>> {
        let bin = self.root.join("target/release/examples/callback_bench");
        let log = self.dir().join("callback_bench.log");
        let out_file = self.dir().join("callback_bench.out");
        let mut cmd = proc::command(&bin, &log)?;
        cmd.stdout(std::fs::File::create(&out_file)?);
        if self.quick {
            cmd.arg("--quick");
        }
        eprintln!("bench: {CB}");
        let mut child = cmd.spawn().with_context(|| format!("start {}", bin.display()))?;
        let status = proc::wait_until(&mut child, Instant::now() + Duration::from_secs(300));
        let Some(status) = status else {
            proc::stop(&mut child);
            bail!("callback_bench did not finish within 300 s");
        };
        proc::check_interrupted()?;
        let text = std::fs::read_to_string(&out_file)?;
        if !status.success() {
            bail!("callback_bench failed ({status}): {}", std::fs::read_to_string(&log)?.trim());
        }
        eprint!("{}", std::fs::read_to_string(&log)?);
        let mut rows = Vec::new();
        for line in text.lines().filter_map(|l| l.strip_prefix("RESULT ")) {
            // <case> <calls/s> <p50 µs> <p99 µs> <max µs> <VmHWM kB>
            let f: Vec<&str> = line.split_whitespace().collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).context("malformed RESULT line");
            let us = |i: usize| num(i).map(|v| Duration::from_secs_f64(v / 1e6));
            let (system, baseline) = match f.first() {
                Some(&"floor") => ("() => {} on a headless message", true),
                _ => ("({ head }) => ..., 10 headers", false),
            };
            rows.push(Row {
                scenario: CB,
                system: system.into(),
                outcome: Outcome::Measured(wrk::Sample { rps: num(1)?, p50: us(2)?, p99: us(3)?, errors: 0 }),
                rss_kb: Some(num(5)? as u64),
                baseline,
            });
        }
        if rows.len() != 2 {
            bail!("callback_bench printed {} RESULT lines, not 2:\n{text}", rows.len());
        }
        Ok(rows)
    }

    /// Runs wrk against every system in turn, `rounds` times, and keeps the medians.
    fn measure(&self, scenario: &'static str, systems: Vec<System>, procs: &mut [Proc]) -> Result<Vec<Row>> {
        eprintln!("bench: {scenario}");
        if !self.quick {
            for s in &systems {
                wrk::run(&s.load, 1, self.dir())?;
            }
        }
        let mut samples: Vec<Vec<wrk::Sample>> = systems.iter().map(|_| Vec::new()).collect();
        for round in 1..=self.rounds {
            for (s, out) in systems.iter().zip(&mut samples) {
                let sample = wrk::run(&s.load, self.secs, self.dir())?;
                eprintln!(
                    "bench:   round {round}/{}  {:<28} {:>9.0} req/s  p50 {}  p99 {}{}",
                    self.rounds,
                    s.name,
                    sample.rps,
                    latency(sample.p50),
                    latency(sample.p99),
                    if sample.errors > 0 { format!("  {} errors", sample.errors) } else { String::new() }
                );
                out.push(sample);
            }
            for p in procs.iter_mut() {
                p.check_alive()?;
            }
        }
        Ok(systems
            .into_iter()
            .zip(samples)
            .map(|(s, samples)| Row {
                scenario,
                system: s.name,
                outcome: Outcome::Measured(median(&samples)),
                rss_kb: s.pid.and_then(proc::peak_rss_kb),
                baseline: s.baseline,
            })
            .collect())
    }
}

fn skipped(scenario: &'static str, system: &str, why: String) -> Row {
    Row { scenario, system: system.into(), outcome: Outcome::Skipped(why), rss_kb: None, baseline: false }
}

/// Each column's own median: rounds are few, and one noisy round must not pick the row.
fn median(samples: &[wrk::Sample]) -> wrk::Sample {
    fn mid<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        v[v.len() / 2]
    }
    wrk::Sample {
        rps: mid(samples.iter().map(|s| s.rps).collect()),
        p50: mid(samples.iter().map(|s| s.p50).collect()),
        p99: mid(samples.iter().map(|s| s.p99).collect()),
        errors: samples.iter().map(|s| s.errors).sum(),
    }
}

fn latency(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 10.0 {
        format!("{us:.2} µs")
    } else if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

fn baseline_of<'a>(rows: &'a [Row], scenario: &str) -> Option<&'a wrk::Sample> {
    rows.iter().find(|r| r.scenario == scenario && r.baseline).and_then(|r| match &r.outcome {
        Outcome::Measured(s) => Some(s),
        _ => None,
    })
}

/// The results as a Markdown table, so that docs/benchmarks.md can hold it verbatim.
fn table(rows: &[Row]) -> String {
    let mut cells =
        vec![["scenario", "system", "req/s", "p50", "p99", "RSS", "ratio", "notes"].map(String::from).to_vec()];
    for r in rows {
        let rss = r.rss_kb.map(|kb| format!("{:.1} MiB", kb as f64 / 1024.0)).unwrap_or_else(|| "-".into());
        let line = match &r.outcome {
            Outcome::Measured(s) => {
                let ratio = match (r.baseline, baseline_of(rows, r.scenario)) {
                    (true, _) => "1.00 (baseline)".into(),
                    (false, Some(b)) => format!("{:.2}", s.rps / b.rps),
                    (false, None) => "-".into(),
                };
                let notes = if s.errors > 0 { format!("{} errors", s.errors) } else { String::new() };
                [format!("{:.0}", s.rps), latency(s.p50), latency(s.p99), rss, ratio, notes]
            }
            Outcome::Skipped(why) | Outcome::Failed(why) => {
                let why = if matches!(r.outcome, Outcome::Failed(_)) { format!("FAILED: {why}") } else { why.clone() };
                ["-".into(), "-".into(), "-".into(), rss, "-".into(), why]
            }
        };
        let mut row = vec![r.scenario.to_string(), r.system.clone()];
        row.extend(line);
        cells.push(row);
    }
    let widths: Vec<usize> =
        (0..cells[0].len()).map(|i| cells.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (n, row) in cells.iter().enumerate() {
        let padded: Vec<String> =
            row.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        out += &format!("| {} |\n", padded.join(" | "));
        if n == 0 {
            out += &format!("|{}|\n", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|"));
        }
    }
    out
}

fn mib(kb: Option<u64>) -> String {
    kb.map_or_else(|| "-".into(), |kb| format!("{:.1} MiB", kb as f64 / 1024.0))
}

/// Each goal of issues 4 and 9, met or missed, from the rows of this run.
fn goals(rows: &[Row]) -> String {
    let mut out = String::from("Goals:\n");
    for r in rows.iter().filter(|r| !r.baseline) {
        let Outcome::Measured(s) = &r.outcome else { continue };
        let Some(b) = baseline_of(rows, r.scenario) else { continue };
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let line = match r.scenario {
            G if r.system.starts_with("weir") => format!(
                "{}: {:.2}x nginx's throughput, peak RSS {} vs nginx {}: {}",
                r.scenario,
                s.rps / b.rps,
                mib(r.rss_kb),
                mib(rows.iter().find(|x| x.scenario == G && x.baseline).and_then(|x| x.rss_kb)),
                verdict(r.rss_kb.is_some_and(|kb| kb < 64 * 1024))
            ),
            A | C | D | B if r.system.starts_with("weir") => format!(
                "{}: {} at {:.2}x nginx req/s, p99 {} vs {}: {}",
                r.scenario,
                r.system,
                s.rps / b.rps,
                latency(s.p99),
                latency(b.p99),
                verdict(s.rps >= b.rps && s.p99 <= b.p99)
            ),
            E_CONN | E_KEEP if r.system.starts_with("eBPF") => format!(
                "{}: eBPF at {:.2}x iptables req/s, p99 {} vs {}: {}",
                r.scenario,
                s.rps / b.rps,
                latency(s.p99),
                latency(b.p99),
                verdict(s.rps >= b.rps)
            ),
            CB => {
                let per_call = Duration::from_secs_f64(1.0 / s.rps);
                format!(
                    "{}: {} a call (mean, GC included; p50 {}, p99 {}), goal 5 µs: {}",
                    r.scenario,
                    latency(per_call),
                    latency(s.p50),
                    latency(s.p99),
                    verdict(per_call <= Duration::from_micros(5))
                )
            }
            _ => continue,
        };
        out += &format!("- {line}\n");
    }
    out
}
