//! Scenario h2: HTTP/2 requests per second with h2load (10 connections x 10 streams, prior
//! knowledge): weir `serveHTTP` against nginx `listen http2` + `return 200`, and weir
//! `demuxHTTP`/`muxHTTP` against nginx `listen http2` + `proxy_pass`, both proxies to the
//! same nginx upstream over HTTP/1.

use anyhow::Result;

use super::{Bench, H2, H2_PROXY, Row, System, nginx, wrk};

impl Bench {
    pub(super) fn http2(&self) -> Result<Vec<Row>> {
        if let Some(rows) = self.lacks(H2, &["serveHTTP", "demuxHTTP", "muxHTTP"]) {
            return Ok(rows);
        }
        let (np, npp) = (super::proc::free_port()?, super::proc::free_port()?);
        let mut procs = vec![nginx::start("nginx-h2", nginx::Role::Http2, np, self.dir())?];
        let (upstream, up) = self.upstream()?;
        procs.push(upstream);
        let (hp, mp) = (super::proc::free_port()?, super::proc::free_port()?);
        procs.push(self.weir("hello.js", hp, None, 1)?);
        procs.push(self.weir("h2-mux.js", mp, Some(up), 1)?);
        let to = format!("127.0.0.1:{up}");
        procs.push(nginx::start("nginx-h2-proxy", nginx::Role::Http2Proxy { upstream: &to }, npp, self.dir())?);
        let h2 = |name: &str, port: u16, pid: u32, baseline: bool| {
            let load = wrk::Load {
                url: format!("http://127.0.0.1:{port}/"),
                close: false,
                cgroup: None,
                h2: true,
                connections: None,
            };
            System { name: name.into(), load, pid: Some(pid), baseline }
        };
        let hello = vec![
            h2("nginx http2 return 200", np, procs[0].pid(), true),
            h2("weir serveHTTP (h2c)", hp, procs[2].pid(), false),
        ];
        let mut rows = self.measure(H2, hello, &mut procs)?;
        let proxy = vec![
            h2("nginx http2 proxy_pass", npp, procs[4].pid(), true),
            h2("weir demuxHTTP/muxHTTP", mp, procs[3].pid(), false),
        ];
        rows.extend(self.measure(H2_PROXY, proxy, &mut procs)?);
        Ok(rows)
    }
}
