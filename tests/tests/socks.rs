//! SOCKS through weir: real curl as the SOCKS client, weir's `acceptSOCKS` as the server,
//! `connectSOCKS` chained to it, and malformed handshakes from a raw socket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use weir_tests::*;

/// A SOCKS server that prints what each request asked for and grants all but port 1.
fn socks_server(port: u16) -> String {
    format!(
        "var $target\n\
         pipy.listen({port}, $=>$\n\
           .acceptSOCKS(({{ id, ip, domain, port }}) => (\n\
             println([id === undefined ? '-' : id, ip || '-', domain || '-', port].join(' ')),\n\
             $target = `${{domain || ip}}:${{port}}`,\n\
             port === 1 ? false : port === 2 ? new Timeout(0.05).wait().then(() => false) : true\n\
           ))\n\
           .to($=>$.connect(() => $target))\n\
         )\n"
    )
}

#[test]
fn curl_through_accept_socks_with_every_protocol_variant() {
    let upstream = HttpServer::ok("through socks\n");
    let port = free_port();
    let mut weir = Weir::start(&socks_server(port), &[]);
    weir.wait_listening();
    let url = format!("http://localhost:{}/", upstream.port);
    let cases = [("--socks4", "ip"), ("--socks4a", "domain"), ("--socks5", "ip"), ("--socks5-hostname", "domain")];
    for (flag, _) in cases {
        let (code, body, err) = curl(&[flag, &format!("127.0.0.1:{port}"), &url, &url]);
        assert_eq!(code, 0, "curl {flag}: {err}");
        assert_eq!(body, "through socks\nthrough socks\n", "curl {flag}");
    }
    let lines = weir.wait_stdout_lines(cases.len(), Duration::from_secs(5));
    let up = upstream.port;
    // curl resolves localhost itself for --socks4 and --socks5; SOCKS4 carries a user id.
    assert_eq!(
        lines,
        [
            format!(" 127.0.0.1 - {up}"),
            format!(" - localhost {up}"),
            format!("- 127.0.0.1 - {up}"),
            format!("- - localhost {up}"),
        ]
    );
    assert_eq!(upstream.requests.lock().unwrap().len(), 8);
}

#[test]
fn refused_requests_get_the_refusal_reply_also_from_a_promise() {
    let port = free_port();
    let mut weir = Weir::start(&socks_server(port), &[]);
    weir.wait_listening();
    for (target, flag) in [("127.0.0.1:1", "--socks5"), ("127.0.0.1:2", "--socks5"), ("127.0.0.1:1", "--socks4")] {
        let (code, _, err) = curl(&[flag, &format!("127.0.0.1:{port}"), &format!("http://{target}/")]);
        assert_ne!(code, 0, "curl {flag} {target} must fail");
        assert!(err.to_lowercase().contains("socks") || err.contains("refused") || err.contains("denied"), "{err}");
    }
    // The raw refusal: SOCKS5 reply code 2, then the connection closes.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x01").unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"\x05\x00\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00");
}

#[test]
fn malformed_handshakes_close_the_connection_with_a_log_line() {
    let port = free_port();
    let mut weir = Weir::start(&socks_server(port), &[]);
    weir.wait_listening();
    let exchange = |send: &[u8]| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(send).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("weir closes the connection");
        got
    };
    assert_eq!(exchange(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"), b"");
    // SOCKS5 BIND: "command not supported".
    assert_eq!(
        exchange(b"\x05\x01\x00\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50"),
        b"\x05\x00\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00"
    );
    // A SOCKS5 client that insists on username/password.
    assert_eq!(exchange(b"\x05\x01\x02"), b"\x05\xff");
    weir.wait_stderr("acceptSOCKS: not a SOCKS greeting (first byte 0x47) from 127.0.0.1:", Duration::from_secs(5));
    weir.wait_stderr("acceptSOCKS: SOCKS5 command 2 is not CONNECT", Duration::from_secs(5));
    weir.wait_stderr("acceptSOCKS: SOCKS5 client requires authentication", Duration::from_secs(5));
    assert!(weir.stdout().is_empty(), "fn is never called for a malformed handshake");
}

#[test]
fn connect_socks_chained_to_accept_socks_of_another_listener() {
    let upstream = HttpServer::ok("hello from upstream\n");
    let (front, socks) = (free_port(), free_port());
    let script = format!(
        "{}\
         pipy.listen({front}, $=>$\n\
           .connectSOCKS(() => 'localhost:{up}').to($=>$.connect('127.0.0.1:{socks}'))\n\
         )\n",
        socks_server(socks),
        up = upstream.port
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{front}/");
    let (code, body, err) = curl(&[&url, &url, &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert_eq!(body, "hello from upstream\n".repeat(3));
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), [format!("- - localhost {}", upstream.port)]);

    // A refusal from the SOCKS server ends the client's stream.
    let script = format!(
        "{}pipy.listen({front}, $=>$.connectSOCKS('127.0.0.1:1').to($=>$.connect('127.0.0.1:{socks}')))\n",
        socks_server(socks)
    );
    drop(weir);
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let (code, _, _) = curl(&[&url]);
    assert_ne!(code, 0);
    weir.wait_stderr("connectSOCKS: SOCKS server refused the connection (reply 2)", Duration::from_secs(5));
}
