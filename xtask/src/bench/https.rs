//! Scenario t: HTTPS hello, weir `acceptTLS` + `serveHTTP` vs nginx `ssl` + `return 200`,
//! with one P-256 certificate openssl makes in the bench's folder: keep-alive requests, and
//! a new connection (a full handshake) per request.

use anyhow::{Result, bail};

use super::proc::{self, Proc, free_port};
use super::{Bench, Row, System, T_CONN, T_KEEP, nginx, wrk};

impl Bench {
    pub(super) fn https(&self) -> Result<Vec<Row>> {
        if let Some(rows) = self.lacks(T_KEEP, &["acceptTLS", "serveHTTP"]) {
            return Ok(rows);
        }
        let (cert, key) = (self.dir().join("https.crt"), self.dir().join("https.key"));
        let out = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()?;
        if !out.status.success() {
            bail!("openssl req: {}", String::from_utf8_lossy(&out.stderr));
        }
        let (np, wp) = (free_port()?, free_port()?);
        let mut procs =
            vec![nginx::start("nginx-https", nginx::Role::Https { cert: &cert, key: &key }, np, self.dir())?];
        let log = self.dir().join(format!("weir-{wp}.log"));
        let mut cmd = proc::command(&self.weir, &log)?;
        cmd.arg(self.root.join("xtask/bench/https.js")).arg("--threads=1");
        cmd.env("PORT", wp.to_string()).env("TLS_CERT", &cert).env("TLS_KEY", &key);
        let mut weir = Proc::spawn("weir https.js", cmd, &log)?;
        weir.wait_listening(wp)?;
        procs.push(weir);
        let (npid, wpid) = (procs[0].pid(), procs[1].pid());
        let https = |name: &str, port: u16, pid: u32, close: bool, baseline: bool| {
            let load = wrk::Load {
                url: format!("https://127.0.0.1:{port}/"),
                close,
                cgroup: None,
                h2: false,
                connections: None,
            };
            System { name: name.into(), load, pid: Some(pid), baseline }
        };
        let keep = vec![
            https("nginx ssl return 200", np, npid, false, true),
            https("weir acceptTLS+serveHTTP", wp, wpid, false, false),
        ];
        let mut rows = self.measure(T_KEEP, keep, &mut procs)?;
        let conn = vec![
            https("nginx ssl return 200", np, npid, true, true),
            https("weir acceptTLS+serveHTTP", wp, wpid, true, false),
        ];
        rows.extend(self.measure(T_CONN, conn, &mut procs)?);
        Ok(rows)
    }
}
