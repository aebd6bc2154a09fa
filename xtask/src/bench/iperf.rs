//! iperf3: a server, and one client run with what its JSON report says.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::proc::{self, Proc};

/// `iperf3 -s` on 127.0.0.1:`port`. It serves one test at a time, which is how the bench
/// uses it, and outlives the bare connects that probe whether it listens.
pub fn server(port: u16, dir: &Path) -> Result<Proc> {
    let log = dir.join(format!("iperf3-{port}.log"));
    let mut cmd = proc::command("iperf3", &log)?;
    cmd.args(["-s", "-B", "127.0.0.1", "-p", &port.to_string()]);
    let mut p = Proc::spawn(format!("iperf3 server on port {port}"), cmd, &log)?;
    p.wait_listening(port)?;
    Ok(p)
}

/// One test's result.
pub struct Transfer {
    /// What the receiving side got, in bits per second.
    pub bits_per_second: f64,
    /// The port the client's connections were connected to: the proxy's when an eBPF
    /// program redirected the connect, since the kernel reports the rewritten address.
    pub peer_port: u16,
}

/// `iperf3 -c 127.0.0.1 -p <port> -t <secs>`, from inside `cgroup` when given; `reverse`
/// (`-R`) has the server send and the client receive.
pub fn run(port: u16, secs: u64, reverse: bool, cgroup: Option<&Path>, dir: &Path) -> Result<Transfer> {
    proc::check_interrupted()?;
    let out = dir.join("iperf3.json");
    let log = dir.join("iperf3.err");
    let mut cmd = proc::command_in(cgroup, "iperf3", &log)?;
    cmd.args(["-c", "127.0.0.1", "-p", &port.to_string(), "-t", &secs.to_string(), "-J"]);
    if reverse {
        cmd.arg("-R");
    }
    cmd.stdout(std::fs::File::create(&out)?);
    let mut child = cmd.spawn().context("start iperf3")?;
    let status = proc::wait_until(&mut child, Instant::now() + Duration::from_secs(secs + 15));
    let Some(status) = status else {
        proc::stop(&mut child);
        bail!("iperf3 to port {port} did not finish within {} s", secs + 15);
    };
    proc::check_interrupted()?;
    let text = std::fs::read_to_string(&out)?;
    let report: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("iperf3 to port {port} ({status}) printed no JSON report: {text}"))?;
    if let Some(e) = report.get("error").and_then(|e| e.as_str()) {
        bail!("iperf3 to port {port}: {e}");
    }
    if !status.success() {
        bail!("iperf3 to port {port} failed ({status}): {}", std::fs::read_to_string(&log)?.trim());
    }
    parse(&report).with_context(|| format!("unexpected iperf3 report for port {port}:\n{text}"))
}

fn parse(report: &serde_json::Value) -> Result<Transfer> {
    let bits_per_second = report
        .pointer("/end/sum_received/bits_per_second")
        .and_then(|v| v.as_f64())
        .context("no end.sum_received.bits_per_second")?;
    let peers: Vec<u64> = report
        .pointer("/start/connected")
        .and_then(|c| c.as_array())
        .context("no start.connected")?
        .iter()
        .filter_map(|c| c.get("remote_port")?.as_u64())
        .collect();
    let Some(&peer) = peers.first() else { bail!("no connection in start.connected") };
    if peers.iter().any(|&p| p != peer) {
        bail!("the data connections went to different ports: {peers:?}");
    }
    if bits_per_second <= 0.0 {
        bail!("nothing was transferred");
    }
    Ok(Transfer { bits_per_second, peer_port: u16::try_from(peer)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_iperf3_report() {
        let report = serde_json::json!({
            "start": { "connected": [{ "socket": 5, "local_host": "127.0.0.1", "local_port": 57256,
                                       "remote_host": "127.0.0.1", "remote_port": 45124 }] },
            "end": { "sum_sent": { "bits_per_second": 6.9e9 }, "sum_received": { "bits_per_second": 6.8e9 } }
        });
        let t = parse(&report).unwrap();
        assert_eq!(t.bits_per_second, 6.8e9);
        assert_eq!(t.peer_port, 45124);
    }
}
