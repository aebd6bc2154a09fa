//! `decodeThrift`/`encodeThrift`: known messages of the binary protocol (strict and old) and
//! the compact protocol (written here, byte by byte from the Thrift specs) go through decode
//! and encode unchanged, malformed input ends the stream with a `ProtocolError`, and Apache
//! Thrift's own Python library talks to a Weir server in both protocols.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weir_tests::*;

/// Runs `script` as main.js beside a file `input`; weir must exit by itself once it is read.
fn run_on(script: &str, input: &[u8]) -> (i32, Vec<u8>, String) {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("main.js"), script).unwrap();
    std::fs::write(dir.0.join("input"), input).unwrap();
    let limit = (10 * slowdown()).to_string();
    let out = Command::new("timeout")
        .args(["-s", "KILL", &limit])
        .arg(weir_bin())
        .arg("main.js")
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .expect("run weir");
    (out.status.code().unwrap_or(-1), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A binary-protocol call `add(1: i32 5, 2: string "hi", 3: list<i16> [1, -2],
/// 4: map<string, i64> {"k": -3}, 5: struct { 1: bool true, 2: double 1.5 }, 6: uuid)`.
const BINARY: &[u8] = b"\x80\x01\x00\x01\x00\x00\x00\x03add\x00\x00\x00\x01\
\x08\x00\x01\x00\x00\x00\x05\
\x0b\x00\x02\x00\x00\x00\x02hi\
\x0f\x00\x03\x06\x00\x00\x00\x02\x00\x01\xff\xfe\
\x0d\x00\x04\x0b\x0a\x00\x00\x00\x01\x00\x00\x00\x01k\xff\xff\xff\xff\xff\xff\xff\xfd\
\x0c\x00\x05\x02\x00\x01\x01\x04\x00\x02\x3f\xf8\x00\x00\x00\x00\x00\x00\x00\
\x10\x00\x06\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\
\x00";

/// The old binary encoding: a oneway `ping` with a binary field that is not UTF-8.
const OLD: &[u8] = b"\x00\x00\x00\x04ping\x04\x00\x00\x00\x09\x0b\x00\x01\x00\x00\x00\x02\xff\x00\x00";

/// A compact-protocol reply `add(0: i32 -1, 1: bool true, 2: string "ok", 20: list<i32>
/// [1, 2, 3], 21: double 2.5, 22: i64 300000, 23: set<bool> of 16, 24: map {} )`, with a
/// seqID and a long form field id and a list size that take varints of several bytes.
fn compact() -> Vec<u8> {
    [
        &b"\x82\x41\xa0\x8d\x06\x03add"[..],
        b"\x05\x00\x01",
        b"\x11",
        b"\x18\x02ok",
        b"\x09\x28\x35\x02\x04\x06",
        b"\x17\x00\x00\x00\x00\x00\x00\x04\x40",
        b"\x16\xc0\xcf\x24",
        b"\x1a\xf2\x10",
        &[1u8, 0].repeat(8),
        b"\x1b\x00",
        b"\x00",
    ]
    .concat()
}

#[test]
fn thrift_decodes_and_encodes_known_messages_back_to_the_same_bytes() {
    let script = "pipy.read('input', $=>$.decodeThrift().encodeThrift().tee('-'))";
    let input = [BINARY, OLD, &compact()].concat();
    let (code, out, err) = run_on(script, &input);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, input, "{err}");
}

#[test]
fn thrift_messages_have_pipy_shapes() {
    let script = "pipy.read('input', $=>$.decodeThrift().handleMessageEnd(e => console.log('msg',\
                  JSON.stringify(e.payload, (k, v) => typeof v === 'bigint' ? `${v}n` : v))))";
    let (code, _, err) = run_on(script, &[BINARY, &compact()].concat());
    assert_eq!(code, 0, "{err}");
    let want = [
        r#"msg {"protocol":"binary","type":"call","seqID":1,"name":"add","fields":[{"id":1,"type":"I32","value":5},{"id":2,"type":"BINARY","value":"hi"},{"id":3,"type":"LIST","value":{"elementType":"I16","elements":[1,-2]}},{"id":4,"type":"MAP","value":{"keyType":"BINARY","valueType":"I64","pairs":[["k","-3n"]]}},{"id":5,"type":"STRUCT","value":[{"id":1,"type":"BOOL","value":true},{"id":2,"type":"DOUBLE","value":1.5}]},{"id":6,"type":"UUID","value":"00112233-4455-6677-8899-aabbccddeeff"}]}"#,
        r#"msg {"protocol":"compact","type":"reply","seqID":100000,"name":"add","fields":[{"id":0,"type":"I32","value":-1},{"id":1,"type":"BOOL","value":true},{"id":2,"type":"BINARY","value":"ok"},{"id":20,"type":"LIST","value":{"elementType":"I32","elements":[1,2,3]}},{"id":21,"type":"DOUBLE","value":2.5},{"id":22,"type":"I64","value":"300000n"},"#,
    ];
    for w in want {
        assert!(err.contains(w), "no {w} in:\n{err}");
    }
}

#[test]
fn thrift_ends_malformed_or_cut_input_with_a_protocol_error() {
    let script = "pipy.read('input', $=>$.decodeThrift()\
                  .handleMessageEnd(e => console.log('message', e.payload.name))\
                  .handleStreamEnd(e => console.log('end', e.error)))";
    // A whole message, then a strict header of version 2.
    let (code, _, err) = run_on(script, &[OLD, b"\x80\x02\x00\x01"].concat());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("message ping") && err.contains("end ProtocolError"), "{err}");
    // A field of type 1, which the binary protocol does not have.
    let (_, _, err) = run_on(script, b"\x80\x01\x00\x01\x00\x00\x00\x01x\x00\x00\x00\x01\x01\x00\x01\x00");
    assert!(err.contains("end ProtocolError") && !err.contains("message x"), "{err}");
    // A message cut short by the end of the stream.
    let (_, _, err) = run_on(script, &BINARY[..40]);
    assert!(err.contains("end ProtocolError") && !err.contains("message add"), "{err}");
}

/// Apache Thrift's Python library: calls `add(a, b)` three times on one connection and prints
/// each reply's name, type, seqID, field id and value.
const CLIENT: &str = r#"
import sys
from thrift.transport import TSocket, TTransport
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.Thrift import TType, TMessageType
port, kind = int(sys.argv[1]), sys.argv[2]
t = TTransport.TBufferedTransport(TSocket.TSocket('127.0.0.1', port))
p = (TBinaryProtocol.TBinaryProtocol if kind == 'binary' else TCompactProtocol.TCompactProtocol)(t)
t.open()
for seq, (a, b) in enumerate([(2, 3), (40, 2), (-7, 100000)], 1):
    p.writeMessageBegin('add', TMessageType.CALL, seq)
    p.writeStructBegin('args')
    for fid, v in ((1, a), (2, b)):
        p.writeFieldBegin('x', TType.I32, fid); p.writeI32(v); p.writeFieldEnd()
    p.writeFieldStop(); p.writeStructEnd(); p.writeMessageEnd(); t.flush()
    name, mtype, rseq = p.readMessageBegin()
    p.readStructBegin()
    _, ftype, fid = p.readFieldBegin(); v = p.readI32(); p.readFieldEnd()
    _, stop, _ = p.readFieldBegin()
    p.readStructEnd(); p.readMessageEnd()
    print(name, mtype, rseq, fid, v, stop == TType.STOP, flush=True)
t.close()
"#;

#[test]
fn apache_thrift_clients_call_a_weir_server_in_both_protocols() {
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$.decodeThrift()\
           .replaceMessageEnd(e => {{\
             const m = e.payload, a = m.fields[0].value, b = m.fields[1].value;\
             console.log('call', m.protocol, m.name, m.seqID, a, b);\
             return new MessageEnd(null, {{ protocol: m.protocol, type: 'reply', seqID: m.seqID,\
               name: m.name, fields: [{{ id: 0, type: 'I32', value: a + b }}] }});\
           }})\
           .encodeThrift())"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let dir = TempDir::new();
    std::fs::write(dir.0.join("client.py"), CLIENT).unwrap();
    for kind in ["binary", "compact"] {
        // Debian's python3-thrift is for the system Python.
        let out = Command::new("/usr/bin/python3")
            .arg(dir.0.join("client.py"))
            .args([&port.to_string(), kind])
            .output()
            .expect("python3 (apt-get install python3-thrift)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{kind}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout, "add 2 1 0 5 True\nadd 2 2 0 42 True\nadd 2 3 0 99993 True\n", "{kind}");
        weir.wait_stderr(&format!("call {kind} add 3 -7 100000"), Duration::from_secs(5));
    }
}

#[test]
fn thrift_decodes_a_big_message_arriving_in_pieces_in_linear_time() {
    // A list of a million I32s (4 MB) in the file's 16 KiB reads. Parsed again at each read,
    // the message cost the square of its size: two million took 312 s to decode in 16 KiB
    // pieces, and 1.4 s scanned a step at a time as the bytes come.
    let n: u32 = 1_000_000;
    let header = b"\x80\x01\x00\x01\x00\x00\x00\x01f\x00\x00\x00\x01\x0f\x00\x01\x08";
    let input = [&header[..], &n.to_be_bytes(), &7i32.to_be_bytes().repeat(n as usize), b"\x00"].concat();
    let started = Instant::now();
    let script = "pipy.read('input', $=>$.decodeThrift().encodeThrift().tee('-'))";
    let (code, out, err) = run_on(script, &input);
    assert_eq!(code, 0, "{err}");
    assert!(out == input, "{} bytes back for {}", out.len(), input.len());
    assert!(started.elapsed() < Duration::from_secs(5) * slowdown(), "took {:?}", started.elapsed());
}
