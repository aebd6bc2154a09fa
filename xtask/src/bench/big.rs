//! Scenario g: one big body through the proxy at a time, with the proxy's peak RSS. A
//! proxy that holds bodies shows it here and nowhere else: wrk's small answers never do.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::proc::{self, Proc, free_port};
use super::wrk::Sample;
use super::{Bench, G, Outcome, Row, nginx};

pub const MIB: u64 = 1 << 20;

/// A body of `size` bytes under `<dir>/big/body`: a sparse file nginx sends with sendfile, so
/// that the upstream costs little next to the proxies.
pub fn body(dir: &Path, size: u64) -> Result<PathBuf> {
    let root = dir.join("big");
    std::fs::create_dir_all(&root)?;
    let file = std::fs::File::create(root.join("body"))?;
    file.set_len(size)?;
    Ok(root)
}

/// One download of the body.
pub struct Download {
    pub took: Duration,
    /// The port curl's connection was connected to: the proxy's when an eBPF program
    /// redirected the connect, since the kernel reports the rewritten address.
    pub peer_port: u16,
}

/// Downloads the body from 127.0.0.1:`port` with curl (from inside `cgroup` when given) and
/// checks its size.
pub fn download(port: u16, size: u64, cgroup: Option<&Path>, dir: &Path) -> Result<Download> {
    proc::check_interrupted()?;
    let log = dir.join("curl.err");
    let mut cmd = proc::command_in(cgroup, "curl", &log)?;
    cmd.args(["-sS", "--max-time", "300", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{remote_port}"])
        .arg(format!("http://127.0.0.1:{port}/body"))
        .stdout(Stdio::piped());
    let t = Instant::now();
    let out = cmd.output().context("run curl")?;
    let took = t.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let (Some(code), Some(got), Some(peer)) = (fields.first(), fields.get(1), fields.get(2)) else {
        bail!("curl to port {port}: {text:?}: {}", std::fs::read_to_string(&log).unwrap_or_default().trim());
    };
    if !out.status.success() || *code != "200" || *got != size.to_string() {
        bail!(
            "curl to port {port}: HTTP {code}, {got} bytes (wanted 200, {size}): {}",
            std::fs::read_to_string(&log).unwrap_or_default().trim()
        );
    }
    Ok(Download { took, peer_port: peer.parse().context("curl's remote_port")? })
}

/// Downloads through each proxy in turn, `rounds` times; the sample's rate is MiB per
/// second (the table's req/s column) and its latencies the median time of one download.
pub fn measure(ports: &[u16], size: u64, rounds: usize, procs: &mut [Proc], dir: &Path) -> Result<Vec<Sample>> {
    let mut times: Vec<Vec<Duration>> = ports.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        for (port, t) in ports.iter().zip(&mut times) {
            let took = download(*port, size, None, dir)?.took;
            eprintln!(
                "bench:   round {round}/{rounds}  port {port:<5} {} MiB in {:.2} s ({:.0} MiB/s)",
                size / MIB,
                took.as_secs_f64(),
                size as f64 / MIB as f64 / took.as_secs_f64()
            );
            t.push(took);
        }
        for p in procs.iter_mut() {
            p.check_alive()?;
        }
    }
    Ok(times
        .into_iter()
        .map(|mut t| {
            t.sort();
            let mid = t[t.len() / 2];
            Sample { rps: size as f64 / MIB as f64 / mid.as_secs_f64(), p50: mid, p99: mid, errors: 0, cpu: None }
        })
        .collect())
}

impl Bench {
    /// One big download at a time through nginx and weir from the same file server; the
    /// row's rate is MiB/s, its latency one download's median time.
    pub(super) fn big_body(&self) -> Result<Vec<Row>> {
        if let Some(rows) = self.lacks(G, &["demuxHTTP", "muxHTTP", "connect"]) {
            return Ok(rows);
        }
        eprintln!("bench: {G}");
        let size = if self.quick { 256 * MIB } else { 1024 * MIB };
        let root = body(self.dir(), size)?;
        let up = free_port()?;
        let files = nginx::start("files", nginx::Role::Files { root: &root }, up, self.dir())?;
        let (np, wp) = (free_port()?, free_port()?);
        let upstream_addr = format!("127.0.0.1:{up}");
        let mut procs =
            vec![files, nginx::start("nginx-proxy", nginx::Role::Proxy { upstream: &upstream_addr }, np, self.dir())?];
        procs.push(self.weir("big-mux.js", wp, Some(up), 1)?);
        let rounds = 3;
        let samples = measure(&[np, wp], size, rounds, &mut procs, self.dir())?;
        let names = ["nginx proxy_pass", "weir demux/mux"];
        Ok(samples
            .iter()
            .zip(names)
            .enumerate()
            .map(|(i, (s, name))| Row {
                scenario: G,
                system: name.into(),
                outcome: Outcome::Measured(*s),
                rss_kb: proc::peak_rss_kb(procs[i + 1].pid()),
                baseline: i == 0,
            })
            .collect())
    }
}
