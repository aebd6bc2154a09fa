//! Scenario cb: the handleMessageStart micro-benchmark (runtime/examples/callback_bench.rs).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::proc;
use super::{Bench, CB, Outcome, Row, wrk};

impl Bench {
    pub(super) fn callback(&self) -> Result<Vec<Row>> {
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
                outcome: Outcome::Measured(wrk::Sample {
                    rps: num(1)?,
                    p50: us(2)?,
                    p99: us(3)?,
                    errors: 0,
                    cpu: None,
                }),
                rss_kb: Some(num(5)? as u64),
                baseline,
            });
        }
        if rows.len() != 2 {
            bail!("callback_bench printed {} RESULT lines, not 2:\n{text}", rows.len());
        }
        Ok(rows)
    }
}
