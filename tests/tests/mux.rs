//! The generic `mux`/`demux` (and their other names `muxQueue`/`demuxQueue`) and the
//! FastCGI pair, driven with real clients and servers on kernel-chosen ports.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use weir_tests::*;

/// Client connections decoded as HTTP, their requests sent whole through `mux` into
/// sessions that speak HTTP/1 to `up`.
fn mux_proxy(port: u16, up: u16, filter: &str, args: &str) -> String {
    format!(
        "pipy.listen({port}, $=>$\n\
           .decodeHTTPRequest()\n\
           .{filter}({args}).to($=>$\n\
             .encodeHTTPRequest()\n\
             .connect('127.0.0.1:{up}')\n\
             .decodeHTTPResponse()\n\
           )\n\
           .encodeHTTPResponse()\n\
         )\n"
    )
}

/// `n` curl runs one after another, each its own connection; their bodies.
fn curl_each(port: u16, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let (code, out, err) = curl(&[&format!("http://127.0.0.1:{port}/c{i}")]);
            assert_eq!(code, 0, "curl {i}: {err}");
            out
        })
        .collect()
}

fn upstream() -> HttpServer {
    HttpServer::start(|_, path| ("200 OK".into(), vec![], format!("answer to {path}")))
}

#[test]
fn mux_shares_one_upstream_session_among_clients_of_one_key() {
    let up = upstream();
    let port = free_port();
    let mut weir = Weir::start(&mux_proxy(port, up.port, "mux", "() => 'shared', { maxQueue: 0 }"), &[]);
    weir.wait_listening();
    let bodies = curl_each(port, 5);
    let expected: Vec<_> = (0..5).map(|i| format!("answer to /c{i}")).collect();
    assert_eq!(bodies, expected);
    assert_eq!(up.connections.load(Ordering::SeqCst), 1, "five clients, one upstream connection");
}

#[test]
fn mux_queue_keys_sessions_by_client_connection_unless_told() {
    let up = upstream();
    let port = free_port();
    let mut weir = Weir::start(&mux_proxy(port, up.port, "muxQueue", ""), &[]);
    weir.wait_listening();
    curl_each(port, 3);
    assert_eq!(up.connections.load(Ordering::SeqCst), 3);
}

#[test]
fn mux_max_messages_retires_a_session_after_that_many_clients() {
    let up = upstream();
    let port = free_port();
    let script = mux_proxy(port, up.port, "mux", "() => 'shared', { maxQueue: 0, maxMessages: 2 }");
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    curl_each(port, 5);
    assert_eq!(up.connections.load(Ordering::SeqCst), 3, "2 + 2 + 1 clients");
}

#[test]
fn mux_gives_concurrent_clients_of_one_session_each_its_own_answer() {
    let up = upstream();
    let port = free_port();
    let mut weir = Weir::start(&mux_proxy(port, up.port, "mux", "() => 'shared', { maxQueue: 0 }"), &[]);
    weir.wait_listening();
    let clients: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let (code, out, err) = curl(&[&format!("http://127.0.0.1:{port}/p{i}")]);
                assert_eq!(code, 0, "{err}");
                (i, out)
            })
        })
        .collect();
    for c in clients {
        let (i, out) = c.join().unwrap();
        assert_eq!(out, format!("answer to /p{i}"));
    }
    assert_eq!(up.connections.load(Ordering::SeqCst), 1);
}

/// An idle session closes after `maxIdle`: its upstream connection sees the end.
#[test]
fn mux_closes_a_session_idle_for_max_idle() {
    let (tx, rx) = channel_pair();
    let up = tcp_server(move |s| {
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if line == "\r\n" {
                w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").unwrap();
            }
            line.clear();
        }
        // The session's end: the upstream connection was closed.
        let _ = tx.send(std::time::Instant::now());
    });
    let port = free_port();
    let mut weir = Weir::start(&mux_proxy(port, up, "mux", "() => 'k', { maxIdle: 0.5 }"), &[]);
    weir.wait_listening();
    let (code, out, err) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!((code, out.as_str()), (0, "ok"), "{err}");
    let answered = std::time::Instant::now();
    let closed = recv_n(&rx, 1, Duration::from_secs(10));
    assert_eq!(closed.len(), 1, "the idle session was never closed");
    let after = closed[0] - answered;
    assert!(after >= Duration::from_millis(400), "closed after {after:?}, before maxIdle");
}

/// Pipelined requests on one connection, each answered by a sub-pipeline of its own: the
/// answers come back in request order.
#[test]
fn demux_answers_each_message_from_its_own_sub_pipeline_in_order() {
    let port = free_port();
    let script = format!(
        "var $path\n\
         pipy.listen({port}, $=>$\n\
           .decodeHTTPRequest()\n\
           .demuxQueue().to($=>$\n\
             .handleMessageStart(msg => void ($path = msg.head.path))\n\
             .replaceMessage(() => new Message({{ status: 200 }}, 'sub for ' + $path))\n\
           )\n\
           .encodeHTTPResponse()\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let reqs: String = ["/a", "/b", "/c"].iter().map(|p| format!("GET {p} HTTP/1.1\r\nhost: x\r\n\r\n")).collect();
    s.write_all(reqs.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    for p in ["/a", "/b", "/c"] {
        let mut len = 0;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        assert_eq!(String::from_utf8_lossy(&body), format!("sub for {p}"));
    }
}

/// An HTTP front that turns each request into a FastCGI request for `app` and the
/// application's stdout (CGI headers and body) back into an HTTP response.
fn fastcgi_front(port: u16, app: u16, docs: &str) -> String {
    format!(
        "pipy.listen({port}, $=>$\n\
           .demuxHTTP().to($=>$\n\
             .replaceMessage(req => new Message({{\n\
               keepAlive: true,\n\
               params: {{\n\
                 REQUEST_METHOD: req.head.method,\n\
                 REQUEST_URI: req.head.path,\n\
                 QUERY_STRING: '',\n\
                 SCRIPT_NAME: req.head.path,\n\
                 SCRIPT_FILENAME: '{docs}' + req.head.path,\n\
                 CONTENT_LENGTH: String(req.body ? req.body.size : 0),\n\
               }},\n\
             }}, req.body))\n\
             .muxFastCGI({{ maxQueue: 0 }}).to($=>$.connect('127.0.0.1:{app}'))\n\
             .replaceMessageStart(() => new Data('HTTP/1.1 200 OK\\r\\n'))\n\
             .replaceMessageEnd(new StreamEnd)\n\
             .decodeHTTPResponse()\n\
           )\n\
         )\n"
    )
}

/// php-cgi in FastCGI mode on a kernel-chosen port, killed when dropped.
struct PhpCgi(std::process::Child, u16);

impl PhpCgi {
    fn start() -> PhpCgi {
        let port = free_port();
        let child = std::process::Command::new("php-cgi")
            .args(["-b", &format!("127.0.0.1:{port}")])
            .env("PHP_FCGI_CHILDREN", "0")
            .spawn()
            .expect("php-cgi (cargo xtask test installs it: apt-get install -y php-cgi)");
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < until, "php-cgi did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        PhpCgi(child, port)
    }
}

impl Drop for PhpCgi {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn mux_fastcgi_runs_php_scripts_through_php_cgi() {
    let docs = TempDir::new();
    let php = "<?php echo 'php ', $_SERVER['REQUEST_METHOD'], ' ', $_SERVER['REQUEST_URI'], ' ', strlen(file_get_contents('php://input'));";
    std::fs::write(docs.0.join("hello.php"), php).unwrap();
    let app = PhpCgi::start();
    let port = free_port();
    let mut weir = Weir::start(&fastcgi_front(port, app.1, docs.0.to_str().unwrap()), &[]);
    weir.wait_listening();
    let (code, out, err) = curl(&[&format!("http://127.0.0.1:{port}/hello.php")]);
    assert_eq!((code, out.as_str()), (0, "php GET /hello.php 0"), "{err} {:?}", weir.stderr());
    // Bigger than one FastCGI record, so stdin goes in several.
    let body = docs.0.join("body");
    std::fs::write(&body, "x".repeat(200_000)).unwrap();
    let data = format!("@{}", body.display());
    let (code, out, err) = curl(&["--data-binary", &data, &format!("http://127.0.0.1:{port}/hello.php")]);
    assert_eq!((code, out.as_str()), (0, "php POST /hello.php 200000"), "{err} {:?}", weir.stderr());
}

/// Weir on both sides: `demuxFastCGI` as the application, `muxFastCGI` as its client, with
/// concurrent requests multiplexed on one connection.
#[test]
fn demux_fastcgi_answers_what_mux_fastcgi_asks() {
    let (front, app) = (free_port(), free_port());
    let script = fastcgi_front(front, app, "/srv")
        + &format!(
            "pipy.listen({app}, $=>$\n\
               .demuxFastCGI().to($=>$\n\
                 .replaceMessage(req => new Message(\n\
                   'Content-Type: text/plain\\r\\n\\r\\napp got ' + req.head.params.SCRIPT_FILENAME +\n\
                   ' keepAlive=' + req.head.keepAlive + ' ' + (req.body ? req.body.size : 0)\n\
                 ))\n\
               )\n\
             )\n"
        );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let clients: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || {
                let body = "y".repeat(i * 1000);
                curl(&["--data-binary", &body, &format!("http://127.0.0.1:{front}/r{i}")])
            })
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        let (code, out, err) = c.join().unwrap();
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, format!("app got /srv/r{i} keepAlive=true {}", i * 1000));
    }
}
