//! Scenarios a-d and f: wrk against weir and nginx, on a shared nginx upstream.

use anyhow::Result;

use super::proc::free_port;
use super::{A, B, Bench, C, D, F_A, F_D, P, Row, System, nginx};

impl Bench {
    pub(super) fn hello(&self) -> Result<Vec<Row>> {
        if let Some(rows) = self.lacks(A, &["serveHTTP"]) {
            return Ok(rows);
        }
        let (np, wp) = (free_port()?, free_port()?);
        let mut procs = vec![nginx::start("nginx-hello", nginx::Role::Hello, np, self.dir())?];
        procs.push(self.weir("hello.js", wp, None, 1)?);
        let systems = vec![
            System::http("nginx return 200", np, Some(procs[0].pid()), true),
            System::http("weir serveHTTP", wp, Some(procs[1].pid()), false),
        ];
        self.measure(A, systems, &mut procs)
    }

    pub(super) fn tcp_proxy(&self) -> Result<Vec<Row>> {
        if let Some(rows) = self.lacks(B, &["connect"]) {
            return Ok(rows);
        }
        let (upstream, up) = self.upstream()?;
        let (np, wp) = (free_port()?, free_port()?);
        let upstream_addr = format!("127.0.0.1:{up}");
        let mut procs = vec![
            upstream,
            nginx::start("nginx-stream", nginx::Role::Stream { upstream: &upstream_addr }, np, self.dir())?,
        ];
        procs.push(self.weir("tcp-proxy.js", wp, Some(up), 1)?);
        let systems = vec![
            System::http("direct to upstream", up, None, false),
            System::http("nginx stream", np, Some(procs[1].pid()), true),
            System::http("weir connect", wp, Some(procs[2].pid()), false),
        ];
        self.measure(B, systems, &mut procs)
    }

    /// Pipy's own test/benchmark/001-tcp: `listen` + `connect` to an HTTP upstream, loaded
    /// by wrk with 50 keep-alive connections (small requests and responses, one per round trip).
    pub(super) fn pipy_tcp(&self) -> Result<Vec<Row>> {
        if let Some(rows) = self.lacks(P, &["connect"]) {
            return Ok(rows);
        }
        let (upstream, up) = self.upstream()?;
        let (np, wp) = (free_port()?, free_port()?);
        let upstream_addr = format!("127.0.0.1:{up}");
        let mut procs = vec![
            upstream,
            nginx::start("nginx-stream-p", nginx::Role::Stream { upstream: &upstream_addr }, np, self.dir())?,
        ];
        procs.push(self.weir("tcp-proxy.js", wp, Some(up), 1)?);
        let fifty = |mut s: System| {
            s.load.connections = Some(50);
            s
        };
        let systems = vec![
            fifty(System::http("nginx stream", np, Some(procs[1].pid()), true)),
            fifty(System::http("weir connect", wp, Some(procs[2].pid()), false)),
        ];
        self.measure(P, systems, &mut procs)
    }

    pub(super) fn http_proxy(&self) -> Result<Vec<Row>> {
        let needs = ["decodeHTTPRequest", "encodeHTTPRequest", "connect", "decodeHTTPResponse", "encodeHTTPResponse"];
        if let Some(rows) = self.lacks(C, &needs) {
            return Ok(rows);
        }
        self.proxied(C, "http-proxy.js", "weir decode+encode")
    }

    pub(super) fn demux_mux(&self) -> Result<Vec<Row>> {
        if let Some(rows) = self.lacks(D, &["demuxHTTP", "muxHTTP", "handleMessageStart", "connect"]) {
            return Ok(rows);
        }
        self.proxied(D, "http-mux.js", "weir demux/mux+callback")
    }

    /// An HTTP proxy scenario against nginx `proxy_pass`, on a shared nginx upstream.
    pub(super) fn proxied(&self, scenario: &'static str, script: &str, name: &str) -> Result<Vec<Row>> {
        let (upstream, up) = self.upstream()?;
        let (np, wp) = (free_port()?, free_port()?);
        let upstream_addr = format!("127.0.0.1:{up}");
        let mut procs = vec![
            upstream,
            nginx::start("nginx-proxy", nginx::Role::Proxy { upstream: &upstream_addr }, np, self.dir())?,
        ];
        procs.push(self.weir(script, wp, Some(up), 1)?);
        let systems = vec![
            System::http("nginx proxy_pass", np, Some(procs[1].pid()), true),
            System::http(name, wp, Some(procs[2].pid()), false),
        ];
        self.measure(scenario, systems, &mut procs)
    }

    pub(super) fn threads(&self) -> Result<Vec<Row>> {
        let mut rows = match self.lacks(F_A, &["serveHTTP"]) {
            Some(rows) => rows,
            None => {
                let (p1, p2) = (free_port()?, free_port()?);
                let mut procs = vec![self.weir("hello.js", p1, None, 1)?, self.weir("hello.js", p2, None, 2)?];
                let systems = vec![
                    System::http("weir --threads=1", p1, Some(procs[0].pid()), true),
                    System::http("weir --threads=2", p2, Some(procs[1].pid()), false),
                ];
                self.measure(F_A, systems, &mut procs)?
            }
        };
        rows.extend(match self.lacks(F_D, &["demuxHTTP", "muxHTTP", "handleMessageStart", "connect"]) {
            Some(rows) => rows,
            None => {
                let (upstream, up) = self.upstream()?;
                let (p1, p2) = (free_port()?, free_port()?);
                let mut procs = vec![upstream, self.weir("http-mux.js", p1, Some(up), 1)?];
                procs.push(self.weir("http-mux.js", p2, Some(up), 2)?);
                let systems = vec![
                    System::http("weir --threads=1", p1, Some(procs[1].pid()), true),
                    System::http("weir --threads=2", p2, Some(procs[2].pid()), false),
                ];
                self.measure(F_D, systems, &mut procs)?
            }
        });
        Ok(rows)
    }
}
