//! One wrk run and what it printed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::proc;

/// How to load one system.
pub struct Load {
    pub url: String,
    /// `Connection: close` on every request: measures new connections per second.
    pub close: bool,
    /// A cgroup (v2 directory) to run wrk in, for the transparent-proxy interceptions.
    pub cgroup: Option<PathBuf>,
    /// HTTP/2 (prior knowledge): h2load loads it instead of wrk.
    pub h2: bool,
    /// Connections wrk keeps open: [`CONNECTIONS`] unless a scenario copies another
    /// benchmark's shape (Pipy's test/benchmark uses 50).
    pub connections: Option<u32>,
}

#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Socket errors and non-2xx/3xx responses.
    pub errors: u64,
    /// CPU time the system under test spent per request (all its threads and children),
    /// where there is one: a figure the other loads on the two cores disturb less than req/s.
    pub cpu: Option<Duration>,
}

/// One thread and 32 connections: on two cores, wrk, the proxy and its upstream already
/// share the CPUs, and more wrk threads would only take time from the system under test.
const THREADS: &str = "-t1";
const CONNECTIONS: &str = "-c32";

pub fn run(load: &Load, secs: u64, dir: &Path) -> Result<Sample> {
    if load.h2 {
        return super::h2load::run(load, secs, dir);
    }
    proc::check_interrupted()?;
    let out = dir.join("wrk.out");
    let log = dir.join("wrk.err");
    let conns = load.connections.map_or_else(|| CONNECTIONS.to_string(), |c| format!("-c{c}"));
    let mut args: Vec<String> =
        [THREADS, &conns, &format!("-d{secs}s"), "--latency", "--timeout", "2s"].map(String::from).to_vec();
    if load.close {
        args.extend(["-H".into(), "Connection: close".into()]);
    }
    args.push(load.url.clone());
    // Inside a cgroup, wrk's sockets are created there.
    let mut cmd = proc::command_in(load.cgroup.as_deref(), "wrk", &log)?;
    cmd.args(&args);
    cmd.stdout(std::fs::File::create(&out)?);
    let mut child = cmd.spawn().context("start wrk")?;
    let status = proc::wait_until(&mut child, Instant::now() + Duration::from_secs(secs + 15));
    let Some(status) = status else {
        proc::stop(&mut child);
        bail!("wrk against {} did not finish within {} s", load.url, secs + 15);
    };
    proc::check_interrupted()?;
    let text = std::fs::read_to_string(&out)?;
    if !status.success() {
        bail!("wrk against {} failed ({status}): {}{}", load.url, text, std::fs::read_to_string(&log)?);
    }
    parse(&text).with_context(|| format!("unexpected wrk output for {}:\n{text}", load.url))
}

fn parse(text: &str) -> Result<Sample> {
    let mut rps = None;
    let (mut p50, mut p99) = (None, None);
    let mut errors = 0;
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("Requests/sec:") => rps = words.next().and_then(|n| n.parse().ok()),
            Some("50%") => p50 = words.next().and_then(duration),
            Some("99%") => p99 = words.next().and_then(duration),
            Some("Socket") => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                errors += line.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse::<u64>().ok()).sum::<u64>();
            }
            Some("Non-2xx") => errors += line.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0),
            _ => {}
        }
    }
    match (rps, p50, p99) {
        (Some(rps), Some(p50), Some(p99)) if rps > 0.0 => Ok(Sample { rps, p50, p99, errors, cpu: None }),
        (Some(_), ..) => bail!("no request completed"),
        _ => bail!("no Requests/sec or latency distribution"),
    }
}

/// wrk's "340.00us", "1.20ms", "2.00s".
fn duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    let secs = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let text = "\
Running 1s test @ http://127.0.0.1:41002/
  1 threads and 32 connections
  Latency Distribution
     50%  532.00us
     75%  742.00us
     90%    0.94ms
     99%    1.39ms
  86615 requests in 2.00s, 12.64MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 2
Requests/sec:  43280.34
";
        let s = parse(text).unwrap();
        assert_eq!(s.rps, 43280.34);
        assert_eq!(s.p50, Duration::from_micros(532));
        assert_eq!(s.p99, Duration::from_micros(1390));
        assert_eq!(s.errors, 6);
    }
}
