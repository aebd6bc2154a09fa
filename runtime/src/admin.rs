//! The admin port (`--admin-port=[ip:]port`): `/metrics` in the Prometheus text format (the
//! runtime's `pipy_*` series and the scripts' `stats.*` metrics, summed over worker threads),
//! `/api/v1/status`, and `/ready` for readiness probes.
//!
//! It runs on threads of its own, apart from the workers: a scrape waits for a busy worker's
//! collection only up to a bound (`COLLECT_WAIT`), and a stuck worker cannot hide itself
//! from the probe's answer.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::{collect, metrics};

static READY: AtomicBool = AtomicBool::new(false);
static SERVING: AtomicUsize = AtomicUsize::new(0);
/// Requests answered at once; more are closed unanswered (a probe retries).
const MAX_SERVING: usize = 16;
const MAX_REQUEST: usize = 16 * 1024;
/// How long `/metrics` waits for the workers to collect: a busy one shows its last values.
const COLLECT_WAIT: Duration = Duration::from_millis(500);

/// Whether `/ready` answers 200: set once every worker runs the script, cleared at a stop.
pub fn set_ready(ready: bool) {
    READY.store(ready, Ordering::Relaxed);
}

/// The admin port's address from `[ip:]port`; the IP defaults to 0.0.0.0, as in Pipy.
pub fn parse_address(s: &str) -> Result<SocketAddr, String> {
    let bad = || format!("invalid --admin-port value: {s}");
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    s.parse().map_err(|_| bad())
}

/// Binds the admin port and serves it from now on. Returns the address bound.
pub fn start(addr: SocketAddr, script: String) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    metrics::runtime_series();
    let since = now_ms();
    std::thread::Builder::new().name("weir-admin".into()).spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            if SERVING.fetch_add(1, Ordering::Relaxed) >= MAX_SERVING {
                SERVING.fetch_sub(1, Ordering::Relaxed);
                continue;
            }
            let script = script.clone();
            let spawned = std::thread::Builder::new().name("weir-admin-req".into()).spawn(move || {
                let _ = serve(stream, &script, since);
                SERVING.fetch_sub(1, Ordering::Relaxed);
            });
            if spawned.is_err() {
                SERVING.fetch_sub(1, Ordering::Relaxed);
            }
        }
    })?;
    Ok(bound)
}

fn serve(mut stream: TcpStream, script: &str, since: u128) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let path = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => break (req.method == Some("GET"), req.path.unwrap_or("").to_string()),
            Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST => continue,
            _ => return respond(&mut stream, "400 Bad Request", "text/plain", "bad request\n"),
        }
    };
    let (get, path) = path;
    let path = path.split('?').next().unwrap_or("");
    match (get, path) {
        (true, "/metrics") => {
            collect::all(COLLECT_WAIT);
            respond(&mut stream, "200 OK", "text/plain; version=0.0.4", &metrics::render())
        }
        (true, "/api/v1/status") => respond(&mut stream, "200 OK", "application/json", &status(script, since)),
        (true, "/ready") if READY.load(Ordering::Relaxed) => respond(&mut stream, "200 OK", "text/plain", "ready\n"),
        (true, "/ready") => respond(&mut stream, "503 Service Unavailable", "text/plain", "not ready\n"),
        (false, _) => respond(&mut stream, "405 Method Not Allowed", "text/plain", "method not allowed\n"),
        _ => respond(&mut stream, "404 Not Found", "text/plain", "not found\n"),
    }
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())
}

/// The part of Pipy's status that a single process has: when it started, what it runs.
fn status(script: &str, since: u128) -> String {
    let quoted = |s: &str| {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    format!(
        "{{\"timestamp\":{},\"since\":{since},\"name\":{},\"version\":{},\"pid\":{},\"ready\":{}}}\n",
        now_ms(),
        quoted(script),
        quoted(concat!("weir ", env!("CARGO_PKG_VERSION"))),
        std::process::id(),
        READY.load(Ordering::Relaxed)
    )
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_pipy_takes_them() {
        assert_eq!(parse_address("6060").unwrap(), "0.0.0.0:6060".parse().unwrap());
        assert_eq!(parse_address("127.0.0.1:6060").unwrap(), "127.0.0.1:6060".parse().unwrap());
        assert_eq!(parse_address("[::1]:6060").unwrap(), "[::1]:6060".parse().unwrap());
        assert_eq!(parse_address("six").unwrap_err(), "invalid --admin-port value: six");
    }
}
