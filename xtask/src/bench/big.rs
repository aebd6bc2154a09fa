//! Scenario g: one big body through the proxy at a time, with the proxy's peak RSS. A
//! proxy that holds bodies shows it here and nowhere else: wrk's small answers never do.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::proc::{self, Proc, free_port};
use super::wrk::Sample;
use super::{Bench, G, Outcome, Row, nginx};

const MIB: u64 = 1 << 20;

/// The body: 1 GiB (256 MiB with `--quick`), a sparse file nginx sends with sendfile, so
/// that the upstream costs little next to the proxies.
pub fn body(dir: &Path, quick: bool) -> Result<(std::path::PathBuf, u64)> {
    let size = if quick { 256 * MIB } else { 1024 * MIB };
    let root = dir.join("big");
    std::fs::create_dir_all(&root)?;
    let file = std::fs::File::create(root.join("body"))?;
    file.set_len(size)?;
    Ok((root, size))
}

/// Downloads the body with curl and checks its size; returns the time taken.
pub fn download(port: u16, size: u64) -> Result<Duration> {
    proc::check_interrupted()?;
    let t = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "300", "-o", "/dev/null", "-w", "%{http_code} %{size_download}"])
        .arg(format!("http://127.0.0.1:{port}/body"))
        .output()
        .context("run curl")?;
    let took = t.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.trim() != format!("200 {size}") {
        bail!("curl through port {port}: {text} (wanted 200 {size}): {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(took)
}

/// Downloads through each proxy in turn, `rounds` times; the sample's rate is MiB per
/// second (the table's req/s column) and its latencies the median time of one download.
pub fn measure(ports: &[u16], size: u64, rounds: usize, procs: &mut [Proc]) -> Result<Vec<Sample>> {
    let mut times: Vec<Vec<Duration>> = ports.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        for (port, t) in ports.iter().zip(&mut times) {
            let took = download(*port, size)?;
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
            Sample { rps: size as f64 / MIB as f64 / mid.as_secs_f64(), p50: mid, p99: mid, errors: 0 }
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
        let (root, size) = body(self.dir(), self.quick)?;
        let up = free_port()?;
        let files = nginx::start("files", nginx::Role::Files { root: &root }, up, self.dir())?;
        let (np, wp) = (free_port()?, free_port()?);
        let upstream_addr = format!("127.0.0.1:{up}");
        let mut procs =
            vec![files, nginx::start("nginx-proxy", nginx::Role::Proxy { upstream: &upstream_addr }, np, self.dir())?];
        procs.push(self.weir("big-mux.js", wp, Some(up), 1)?);
        let rounds = 3;
        let samples = measure(&[np, wp], size, rounds, &mut procs)?;
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
