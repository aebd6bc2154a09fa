//! `Upgrade: websocket` through `demuxHTTP`/`muxHTTP`: after the `101` the connection
//! carries raw bytes both ways, half-close included.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use sha2::{Digest, Sha256};
use weir_tests::*;

/// Answers an upgrade request with `101` and then echoes raw bytes; EOF is echoed as a
/// half-close.
fn upgrade_echo_server() -> u16 {
    tcp_server(|s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut w = s;
        if !head.to_ascii_lowercase().contains("upgrade: websocket") {
            let _ = w.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
            return;
        }
        w.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").unwrap();
        let _ = std::io::copy(&mut r, &mut w);
        let _ = w.shutdown(Shutdown::Write);
    })
}

#[test]
fn websocket_upgrade_echo_through_demux_and_mux_http() {
    let up = upgrade_echo_server();
    let port = free_port();
    let script =
        format!("pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{up}'))))\n");
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let sent = Sha256::digest(&data);
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        w.write_all(&data).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).expect("the echo ends after the half-close");
    writer.join().unwrap();
    assert_eq!(back.len(), 1 << 20);
    assert_eq!(Sha256::digest(&back), sent, "the bytes come back unchanged");
}

#[test]
fn a_refused_upgrade_leaves_the_connection_serving_requests() {
    let up = upgrade_echo_server();
    let port = free_port();
    let script =
        format!("pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{up}'))))\n");
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Pipelined behind an upgrade the upstream refuses: read once the refusal is known.
    // Not h2c, which demuxHTTP takes up itself.
    s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n").unwrap();
    let expect = "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n".repeat(2);
    let mut got = vec![0; expect.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), expect);
}
