//! nginx baselines, each from a config generated in the bench's temp dir.

use std::path::Path;

use anyhow::Result;

use super::proc::{self, Proc};

/// The stream module is a separate Debian package from nginx-light.
pub const STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";

pub enum Role<'a> {
    /// `return 200`: the hello baseline and the upstream of every proxy scenario.
    Hello,
    /// `stream { proxy_pass }`: a TCP proxy.
    Stream { upstream: &'a str },
    /// `proxy_pass` with a keep-alive upstream pool: an HTTP/1 proxy.
    Proxy { upstream: &'a str },
    /// Files from `root`: the big-body upstream of scenario g.
    Files { root: &'a Path },
    /// `return 200` over TLS: the baseline of scenario t.
    Https { cert: &'a Path, key: &'a Path },
    /// `return 200` over HTTP/2 with prior knowledge: the baseline of scenario h2's hello.
    Http2,
    /// HTTP/2 with prior knowledge in, `proxy_pass` with a keep-alive pool out: the baseline
    /// of scenario h2's proxy.
    Http2Proxy { upstream: &'a str },
}

/// Starts one nginx with one worker on 127.0.0.1:`port` and waits until it accepts.
pub fn start(name: &str, role: Role<'_>, port: u16, dir: &Path) -> Result<Proc> {
    let d = dir.display();
    let listen = format!("listen 127.0.0.1:{port}");
    let (head, body) = match role {
        Role::Hello => (
            String::new(),
            format!("http {{ access_log off; server {{ {listen}; location / {{ return 200 \"hello\\n\"; }} }} }}"),
        ),
        Role::Stream { upstream } => (
            format!("load_module {STREAM_MODULE};"),
            format!("stream {{ server {{ {listen}; proxy_pass {upstream}; }} }}"),
        ),
        Role::Proxy { upstream } => (
            String::new(),
            format!(
                "http {{ access_log off;
  upstream up {{ server {upstream}; keepalive 64; }}
  server {{ {listen};
    location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }} }}"
            ),
        ),
        Role::Http2 => (
            String::new(),
            // nginx ends a connection after 1000 requests by default (a GOAWAY), which h2load
            // does not replace: the row would stop at 10 x 1000 requests.
            format!(
                "http {{ access_log off; keepalive_requests 100000000; server {{ {listen} http2; \
                 location / {{ return 200 \"hello\\n\"; }} }} }}"
            ),
        ),
        Role::Http2Proxy { upstream } => (
            String::new(),
            format!(
                "http {{ access_log off; keepalive_requests 100000000;
  upstream up {{ server {upstream}; keepalive 64; }}
  server {{ {listen} http2;
    location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }} }}"
            ),
        ),
        // TLS 1.3 as weir speaks it: nginx 1.22's default protocols stop at TLS 1.2, where
        // wrk's resumed sessions skip the key exchange weir's TLS 1.3 ones do (issue 21).
        Role::Https { cert, key } => (
            String::new(),
            format!(
                "http {{ access_log off; server {{ {listen} ssl; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate {}; ssl_certificate_key {};
    location / {{ return 200 \"hello\\n\"; }} }} }}",
                cert.display(),
                key.display()
            ),
        ),
        Role::Files { root } => (
            String::new(),
            format!(
                "http {{ access_log off; sendfile on; server {{ {listen}; location / {{ root {}; }} }} }}",
                root.display()
            ),
        ),
    };
    let conf = format!(
        "{head}
daemon off;
master_process on;
worker_processes 1;
pid {d}/{name}.pid;
error_log {d}/{name}.log warn;
events {{ worker_connections 4096; }}
{body}
"
    );
    let file = dir.join(format!("{name}.conf"));
    std::fs::write(&file, conf)?;
    let log = dir.join(format!("{name}.stderr"));
    let mut cmd = proc::command("nginx", &log)?;
    // -e: without it nginx opens /var/log/nginx/error.log before it reads the config.
    cmd.arg("-c").arg(&file).arg("-p").arg(dir).arg("-e").arg(dir.join(format!("{name}.log")));
    let mut p = Proc::spawn(name, cmd, &log)?;
    p.wait_listening(port)?;
    Ok(p)
}
