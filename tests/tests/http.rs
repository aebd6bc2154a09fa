//! HTTP through weir, end to end with real curl and real HTTP servers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use weir_tests::*;

/// The transparent-proxy sample's pipeline with a fixed target instead of SO_ORIGINAL_DST.
fn logging_proxy(port: u16, upstream: u16) -> String {
    format!(
        "pipy.listen({port}, $=>$\n\
           .fork().to($=>$\n\
             .decodeHTTPRequest()\n\
             .handleMessageStart(({{ head }}) => println(head.method, head.path, head.headers.host))\n\
           )\n\
           .connect('127.0.0.1:{upstream}')\n\
           .fork().to($=>$\n\
             .decodeHTTPResponse()\n\
             .handleMessageStart(({{ head }}) => println(' ', head.status, head.statusText))\n\
           )\n\
         )\n"
    )
}

#[test]
fn logging_proxy_prints_each_request_and_response_head() {
    let upstream = HttpServer::start(|_, path| match path {
        "/old" => ("301 Moved Permanently".into(), vec![("location".into(), "/new".into())], "moved\n".into()),
        _ => ("200 OK".into(), vec![], "the new page\n".into()),
    });
    let port = free_port();
    let mut weir = Weir::start(&logging_proxy(port, upstream.port), &[]);
    weir.wait_listening();

    let (code, body, err) = curl(&["-L", &format!("http://127.0.0.1:{port}/old")]);
    assert_eq!(code, 0, "curl: {err}");
    assert_eq!(body, "the new page\n");
    let out = weir.wait_stdout_lines(4, Duration::from_secs(5));
    let host = format!("127.0.0.1:{port}");
    assert_eq!(
        out,
        [format!("GET /old {host}"), "  301 Moved Permanently".into(), format!("GET /new {host}"), "  200 OK".into()]
    );
}

#[test]
fn logging_proxy_passes_non_http_bytes_unchanged() {
    let upstream = echo_server();
    let port = free_port();
    let mut weir = Weir::start(&logging_proxy(port, upstream), &[]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let junk: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    s.write_all(&junk).unwrap();
    let mut back = vec![0u8; junk.len()];
    s.read_exact(&mut back).unwrap();
    assert!(back == junk);
    assert!(weir.stdout().is_empty(), "nothing is logged for bytes that are not HTTP");
}

#[test]
fn serve_http_answers_keep_alive_and_pipelined_requests_in_order() {
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.serveHTTP(req => new Message({{ status: 200, headers: {{ 'x-path': req.head.path }} }}, 'hello ' + req.head.path)))"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();

    let (code, body, _) = curl(&[&format!("http://127.0.0.1:{port}/a"), &format!("http://127.0.0.1:{port}/b")]);
    assert_eq!(code, 0);
    assert_eq!(body, "hello /ahello /b");

    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\nconnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let expected = "HTTP/1.1 200 OK\r\nx-path: /1\r\ncontent-length: 8\r\nconnection: keep-alive\r\n\r\nhello /1\
                    HTTP/1.1 200 OK\r\nx-path: /2\r\ncontent-length: 8\r\nconnection: keep-alive\r\n\r\nhello /2\
                    HTTP/1.1 200 OK\r\nx-path: /3\r\ncontent-length: 8\r\nconnection: close\r\n\r\nhello /3";
    assert_eq!(text, expected);
}

#[test]
fn demux_and_mux_proxy_reuses_one_upstream_connection_per_client() {
    let upstream = HttpServer::start(|_, path| ("200 OK".into(), vec![], format!("upstream saw {path}\n")));
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .demuxHTTP().to($=>$\n\
             .handleMessageStart(({{ head }}) => println(head.path, head.headers['x-test']))\n\
             .muxHTTP().to($=>$.connect('127.0.0.1:{}'))\n\
           )\n\
         )\n",
        upstream.port
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();

    let urls: Vec<String> = (0..5).map(|i| format!("http://127.0.0.1:{port}/r{i}")).collect();
    let mut args = vec!["-H", "x-test: yes"];
    args.extend(urls.iter().map(String::as_str));
    let (code, body, err) = curl(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(body, (0..5).map(|i| format!("upstream saw /r{i}\n")).collect::<String>());
    assert_eq!(
        weir.wait_stdout_lines(5, Duration::from_secs(5)),
        (0..5).map(|i| format!("/r{i} yes")).collect::<Vec<_>>()
    );
    assert_eq!(upstream.requests.lock().unwrap().len(), 5);
    assert_eq!(
        upstream.connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one upstream connection for the client"
    );
}

#[test]
fn mux_answers_502_when_the_upstream_refuses() {
    let dead = free_port();
    let port = free_port();
    let script =
        format!("pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{dead}'))))");
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let (code, out, _) = curl(&["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 0);
    assert_eq!(out, "502");
}

#[test]
fn encoders_pass_on_an_upstream_connection_close() {
    let upstream = tcp_server(|mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye");
    });
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.decodeHTTPRequest().encodeHTTPRequest().connect('127.0.0.1:{upstream}').decodeHTTPResponse().encodeHTTPResponse())"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert_eq!(text, "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbye");
}

#[test]
fn mux_closes_an_idle_session_after_max_idle() {
    let (tx, rx) = channel_pair();
    let upstream = tcp_server(move |mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        let answered = std::time::Instant::now();
        while s.read(&mut buf).is_ok_and(|n| n > 0) {}
        let _ = tx.send(answered.elapsed());
    });
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP(() => 'shared', {{ maxIdle: 0.3 }}).to($=>$.connect('127.0.0.1:{upstream}'))))"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let (code, body, _) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!((code, body.as_str()), (0, "ok"));
    let closed_after = recv_n(&rx, 1, Duration::from_secs(5));
    assert_eq!(closed_after.len(), 1, "the upstream connection was never closed");
    assert!(
        closed_after[0] >= Duration::from_millis(250) && closed_after[0] < Duration::from_secs(3),
        "{closed_after:?}"
    );
}

#[test]
fn mux_sessions_of_a_client_close_with_it() {
    let (tx, rx) = channel_pair();
    let upstream = tcp_server(move |mut s| {
        let mut buf = [0u8; 1024];
        // Answers every request on the connection, then reports how long after the last
        // answer the connection was closed.
        let mut answered = std::time::Instant::now();
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
            answered = std::time::Instant::now();
        }
        let _ = tx.send(answered.elapsed());
    });
    let port = free_port();
    let script =
        format!("pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{upstream}'))))");
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{port}/");
    let (code, body, _) = curl(&[&url, &url]);
    assert_eq!((code, body.as_str()), (0, "okok"));
    let closed_after = recv_n(&rx, 1, Duration::from_secs(5));
    assert_eq!(closed_after.len(), 1, "the upstream connection outlived its client");
    assert!(closed_after[0] < Duration::from_secs(2), "{closed_after:?}");
}

/// A target chosen from the request head by a filter in front of `connect`, in the same
/// pipeline: the connection opens at the first event, after that filter ran (as in Pipy).
#[test]
fn connect_target_set_from_the_request_head_in_front_of_it() {
    let a = HttpServer::ok("from a\n");
    let b = HttpServer::ok("from b\n");
    let port = free_port();
    let script = format!(
        "var $target\n\
         pipy.listen({port}, $=>$\n\
           .demuxHTTP().to($=>$\n\
             .handleMessageStart(({{ head }}) => $target = head.path === '/b' ? '127.0.0.1:{}' : '127.0.0.1:{}')\n\
             .encodeHTTPRequest().connect(() => $target).decodeHTTPResponse()\n\
           )\n\
         )\n",
        b.port, a.port
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    for (path, want) in [("/a", "from a\n"), ("/b", "from b\n"), ("/a", "from a\n")] {
        let (code, body, err) = curl(&[&format!("http://127.0.0.1:{port}{path}")]);
        assert_eq!(code, 0, "{path}: {err}");
        assert_eq!(body, want, "{path}");
    }
}
