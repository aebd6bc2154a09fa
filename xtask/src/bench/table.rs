//! The printed results: a Markdown table and each goal, met or missed.

use std::time::Duration;

use super::bulk::{H_HTTP, H_PROXY, H_PROXY_R, H_TCP, H_TCP_R, RELAY, Rate};
use super::transparent::{PLAIN_CONNECT, PLAIN_STREAM};
use super::{A, B, C, CB, D, E_CONN, E_KEEP, G, Outcome, P, Row, wrk};

/// Issue 11's goal for the transparent-proxy sample's bulk rows: this share of direct...
const SAMPLE_BULK_GOAL: f64 = 0.9;
/// ...with a peak RSS that grows by at most this much (kB) over the transfers: room for
/// buffers, none for holding a body.
const RSS_FLAT_KB: u64 = 8 * 1024;
/// Issue 11's goals for the request path: a-d at this multiple of nginx's req/s...
const REQUEST_GOAL: f64 = 1.1;
/// ...and one handleMessageStart call on a 10-header head within this at p50.
const CALLBACK_GOAL: Duration = Duration::from_micros(2);
/// Issue 24's goals: a TCP proxy (b, and Pipy's 001-tcp shape) at this multiple of nginx
/// stream's req/s...
const TCP_GOAL: f64 = 1.2;
/// ...and a new connection through the sample at most this multiple of the CPU a plain weir
/// `connect` spends on one.
const SAMPLE_CONN_CPU_GOAL: f64 = 1.25;

pub fn latency(d: Duration) -> String {
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

fn bulk_baseline<'a>(rows: &'a [Row], scenario: &str) -> Option<&'a Rate> {
    rows.iter().find(|r| r.scenario == scenario && r.baseline).and_then(|r| match &r.outcome {
        Outcome::Bulk(b) => Some(b),
        _ => None,
    })
}

fn bulk_rate(rows: &[Row], scenario: &str, system: &str) -> Option<f64> {
    rows.iter().find(|r| r.scenario == scenario && r.system == system).and_then(|r| match &r.outcome {
        Outcome::Bulk(b) => Some(b.gbps),
        _ => None,
    })
}

/// The results as a Markdown table, so that docs/benchmarks.md can hold it verbatim.
pub fn table(rows: &[Row]) -> String {
    let mut cells = vec![
        ["scenario", "system", "req/s", "p50", "p99", "CPU/req", "RSS", "ratio", "notes"].map(String::from).to_vec(),
    ];
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
                let cpu = s.cpu.map_or_else(|| "-".into(), latency);
                [format!("{:.0}", s.rps), latency(s.p50), latency(s.p99), cpu, rss, ratio, notes]
            }
            Outcome::Bulk(b) => {
                let ratio = match (r.baseline, bulk_baseline(rows, r.scenario)) {
                    (true, _) => "1.00 (baseline)".into(),
                    (false, Some(d)) => format!("{:.2}", b.gbps / d.gbps),
                    (false, None) => "-".into(),
                };
                let took = b.took.map_or_else(|| "-".into(), |t| format!("{:.2} s", t.as_secs_f64()));
                let notes = b.rss_before_kb.map(|kb| format!("RSS {} before", mib(Some(kb)))).unwrap_or_default();
                [format!("{:.1} Gbit/s", b.gbps), took, "-".into(), "-".into(), rss, ratio, notes]
            }
            Outcome::Skipped(why) | Outcome::Failed(why) => {
                let why = if matches!(r.outcome, Outcome::Failed(_)) { format!("FAILED: {why}") } else { why.clone() };
                ["-".into(), "-".into(), "-".into(), "-".into(), rss, "-".into(), why]
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

/// Each goal of issues 4, 9 and 11, met or missed, from the rows of this run.
pub fn goals(rows: &[Row]) -> String {
    let mut out = String::from("Goals:\n");
    for r in rows.iter().filter(|r| !r.baseline) {
        if let Outcome::Bulk(b) = &r.outcome {
            if let Some(line) = bulk_goal(rows, r, b) {
                out += &format!("- {line}\n");
            }
            continue;
        }
        let Outcome::Measured(s) = &r.outcome else { continue };
        let Some(b) = baseline_of(rows, r.scenario) else { continue };
        if r.scenario == E_CONN
            && let Some(line) = conn_cost_goal(rows, r, s)
        {
            out += &format!("- {line}\n");
        }
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let goal = if matches!(r.scenario, B | P) { TCP_GOAL } else { REQUEST_GOAL };
        let line = match r.scenario {
            G if r.system.starts_with("weir") => format!(
                "{}: {:.2}x nginx's throughput, peak RSS {} vs nginx {}: {}",
                r.scenario,
                s.rps / b.rps,
                mib(r.rss_kb),
                mib(rows.iter().find(|x| x.scenario == G && x.baseline).and_then(|x| x.rss_kb)),
                verdict(r.rss_kb.is_some_and(|kb| kb < 64 * 1024))
            ),
            A | C | D | B | P if r.system.starts_with("weir") => format!(
                "{}: {} at {:.2}x nginx req/s, p99 {} vs {}{}, goal {goal}x with p99 no worse: {}",
                r.scenario,
                r.system,
                s.rps / b.rps,
                latency(s.p99),
                latency(b.p99),
                match (s.cpu, b.cpu) {
                    (Some(w), Some(n)) => format!(", CPU {}/req vs {}", latency(w), latency(n)),
                    _ => String::new(),
                },
                verdict(s.rps >= goal * b.rps && s.p99 <= b.p99)
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
                    "{}: {} a call (mean, GC included; p50 {}, p99 {}), goal {} at p50: {}",
                    r.scenario,
                    latency(per_call),
                    latency(s.p50),
                    latency(s.p99),
                    latency(CALLBACK_GOAL),
                    verdict(s.p50 <= CALLBACK_GOAL)
                )
            }
            _ => continue,
        };
        out += &format!("- {line}\n");
    }
    out
}

/// e's new connections: CPU per connection through the sample against a plain weir
/// `connect`, and that against nginx `stream`, all measured in the same rounds.
fn conn_cost_goal(rows: &[Row], r: &Row, s: &wrk::Sample) -> Option<String> {
    let cpu_of = |system: &str| {
        rows.iter().find(|x| x.scenario == E_CONN && x.system == system).and_then(|x| match &x.outcome {
            Outcome::Measured(m) => m.cpu,
            _ => None,
        })
    };
    let cpu = s.cpu?;
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let (against, goal) = if r.system.starts_with("eBPF") {
        (PLAIN_CONNECT, SAMPLE_CONN_CPU_GOAL)
    } else if r.system == PLAIN_CONNECT {
        (PLAIN_STREAM, 1.0)
    } else {
        return None;
    };
    let base = cpu_of(against)?;
    let ratio = cpu.as_secs_f64() / base.as_secs_f64();
    Some(format!(
        "{}: {} CPU {} per new connection, {ratio:.2}x {against}'s {}; goal at most {goal}x: {}",
        r.scenario,
        r.system,
        latency(cpu),
        latency(base),
        verdict(ratio <= goal)
    ))
}

/// h: the sample at 0.9 of direct with its RSS flat; weir `connect` at nginx `stream` or above.
fn bulk_goal(rows: &[Row], r: &Row, b: &Rate) -> Option<String> {
    let direct = bulk_baseline(rows, r.scenario)?;
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let share = b.gbps / direct.gbps;
    // What the least a relay can do reaches in the same group (see relay.rs).
    let ceiling = bulk_rate(rows, r.scenario, RELAY).map_or_else(String::new, |c| {
        format!("; the splice relay (ceiling) at {:.2}, this at {:.2} of it", c / direct.gbps, b.gbps / c)
    });
    match r.scenario {
        H_TCP | H_TCP_R | H_HTTP if r.system.starts_with("eBPF") => {
            let flat =
                matches!((r.rss_kb, b.rss_before_kb), (Some(after), Some(before)) if after <= before + RSS_FLAT_KB);
            Some(format!(
                "{}: eBPF sample at {share:.2} of direct ({:.1} vs {:.1} Gbit/s){ceiling}; peak RSS {} ({} before); \
                 goal {SAMPLE_BULK_GOAL} of direct and RSS flat: {}",
                r.scenario,
                b.gbps,
                direct.gbps,
                mib(r.rss_kb),
                mib(b.rss_before_kb),
                verdict(share >= SAMPLE_BULK_GOAL && flat)
            ))
        }
        H_PROXY | H_PROXY_R if r.system.starts_with("weir") => {
            let nginx = bulk_rate(rows, r.scenario, "nginx stream")?;
            Some(format!(
                "{}: weir connect at {share:.2} of direct, nginx stream at {:.2}{ceiling}; goal: at or above nginx: {}",
                r.scenario,
                nginx / direct.gbps,
                verdict(b.gbps >= nginx)
            ))
        }
        _ => None,
    }
}
