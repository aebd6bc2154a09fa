//! One h2load run: HTTP/2 with prior knowledge, 10 connections of 10 concurrent streams
//! each (issue 21's load), and what it printed; latencies from its per-request log.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::proc;
use super::wrk::{Load, Sample};

pub fn run(load: &Load, secs: u64, dir: &Path) -> Result<Sample> {
    proc::check_interrupted()?;
    let (out, log, times) = (dir.join("h2load.out"), dir.join("h2load.err"), dir.join("h2load.times"));
    let mut cmd = proc::command_in(None, "h2load", &log)?;
    cmd.args(["-t1", "-c10", "-m10", &format!("-D{secs}"), "--log-file"]).arg(&times).arg(&load.url);
    cmd.stdout(std::fs::File::create(&out)?);
    let mut child = cmd.spawn().context("start h2load")?;
    let status = proc::wait_until(&mut child, Instant::now() + Duration::from_secs(secs + 15));
    let Some(status) = status else {
        proc::stop(&mut child);
        bail!("h2load against {} did not finish within {} s", load.url, secs + 15);
    };
    proc::check_interrupted()?;
    let text = std::fs::read_to_string(&out)?;
    if !status.success() {
        bail!("h2load against {} failed ({status}): {}{}", load.url, text, std::fs::read_to_string(&log)?);
    }
    let times = std::fs::read_to_string(&times)?;
    parse(&text, &times).with_context(|| format!("unexpected h2load output for {}:\n{text}", load.url))
}

/// h2load's summary, and its log: one line per request, the duration (µs) last.
fn parse(text: &str, times: &str) -> Result<Sample> {
    let mut rps = None;
    let mut errors = 0;
    let count = |line: &str, what: &str| -> u64 {
        line.split(", ").find_map(|part| part.trim().strip_suffix(what)?.trim().parse().ok()).unwrap_or(0)
    };
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("finished in ") {
            // "finished in 1.00s, 45123.40 req/s, 1.61MB/s"
            rps = rest.split(", ").nth(1).and_then(|r| r.strip_suffix(" req/s")?.parse::<f64>().ok());
        } else if line.starts_with("requests: ") {
            errors += count(line, "failed");
        } else if line.starts_with("status codes: ") {
            errors += count(line, "4xx") + count(line, "5xx");
        }
    }
    let mut durations: Vec<u64> =
        times.lines().filter_map(|l| l.split('\t').next_back()?.trim().parse().ok()).collect();
    durations.sort_unstable();
    let at = |q: f64| Duration::from_micros(durations[((durations.len() - 1) as f64 * q) as usize]);
    match rps {
        Some(rps) if rps > 0.0 && !durations.is_empty() => {
            Ok(Sample { rps, p50: at(0.5), p99: at(0.99), errors, cpu: None })
        }
        Some(_) => bail!("no request completed"),
        None => bail!("no req/s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_h2load_output_and_its_log() {
        let text = "\
starting benchmark...
finished in 1.00s, 45123.40 req/s, 1.61MB/s
requests: 45124 total, 45224 started, 45124 done, 45120 succeeded, 4 failed, 0 errored, 0 timeout
status codes: 45118 2xx, 0 3xx, 2 4xx, 0 5xx
";
        let times: String = (1..=100).map(|d| format!("1700000000\t200\t{}\t{d}\n", d * 2 + 1)).collect();
        let s = parse(text, &times).unwrap();
        assert_eq!(s.rps, 45123.40);
        assert_eq!(s.errors, 6);
        assert_eq!(s.p50, Duration::from_micros(50));
        assert_eq!(s.p99, Duration::from_micros(99));
    }
}
