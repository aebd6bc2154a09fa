//! `decodeWebSocket`/`encodeWebSocket` against a real WebSocket client (tests/scripts/ws_client.py,
//! RFC 6455 by hand over a socket): the echo server is the Weir script itself, answering the
//! handshake with `acceptHTTPTunnel` and echoing each message (a ping as a pong).

use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};
use weir_tests::*;

const ECHO: &str = "
var GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
pipy.listen(PORT, $=>$.demuxHTTP().to($=>$
  .acceptHTTPTunnel(req => {
    var hash = new crypto.Hash('sha1')
    hash.update(req.head.headers['sec-websocket-key'] + GUID)
    var headers = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': hash.digest('base64') }
    return new Message({ status: 101, headers })
  }).to($=>$
    .decodeWebSocket()
    .handleMessageStart(msg => println('opcode', msg.head.opcode, 'masked', msg.head.masked))
    .replaceMessage(msg => new Message({ opcode: msg.head.opcode === 9 ? 10 : msg.head.opcode }, msg.body))
    .encodeWebSocket()
  )
))
";

#[test]
fn websocket_client_gets_a_one_mib_fragmented_message_echoed_with_a_pong_and_a_close() {
    let port = free_port();
    let mut weir = Weir::start(&ECHO.replace("PORT", &port.to_string()), &[]);
    weir.wait_listening();
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let dir = TempDir::new();
    let file = dir.0.join("message");
    std::fs::write(&file, &data).unwrap();
    let client = workspace().join("tests/scripts/ws_client.py");
    let out = Command::new("python3").arg(client).arg(port.to_string()).arg(&file).output().expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "client failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let sha = |b: &[u8]| Sha256::digest(b).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let want = [
        "accept ok".to_string(),
        format!("message 2 {} {}", data.len(), sha(&data)),
        // The ping came between the fragments: its pong follows the message.
        format!("message 10 13 {}", sha(b"are you there")),
        format!("message 8 2 {}", sha(&1000u16.to_be_bytes())),
        "close".to_string(),
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), want, "stderr:\n{}", weir.stderr().join("\n"));
    let seen = weir.wait_stdout_lines(3, Duration::from_secs(5));
    assert_eq!(seen, ["opcode 2 masked true", "opcode 9 masked true", "opcode 8 masked true"]);
}

#[test]
fn a_frame_that_breaks_the_rules_ends_the_stream_with_a_protocol_error() {
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.decodeWebSocket()\
           .handleMessage(m => println('message', m.head.opcode, m.body.toString()))\
           .handleStreamEnd(e => println('end', e.error)))"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    use std::io::Write;
    // A text frame "ok", then a ping of 126 bytes (control frames are at most 125).
    s.write_all(&[0x81, 2, b'o', b'k', 0x89, 126, 0, 126]).unwrap();
    let seen = weir.wait_stdout_lines(2, Duration::from_secs(10));
    assert_eq!(seen, ["message 1 ok", "end ProtocolError"]);
}
