//! `cargo xtask bench [--quick] [SCENARIO...]`: weir side by side with nginx, iptables and
//! the direct path, on 127.0.0.1, every baseline measured in the same run.
//!
//! The VMs this runs on have two noisy cores, so a number is only meaningful next to a
//! baseline taken moments apart: the systems of a scenario all run at once and wrk visits
//! them in turn (A, B, A, B, ...), and each column is the median over the rounds.

mod big;
mod bulk;
mod callback;
mod h2;
mod h2load;
mod https;
mod intercept;
mod iperf;
mod nginx;
mod proc;
mod proxies;
pub mod relay;
mod table;
mod transparent;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::deps::{self, Need};
use proc::{Proc, TempDir, free_port};
use table::latency;

const USAGE: &str = "\
Usage: cargo xtask bench [--quick] [SCENARIO...]

Scenarios (default: all):
  a   HTTP hello: weir serveHTTP vs nginx return 200
  b   TCP proxy: weir listen + connect vs nginx stream vs the upstream directly
  c   HTTP/1 proxy: weir decode + encode vs nginx proxy_pass (keep-alive upstream)
  d   weir demuxHTTP/muxHTTP + handleMessageStart vs nginx proxy_pass
  e   transparent proxy: eBPF sample vs iptables REDIRECT vs no interception (root only);
      new connections also through a plain weir connect and nginx stream, CPU per connection
  f   --threads=2 vs --threads=1 on a and d
  g   1 GiB through demux/mux vs nginx proxy_pass, one download at a time, peak RSS
  h   bulk: iperf3 and a 2 GiB download through the transparent-proxy sample (root only),
      iperf3 through weir connect and nginx stream, each as a share of the direct path
  t   HTTPS hello: weir acceptTLS + serveHTTP vs nginx ssl, keep-alive and a handshake per request
  p   Pipy's test/benchmark/001-tcp shape: listen + connect, wrk -c50 keep-alive, vs nginx stream
  h2  HTTP/2 (h2load, 10 connections x 10 streams): weir serveHTTP and demuxHTTP/muxHTTP vs nginx http2
  cb  micro-benchmark: one handleMessageStart call on a 10-header head

--quick  3 rounds of 1 s per system (about a minute in all) instead of 5 rounds of 5 s;
         g and h download 256 MiB instead of 1 GiB and 2 GiB
";

const SCENARIOS: &[&str] = &["a", "b", "c", "d", "e", "f", "g", "h", "p", "t", "h2", "cb"];

const A: &str = "a. HTTP hello";
const B: &str = "b. TCP proxy";
const C: &str = "c. HTTP/1 proxy";
const D: &str = "d. demux/mux + callback";
const E_CONN: &str = "e. transparent, new conn/s";
const E_KEEP: &str = "e. transparent, keep-alive";
const F_A: &str = "f. threads, hello (a)";
const F_D: &str = "f. threads, demux/mux (d)";
const G: &str = "g. 1 GiB through demux/mux";
const P: &str = "p. Pipy 001-tcp shape (-c50)";
const T_KEEP: &str = "t. HTTPS hello, keep-alive";
const T_CONN: &str = "t. HTTPS hello, new conn/s";
const H2: &str = "h2. HTTP/2 hello, 10x10 streams";
const H2_PROXY: &str = "h2. HTTP/2 proxy, 10x10 streams";
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
    /// Scenario h: Gbit/s rather than requests.
    Bulk(bulk::Rate),
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
        let load = wrk::Load {
            url: format!("http://127.0.0.1:{port}/"),
            close: false,
            cgroup: None,
            h2: false,
            connections: None,
        };
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
    // The table always comes in the order, whatever the order on the command line.
    let selected: Vec<&str> =
        SCENARIOS.iter().copied().filter(|s| selected.is_empty() || selected.contains(s)).collect();
    proc::catch_signals();
    deps::ensure(deps::BENCH)?;
    if ["b", "e", "h", "p"].iter().any(|s| selected.contains(s)) {
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
            "h" => bench.bulk(),
            "p" => bench.pipy_tcp(),
            "t" => bench.https(),
            "h2" => bench.http2(),
            _ => bench.callback(),
        };
        proc::check_interrupted()?;
        match result {
            Ok(r) => rows.extend(r),
            Err(e) => {
                eprintln!("bench: scenario {s} failed: {e:#}");
                rows.push(failed(scenario_name(s), &e));
            }
        }
    }
    println!("\n{}", table::table(&rows));
    println!("{}", table::goals(&rows));
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
        "h" => bulk::H_TCP,
        "p" => P,
        "t" => T_KEEP,
        "h2" => H2,
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
        "acceptTLS",
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
                let cpu_before = s.pid.and_then(proc::cpu_time);
                let mut sample = wrk::run(&s.load, self.secs, self.dir())?;
                let requests = sample.rps * self.secs as f64;
                sample.cpu = match (cpu_before, s.pid.and_then(proc::cpu_time)) {
                    (Some(before), Some(after)) if requests >= 1.0 => Some((after - before).div_f64(requests)),
                    _ => None,
                };
                eprintln!(
                    "bench:   round {round}/{}  {:<28} {:>9.0} req/s  p50 {}  p99 {}{}{}",
                    self.rounds,
                    s.name,
                    sample.rps,
                    latency(sample.p50),
                    latency(sample.p99),
                    sample.cpu.map(|c| format!("  CPU {}/req", latency(c))).unwrap_or_default(),
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

/// A row for a scenario that failed, with the first line of the error.
fn failed(scenario: &'static str, e: &anyhow::Error) -> Row {
    let first_line = format!("{e:#}").lines().next().unwrap_or_default().to_string();
    Row { scenario, system: "-".into(), outcome: Outcome::Failed(first_line), rss_kb: None, baseline: false }
}

/// Each column's own median: rounds are few, and one noisy round must not pick the row.
fn median(samples: &[wrk::Sample]) -> wrk::Sample {
    wrk::Sample {
        rps: middle(samples.iter().map(|s| s.rps).collect()),
        p50: middle(samples.iter().map(|s| s.p50).collect()),
        p99: middle(samples.iter().map(|s| s.p99).collect()),
        errors: samples.iter().map(|s| s.errors).sum(),
        cpu: samples.iter().map(|s| s.cpu).collect::<Option<Vec<_>>>().map(middle),
    }
}

fn middle<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}
