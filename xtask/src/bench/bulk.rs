//! Scenario h: bulk transfers, each row a share of the direct path measured in the same
//! run. iperf3 both ways and a big HTTP download through the transparent-proxy sample
//! (intercepting through its eBPF programs, in a cgroup of the bench's own, as in e), and
//! iperf3 through a plain `connect` proxy beside nginx `stream`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::big::{self, MIB};
use super::proc::{self, Proc, free_port};
use super::{Bench, Outcome, Row, failed, intercept, iperf, middle, nginx, relay};

pub const H_TCP: &str = "h. bulk, raw TCP (iperf3)";
pub const H_TCP_R: &str = "h. bulk, raw TCP (iperf3 -R)";
pub const H_HTTP: &str = "h. bulk, HTTP download";
pub const H_PROXY: &str = "h. bulk, TCP proxy (iperf3)";
pub const H_PROXY_R: &str = "h. bulk, TCP proxy (iperf3 -R)";

/// A row's figures: the rate, a download's time, and the proxy's peak RSS before any
/// transfer, to show whether bulk made it grow.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub gbps: f64,
    /// Median time of one download (none for iperf3, which runs for a fixed time).
    pub took: Option<Duration>,
    pub rss_before_kb: Option<u64>,
}

#[derive(Clone, Copy)]
enum Client {
    Iperf { port: u16, reverse: bool },
    Download { port: u16, size: u64 },
}

/// The same client to `port` directly, from inside `cg` through the sample `pid`, and
/// through the ceiling relay (`relay`: its pid and port).
fn direct_sample_relay(client: Client, port: u16, pid: u32, cg: &Path, proof: Proof, relay: (u32, u16)) -> Vec<Way> {
    let (relay_pid, relay_port) = relay;
    let through_relay = match client {
        Client::Iperf { reverse, .. } => Client::Iperf { port: relay_port, reverse },
        Client::Download { size, .. } => Client::Download { port: relay_port, size },
    };
    vec![
        Way { name: "direct", pid: None, client, cgroup: None, proof: Proof::Peer(port) },
        Way { name: "eBPF sample (weir)", pid: Some(pid), client, cgroup: Some(cg.to_path_buf()), proof },
        Way { name: RELAY, pid: Some(relay_pid), client: through_relay, cgroup: None, proof: Proof::Peer(relay_port) },
    ]
}

/// The ceiling row of every group (see `relay.rs`).
pub const RELAY: &str = "splice relay (ceiling)";

/// One way of moving the bytes.
struct Way {
    name: &'static str,
    /// Whose memory to report: the proxy (none for the direct path).
    pid: Option<u32>,
    client: Client,
    /// Where the client runs: the intercepted cgroup, or the bench's own.
    cgroup: Option<PathBuf>,
    proof: Proof,
}

/// What shows, after each transfer, that the bytes took the way of the row: a row can
/// never be the direct path under another name.
enum Proof {
    /// The port the client's connection was connected to. iperf3 reports the peer address
    /// of its socket, which an eBPF connect program rewrote to the proxy's.
    Peer(u16),
    /// The sample's output (its `sample_out` file) has a line per download it carried.
    /// curl reports the port it asked for, whatever the kernel did with the connect.
    Logged(PathBuf),
}

impl Bench {
    pub(super) fn bulk(&self) -> Result<Vec<Row>> {
        let mut rows = failed_as_row(H_TCP, self.bulk_sample());
        proc::check_interrupted()?;
        rows.extend(failed_as_row(H_PROXY, self.bulk_proxies()));
        Ok(rows)
    }

    /// Through the transparent-proxy sample. Each group of rows gets a sample of its own,
    /// so that its RSS column is that group's peak; only one runs at a time (two would
    /// intercept each other).
    fn bulk_sample(&self) -> Result<Vec<Row>> {
        let (cgroup2, sample) = match self.sample_ready(&[H_TCP, H_TCP_R, H_HTTP], "BPF programs, cgroups") {
            Ok(found) => found,
            Err(rows) => return Ok(rows),
        };

        // Declared first so that it is dropped last, after the processes inside it.
        let cgroups = intercept::Cgroups::create(&cgroup2, &["ebpf"])?;
        let cg = cgroups.path("ebpf");
        let mut rows = Vec::new();
        for (title, reverse) in [(H_TCP, false), (H_TCP_R, true)] {
            let port = free_port()?;
            let server = iperf::server(port, self.dir())?;
            let proxy_port = free_port()?;
            let proxy = self.sample(&sample, proxy_port, &cg, Some(&cg))?;
            let rp = free_port()?;
            let relay = relay::start(rp, port, self.dir())?;
            let client = Client::Iperf { port, reverse };
            let ways = direct_sample_relay(client, port, proxy.pid(), &cg, Proof::Peer(proxy_port), (relay.pid(), rp));
            rows.extend(self.transfers(title, ways, &mut [server, proxy, relay])?);
        }

        let size = if self.quick { 256 * MIB } else { 2048 * MIB };
        let root = big::body(self.dir(), size)?;
        let port = free_port()?;
        let files = nginx::start("files", nginx::Role::Files { root: &root }, port, self.dir())?;
        let proxy_port = free_port()?;
        let proxy = self.sample(&sample, proxy_port, &cg, Some(&cg))?;
        let proof = Proof::Logged(self.sample_out(proxy_port));
        let rp = free_port()?;
        let relay = relay::start(rp, port, self.dir())?;
        let client = Client::Download { port, size };
        let ways = direct_sample_relay(client, port, proxy.pid(), &cg, proof, (relay.pid(), rp));
        eprintln!("bench: {H_HTTP}: {} MiB from nginx (sendfile), curl -o /dev/null", size / MIB);
        rows.extend(self.transfers(H_HTTP, ways, &mut [files, proxy, relay])?);

        drop(cgroups);
        let left = intercept::leftovers(&cgroup2);
        if !left.is_empty() {
            bail!("left behind after scenario h:\n{}", left.join("\n"));
        }
        eprintln!("bench: h cleaned up: no cgroup or BPF attachment of this run is left");
        Ok(rows)
    }

    /// iperf3 through weir `connect` (`tcp-proxy.js`, as in b) and nginx `stream`, each way.
    fn bulk_proxies(&self) -> Result<Vec<Row>> {
        if let Some(rows) = self.lacks(H_PROXY, &["connect"]) {
            return Ok(rows);
        }
        let mut rows = Vec::new();
        for (title, reverse) in [(H_PROXY, false), (H_PROXY_R, true)] {
            let port = free_port()?;
            let server = iperf::server(port, self.dir())?;
            let (np, wp) = (free_port()?, free_port()?);
            let upstream = format!("127.0.0.1:{port}");
            let nginx = nginx::start("nginx-stream", nginx::Role::Stream { upstream: &upstream }, np, self.dir())?;
            let weir = self.weir("tcp-proxy.js", wp, Some(port), 1)?;
            let rp = free_port()?;
            let relay = relay::start(rp, port, self.dir())?;
            let way = |name, pid, port| Way {
                name,
                pid,
                client: Client::Iperf { port, reverse },
                cgroup: None,
                proof: Proof::Peer(port),
            };
            let ways = vec![
                way("direct", None, port),
                way("nginx stream", Some(nginx.pid()), np),
                way("weir connect", Some(weir.pid()), wp),
                way(RELAY, Some(relay.pid()), rp),
            ];
            rows.extend(self.transfers(title, ways, &mut [server, nginx, weir, relay])?);
        }
        Ok(rows)
    }

    /// Runs one transfer per way in turn, `rounds` times, and keeps the medians; the first
    /// way (the direct path) is the baseline.
    fn transfers(&self, scenario: &'static str, ways: Vec<Way>, procs: &mut [Proc]) -> Result<Vec<Row>> {
        eprintln!("bench: {scenario}");
        let rss_before: Vec<Option<u64>> = ways.iter().map(|w| w.pid.and_then(proc::peak_rss_kb)).collect();
        // Untimed: 1 s of iperf3 per way in the full run, and in every run one direct
        // download, which brings the body (a sparse file) into the page cache.
        for (i, w) in ways.iter().enumerate() {
            let warm = match w.client {
                Client::Iperf { .. } => !self.quick,
                Client::Download { .. } => i == 0,
            };
            if warm {
                self.transfer(w, 1, 0)?;
            }
        }
        let mut results: Vec<Vec<(f64, Option<Duration>)>> = ways.iter().map(|_| Vec::new()).collect();
        for round in 1..=self.rounds {
            for (w, out) in ways.iter().zip(&mut results) {
                let (gbps, took) = self.transfer(w, self.secs, round)?;
                let took_text = took.map(|t| format!("  in {:.2} s", t.as_secs_f64())).unwrap_or_default();
                eprintln!("bench:   round {round}/{}  {:<28} {gbps:>6.2} Gbit/s{took_text}", self.rounds, w.name);
                out.push((gbps, took));
            }
            for p in procs.iter_mut() {
                p.check_alive()?;
            }
        }
        Ok(ways
            .into_iter()
            .zip(results)
            .zip(rss_before)
            .enumerate()
            .map(|(i, ((w, results), rss_before_kb))| {
                let gbps = middle(results.iter().map(|r| r.0).collect());
                let took = results.iter().map(|r| r.1).collect::<Option<Vec<_>>>().map(middle);
                Row {
                    scenario,
                    system: w.name.into(),
                    outcome: Outcome::Bulk(Rate { gbps, took, rss_before_kb }),
                    rss_kb: w.pid.and_then(proc::peak_rss_kb),
                    baseline: i == 0,
                }
            })
            .collect())
    }

    /// One transfer: Gbit/s, and the time it took for a download. `nth` counts the timed
    /// transfers of this way, this one included: a sample must have logged that many downloads.
    fn transfer(&self, w: &Way, secs: u64, nth: usize) -> Result<(f64, Option<Duration>)> {
        let (gbps, took, peer) = match w.client {
            Client::Iperf { port, reverse } => {
                let t = iperf::run(port, secs, reverse, w.cgroup.as_deref(), self.dir())?;
                (t.bits_per_second / 1e9, None, t.peer_port)
            }
            Client::Download { port, size } => {
                let d = big::download(port, size, w.cgroup.as_deref(), self.dir())?;
                (size as f64 * 8.0 / d.took.as_secs_f64() / 1e9, Some(d.took), d.peer_port)
            }
        };
        match &w.proof {
            Proof::Peer(port) if peer != *port => {
                bail!("{}: the client's connection went to port {peer}, not {port}", w.name)
            }
            Proof::Peer(_) => {}
            Proof::Logged(out) => {
                // The sample's stdout may reach the file a little after the download ends.
                let deadline = Instant::now() + Duration::from_secs(2);
                let logged = || {
                    std::fs::read_to_string(out)
                        .unwrap_or_default()
                        .lines()
                        .filter(|l| l.starts_with("GET /body"))
                        .count()
                };
                while logged() < nth {
                    if Instant::now() > deadline {
                        bail!("{}: download {nth} did not show up in {}", w.name, out.display());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        Ok((gbps, took))
    }
}

/// Keeps the rows of the other half of h when one half fails.
fn failed_as_row(scenario: &'static str, result: Result<Vec<Row>>) -> Vec<Row> {
    result.unwrap_or_else(|e| {
        eprintln!("bench: scenario h failed: {e:#}");
        vec![failed(scenario, &e)]
    })
}
