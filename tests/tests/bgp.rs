//! `decodeBGP`/`encodeBGP` and the `BGP` namespace on messages written here, and a BGP speaker
//! in script answering a peer over TCP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use weir_tests::*;

/// Runs `script` in a folder holding `input` and returns weir's exit code, stdout, stderr.
fn run_on(script: &str, input: &[u8]) -> (i32, Vec<u8>, String) {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("main.js"), script).unwrap();
    std::fs::write(dir.0.join("input"), input).unwrap();
    let out = Command::new("timeout")
        .arg((10 * slowdown()).to_string())
        .arg(weir_bin())
        .arg("main.js")
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .expect("spawn weir");
    (out.status.code().unwrap_or(-1), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn bgp(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((payload.len() + 19) as u16).to_be_bytes());
    m.push(kind);
    m.extend_from_slice(payload);
    m
}

/// OPEN from AS 65000 with the 4-byte AS capability; an UPDATE announcing 10.1.2.0/24 via
/// 192.168.1.1 with AS_PATH [65000, 4200000000]; a KEEPALIVE; a NOTIFICATION (cease).
fn session() -> Vec<u8> {
    let open = [4, 0xfd, 0xe8, 0, 90, 10, 0, 0, 1, 8, 2, 6, 65, 4, 0, 0, 0xfd, 0xe8];
    let path = [2, 2, 0, 0, 0xfd, 0xe8, 0xfa, 0x56, 0xea, 0];
    let attrs = [&[0x40, 1, 1, 0, 0x40, 2, path.len() as u8][..], &path, &[0x40, 3, 4, 192, 168, 1, 1]].concat();
    let update = [&[0, 0][..], &(attrs.len() as u16).to_be_bytes(), &attrs, &[24, 10, 1, 2]].concat();
    [bgp(1, &open), bgp(2, &update), bgp(4, &[]), bgp(3, &[6, 2])].concat()
}

#[test]
fn bgp_messages_decode_and_encode_back_to_the_same_bytes() {
    let input = session();
    let script =
        "pipy.read('input', $=>$.decodeBGP({ enableAS4: true }).encodeBGP({ enableAS4: () => true }).tee('-'))";
    let (code, out, err) = run_on(script, &input);
    assert_eq!(code, 0, "{err}");
    assert!(out == input, "stdout differs from the input: {out:?}");
    let script = "var m = BGP.decode(os.read('input'), true)\n\
                  println(JSON.stringify(m[1]))\n\
                  println(m.map(m => m.type).join(), m[0].body.parameters[0].value[0].value.toArray().join())\n\
                  println(BGP.encode(m[0], true).toString('hex') === os.read('input').toString('hex').substring(0, 74))";
    let (code, out, err) = run_on(script, &input);
    assert_eq!(code, 0, "{err}");
    let update = r#"{"type":"UPDATE","body":{"withdrawnRoutes":null,"pathAttributes":[{"name":"ORIGIN","value":0,"code":1,"optional":false,"transitive":true,"partial":false},{"name":"AS_PATH","value":[[65000,4200000000]],"code":2,"optional":false,"transitive":true,"partial":false},{"name":"NEXT_HOP","value":"192.168.1.1","code":3,"optional":false,"transitive":true,"partial":false}],"destinations":["10.1.2.0/24"]}}"#;
    let want = format!("{update}\nOPEN,UPDATE,KEEPALIVE,NOTIFICATION 0,0,253,232\ntrue\n");
    assert_eq!(String::from_utf8_lossy(&out), want);
}

/// A BGP speaker in script: it answers an OPEN with its own OPEN and a KEEPALIVE, and a
/// malformed message ends the connection.
#[test]
fn bgp_speaker_answers_a_peers_open_over_tcp() {
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.decodeBGP({{ enableAS4: true }})\
           .replaceMessage(msg => msg.payload.type === 'OPEN' ? [\
             new Message(null, {{ type: 'OPEN', body: {{ myAS: 65001, holdTime: 30, identifier: '10.0.0.2' }} }}),\
             new Message(null, {{ type: 'KEEPALIVE' }}),\
           ] : [])\
           .encodeBGP())"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The OPEN cut in two writes.
    let open = &session()[..37];
    s.write_all(&open[..10]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(&open[10..]).unwrap();
    let want = [bgp(1, &[4, 0xfd, 0xe9, 0, 30, 10, 0, 0, 2, 0]), bgp(4, &[])].concat();
    let mut got = vec![0; want.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, want);
    // A length under the header's own: the stream ends.
    let mut bad = bgp(4, &[]);
    bad[17] = 5;
    s.write_all(&bad).unwrap();
    let mut rest = Vec::new();
    let n = s.read_to_end(&mut rest).unwrap_or(0);
    assert_eq!(n, 0, "nothing more after a malformed message");
    // The log line may reach the test's reader after the socket closed.
    weir.wait_stderr("decodeBGP", Duration::from_secs(5));
}
