//! HTTP tunnels through weir: `curl -p` (proxytunnel) through `acceptHTTPTunnel`, and
//! `connectHTTPTunnel` chained to the `acceptHTTPTunnel` of another listener.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use weir_tests::*;

/// A tunnel server on raw bytes: CONNECT to any port but 1 opens a tunnel, anything else
/// gets a 405.
fn tunnel_server(port: u16) -> String {
    format!(
        "var $target\n\
         pipy.listen({port}, $=>$\n\
           .acceptHTTPTunnel(req => (\n\
             println(req.head.method, req.head.path),\n\
             req.head.method !== 'CONNECT' ? new Message({{ status: 405 }}, 'method not allowed\\n') :\n\
             req.head.path.endsWith(':1') ? new Timeout(0.05).wait().then(() => new Message({{ status: 403 }}, 'no\\n')) :\n\
             void ($target = req.head.path)\n\
           ))\n\
           .to($=>$.connect(() => $target))\n\
         )\n"
    )
}

#[test]
fn curl_proxytunnel_through_accept_http_tunnel() {
    let upstream = HttpServer::ok("Hello!\n");
    let port = free_port();
    let mut weir = Weir::start(&tunnel_server(port), &[]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{}/", upstream.port);
    let (code, body, err) = curl(&["-p", "-x", &format!("http://127.0.0.1:{port}"), &url, &url, &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert_eq!(body, "Hello!\n".repeat(3));
    // One tunnel, reused by curl for all three requests.
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), [format!("CONNECT 127.0.0.1:{}", upstream.port)]);
    assert_eq!(upstream.requests.lock().unwrap().len(), 3);

    // Not a CONNECT: answered like an HTTP server, keep-alive included.
    let direct = format!("http://127.0.0.1:{port}/x");
    let (code, body, _) = curl(&[&direct, &direct]);
    assert_eq!(code, 0);
    assert_eq!(body, "method not allowed\n".repeat(2));

    // A refusal (from a Promise) reaches curl as the proxy's status.
    let (code, _, err) = curl(&["-p", "-x", &format!("http://127.0.0.1:{port}"), "http://127.0.0.1:1/"]);
    assert_ne!(code, 0);
    assert!(err.contains("403"), "{err}");
}

#[test]
fn bytes_after_the_connect_request_go_into_the_tunnel() {
    let echo = echo_server();
    let port = free_port();
    let mut weir = Weir::start(&tunnel_server(port), &[]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The first tunnel bytes come in the same segment as the CONNECT.
    // HTTP/1.0, as Python's http.client sends it: the tunnel still stays open.
    s.write_all(format!("CONNECT 127.0.0.1:{echo} HTTP/1.0\r\n\r\nping").as_bytes()).unwrap();
    let expect = b"HTTP/1.1 200 OK\r\nconnection: keep-alive\r\n\r\nping";
    let mut got = vec![0; expect.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expect));
    let junk: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    s.write_all(&junk).unwrap();
    let mut back = vec![0; junk.len()];
    s.read_exact(&mut back).unwrap();
    assert!(back == junk, "binary bytes pass the tunnel unchanged");
}

#[test]
fn garbage_instead_of_a_request_closes_with_a_log_line() {
    let port = free_port();
    let mut weir = Weir::start(&tunnel_server(port), &[]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n").unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("weir closes the connection");
    assert!(got.is_empty());
    weir.wait_stderr("acceptHTTPTunnel: malformed HTTP", Duration::from_secs(5));
}

#[test]
fn connect_http_tunnel_chained_to_accept_http_tunnel_of_another_listener() {
    let upstream = HttpServer::ok("Hello!\n");
    let (front, tunnel) = (free_port(), free_port());
    let script = format!(
        "{}\
         pipy.listen({front}, $=>$\n\
           .connectHTTPTunnel(() => '127.0.0.1:{up}', {{ onState: s => println('state', s) }})\n\
           .to($=>$.connect('127.0.0.1:{tunnel}'))\n\
         )\n",
        tunnel_server(tunnel),
        up = upstream.port
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{front}/");
    let (code, body, err) = curl(&[&url, &url, &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert_eq!(body, "Hello!\n".repeat(3));
    let lines = weir.wait_stdout_lines(3, Duration::from_secs(5));
    assert_eq!(lines, ["state connecting", format!("CONNECT 127.0.0.1:{}", upstream.port).as_str(), "state connected"]);

    // Refused by the tunnel server: the client's connection is closed.
    let script = format!(
        "{}pipy.listen({front}, $=>$.connectHTTPTunnel('127.0.0.1:1', {{ onState: s => println('state', s) }}).to($=>$.connect('127.0.0.1:{tunnel}')))\n",
        tunnel_server(tunnel)
    );
    drop(weir);
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let (code, _, _) = curl(&[&url]);
    assert_ne!(code, 0);
    weir.wait_stderr("connectHTTPTunnel: the tunnel was refused with status 403", Duration::from_secs(5));
    assert_eq!(
        weir.wait_stdout_lines(3, Duration::from_secs(5)),
        ["state connecting", "CONNECT 127.0.0.1:1", "state closed"]
    );
}

#[test]
fn accept_http_tunnel_behind_demux_http_answers_other_requests() {
    // Pipy's test/curl/003, first part: the tunnel handler answers non-CONNECT requests.
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
           .acceptHTTPTunnel(msg => msg.head.method === 'CONNECT' ? undefined : new Message({{ status: 405 }}, 'method not allowed\\n'))\n\
           .to($=>$.connect('127.0.0.1:1'))\n\
         ))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{port}/");
    let (code, body, err) = curl(&["-i", &url, &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert_eq!(body.matches("HTTP/1.1 405 Method Not Allowed").count(), 2, "{body}");
    assert_eq!(body.matches("method not allowed\n").count(), 2, "{body}");
}

#[test]
fn curl_proxytunnel_through_mux_http_to_a_tunnel_server() {
    // Pipy's test/curl/003 shape: a proxy that muxes every request (the CONNECT included)
    // to a second weir accepting tunnels.
    let upstream = HttpServer::ok("Hello!\n");
    let (front, tunnel) = (free_port(), free_port());
    let script = format!(
        "var $target\n\
         pipy.listen({tunnel}, $=>$.demuxHTTP().to($=>$\n\
           .acceptHTTPTunnel(msg => (println(msg.head.method, msg.head.path), void ($target = msg.head.path)))\n\
           .to($=>$.connect(() => $target))\n\
         ))\n\
         pipy.listen({front}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{tunnel}'))))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{}/", upstream.port);
    let (code, body, err) = curl(&["-p", "-x", &format!("http://127.0.0.1:{front}"), &url, &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert_eq!(body, "Hello!\n".repeat(2));
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), [format!("CONNECT 127.0.0.1:{}", upstream.port)]);
    assert_eq!(upstream.requests.lock().unwrap().len(), 2);
}

#[test]
fn bytes_behind_a_connect_to_demux_http_wait_for_the_answer_then_go_into_the_tunnel() {
    let echo = echo_server();
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
           .acceptHTTPTunnel(() => new Timeout(0.05).wait())\n\
           .to($=>$.connect('127.0.0.1:{echo}'))\n\
         ))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Tunnel bytes that look like a request, in the CONNECT's segment, then a half-close:
    // they are the tunnel's, not demuxHTTP's.
    s.write_all(b"CONNECT x:1 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        "HTTP/1.1 200 OK\r\nconnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\n\r\n"
    );
}
