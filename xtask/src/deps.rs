//! Installs the Debian packages a task needs, when they are missing.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// A thing the task needs and the Debian package that brings it.
pub struct Need {
    /// A command on PATH, or an absolute file path.
    pub what: &'static str,
    pub package: &'static str,
}

pub const TEST: &[Need] = &[
    Need { what: "clang", package: "clang" },
    Need { what: "/usr/include/bpf/bpf_helpers.h", package: "libbpf-dev" },
    Need { what: "bpftool", package: "bpftool" },
    Need { what: "curl", package: "curl" },
    // The differential test's real upstream.
    Need { what: "nginx", package: "nginx-light" },
    Need { what: "python3", package: "python3" },
    // tests/tests/deploy.rs reads the DaemonSet with it.
    Need { what: "/usr/lib/python3/dist-packages/yaml/__init__.py", package: "python3-yaml" },
    Need { what: "systemd-analyze", package: "systemd" },
    Need { what: "setpriv", package: "util-linux" },
    // TLS and HTTP/2 tests: certificates, s_client, and HTTP/2 clients that reuse connections.
    Need { what: "openssl", package: "openssl" },
    Need { what: "nghttp", package: "nghttp2-client" },
    Need { what: "h2load", package: "nghttp2-client" },
    Need { what: "ip", package: "iproute2" },
    Need { what: "gcc", package: "gcc" },
    // The dns sample test asks through Weir with dig.
    Need { what: "dig", package: "dnsutils" },
    // tests/tests/codecs.rs checks protobuf messages against protoc's own encoding.
    Need { what: "protoc", package: "protobuf-compiler" },
    Need { what: "node", package: "nodejs" },
    Need { what: "npm", package: "npm" },
    // tests/tests/mqtt.rs: a real broker and real clients through an MQTT proxy.
    Need { what: "mosquitto", package: "mosquitto" },
    Need { what: "mosquitto_sub", package: "mosquitto-clients" },
    // tests/tests/thrift.rs: Apache Thrift's own Python library as the client.
    Need { what: "/usr/lib/python3/dist-packages/thrift/__init__.py", package: "python3-thrift" },
    // tests/tests/mux.rs: a real FastCGI application server for muxFastCGI.
    Need { what: "php-cgi", package: "php-cgi" },
];

/// TypeScript runs on Node; npm installs the version js-api/package-lock.json pins.
pub const JS: &[Need] = &[Need { what: "node", package: "nodejs" }, Need { what: "npm", package: "npm" }];

pub const BENCH: &[Need] = &[
    Need { what: "h2load", package: "nghttp2-client" },
    Need { what: "wrk", package: "wrk" },
    Need { what: "nginx", package: "nginx-light" },
    Need { what: "iptables", package: "iptables" },
    Need { what: "curl", package: "curl" },
    Need { what: "iperf3", package: "iperf3" },
];

fn present(what: &str) -> bool {
    if what.starts_with('/') {
        return Path::new(what).exists();
    }
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin", "/usr/local/sbin"]
        .iter()
        .any(|d| Path::new(d).join(what).exists())
        || Command::new("sh").args(["-c", &format!("command -v {what}")]).output().is_ok_and(|o| o.status.success())
}

/// Installs the missing packages with apt-get (as root), or says which to install.
pub fn ensure(needs: &[Need]) -> Result<()> {
    let mut missing: Vec<&str> = needs.iter().filter(|n| !present(n.what)).map(|n| n.package).collect();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing Debian packages: {} (install them with: sudo apt-get install -y {})",
            missing.join(" "),
            missing.join(" ")
        );
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let status = Command::new("apt-get").arg("update").arg("-qq").status().context("run apt-get update")?;
    if !status.success() {
        bail!("apt-get update failed");
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("run apt-get install")?;
    if !status.success() {
        bail!("apt-get install {} failed", missing.join(" "));
    }
    Ok(())
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether a cgroup v2 hierarchy is mounted (where the eBPF tests attach).
pub fn has_cgroup2() -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines().any(|l| l.split_once(" - ").is_some_and(|(_, r)| r.starts_with("cgroup2 ")))
}
