//! Memory bounds where a client's bytes wait for something else: weir's peak RSS (VmHWM)
//! stays under [`PEAK_LIMIT`](weir_tests::bulk::PEAK_LIMIT).
//! - a 200 MiB POST (not a CONNECT) to `acceptHTTPTunnel`, whose handler gets whole
//!   requests: the body is held only up to `bufferLimit`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use weir_tests::big::{MIB, read_head};
use weir_tests::bulk::{assert_peak, connect};
use weir_tests::*;

/// Writes a POST of `len` bytes to `s` as fast as it goes; how many body bytes went out
/// before the peer stopped taking them.
fn post(s: &mut TcpStream, len: u64) -> u64 {
    if write!(s, "POST http://x/ HTTP/1.1\r\nhost: x\r\ncontent-length: {len}\r\n\r\n").is_err() {
        return 0;
    }
    let block = vec![b'x'; 256 * 1024];
    let mut sent = 0;
    while sent < len {
        let n = block.len().min((len - sent) as usize);
        if s.write_all(&block[..n]).is_err() {
            break;
        }
        sent += n as u64;
    }
    sent
}

#[test]
fn a_big_request_to_accept_http_tunnel_is_held_only_up_to_the_buffer_limit() {
    let (up, port) = (echo_server(), free_port());
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .acceptHTTPTunnel(req => new Message({{ status: 405 }}, `${{req.body?.size}}\\n`), {{ bufferLimit: '1m' }})\n\
           .to($=>$.connect('127.0.0.1:{up}')))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    // Up to the limit, the handler gets the whole body.
    let mut s = connect(port);
    post(&mut s, MIB);
    let mut r = std::io::BufReader::new(s);
    let head = read_head(&mut r).unwrap().expect("an answer");
    let mut body = String::new();
    r.take(head.length().unwrap()).read_to_string(&mut body).unwrap();
    assert_eq!((head.status(), body.as_str()), (405, "1048576\n"));
    let started = Instant::now();
    let len = 200 * MIB;
    let mut s = connect(port);
    let sent = post(&mut s, len);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    eprintln!("{sent} body bytes taken; answer: {:?}", String::from_utf8_lossy(&answer));
    assert!(sent < len && answer.is_empty(), "the connection is closed, unanswered");
    assert_peak(&weir, "a 200 MiB POST to acceptHTTPTunnel", started);
    weir.wait_stderr("over the limit of 1048576 bytes (bufferLimit)", Duration::from_secs(5));
}
