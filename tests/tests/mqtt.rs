//! `decodeMQTT`/`encodeMQTT`: known packets of MQTT 3.1.1 and 5.0 (written here, byte by byte
//! from the standard) go through decode and encode unchanged, malformed input ends the stream
//! with a `ProtocolError`, and real mosquitto clients talk to a real mosquitto broker through a
//! Weir proxy that decodes, logs and re-encodes both directions.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
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

/// One packet: the first byte, the remaining length as a variable byte integer, the rest.
fn packet(first: u8, rest: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut n = rest.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        out.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(rest);
    out
}

/// A string or binary field: its two-byte length, then its bytes.
fn s(text: &str) -> Vec<u8> {
    [&(text.len() as u16).to_be_bytes()[..], text.as_bytes()].concat()
}

/// A session of MQTT 5.0: properties of each kind (a user property too), a will with its own
/// properties, every packet type, a payload bigger than 127 bytes (two-byte length).
fn session_v5() -> Vec<u8> {
    let connect = [
        &s("MQTT")[..],
        &[5, 0xee, 0, 60],
        &[8, 0x11, 0, 0, 0, 120, 0x21, 0, 20],
        &s("weir-1"),
        &[5, 0x18, 0, 0, 0, 5],
        &s("w/t"),
        &s("bye"),
        &s("user"),
        &s("pw"),
    ]
    .concat();
    let props = [&[0x03][..], &s("text/plain"), &[0x26], &s("k"), &s("v")].concat();
    let publish = [&s("a/b")[..], &[0, 7, props.len() as u8], &props, &[b'x'; 200]].concat();
    [
        packet(0x10, &connect),
        packet(0x20, &[0, 0, 3, 0x22, 0, 10]),
        packet(0x82, &[&[0, 8, 0][..], &s("a/#"), &[1]].concat()),
        packet(0x90, &[0, 8, 0, 1]),
        packet(0x3b, &publish),
        packet(0x40, &[0, 7, 0, 0]),
        packet(0x30, &[&s("x")[..], &[0]].concat()),
        packet(0xa2, &[&[0, 9, 0][..], &s("a/#"), &s("b")].concat()),
        packet(0xb0, &[0, 9, 0, 0, 17]),
        packet(0xc0, &[]),
        packet(0xd0, &[]),
        packet(0xe0, &[0, 0]),
    ]
    .concat()
}

/// A session of MQTT 3.1.1: no properties anywhere, a CONNACK of two bytes.
fn session_v311() -> Vec<u8> {
    [
        packet(0x10, &[&s("MQTT")[..], &[4, 0xc2, 0, 60], &s("c1"), &s("u"), &s("p")].concat()),
        packet(0x20, &[1, 0]),
        packet(0x32, &[&s("t")[..], &[0, 1], b"hi"].concat()),
        packet(0x40, &[0, 1]),
        packet(0x62, &[0, 1]),
        packet(0x82, &[&[0, 2][..], &s("t/+"), &[2]].concat()),
        packet(0x90, &[0, 2, 2]),
        packet(0xe0, &[]),
    ]
    .concat()
}

#[test]
fn mqtt_decodes_and_encodes_known_packets_back_to_the_same_bytes() {
    let script = "pipy.read('input', $=>$.decodeMQTT().encodeMQTT().tee('-'))";
    for input in [session_v5(), session_v311()] {
        let (code, out, err) = run_on(script, &input);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, input, "{err}");
    }
}

#[test]
fn mqtt_messages_have_pipy_heads_and_payloads() {
    let script = "pipy.read('input', $=>$.decodeMQTT()\
        .handleMessageStart(e => console.log('head', JSON.stringify(e.head)))\
        .handleMessageEnd(e => e.payload && console.log('payload', JSON.stringify(e.payload))))";
    let (code, _, err) = run_on(script, &session_v5());
    assert_eq!(code, 0, "{err}");
    let want = [
        r#"head {"type":"PUBLISH","dup":true,"retain":true,"sessionPresent":false,"qos":1,"packetIdentifier":7,"protocolLevel":5,"keepAlive":0,"reasonCode":0,"topicName":"a/b","properties":{"contentType":"text/plain","k":"v"}}"#,
        r#"head {"type":"CONNACK","dup":false,"retain":false,"sessionPresent":false,"qos":0,"packetIdentifier":0,"protocolLevel":5,"keepAlive":0,"reasonCode":0,"properties":{"topicAliasMaximum":10}}"#,
        r#"payload {"topicFilters":[{"filter":"a/#","qos":1}]}"#,
        r#"payload ["a/#","b"]"#,
        r#"payload [0,17]"#,
        r#""clientID":"weir-1","username":"user""#,
        r#""will":{"qos":1,"retain":true,"properties":{"willDelayInterval":5},"topic":"w/t""#,
    ];
    for w in want {
        assert!(err.contains(w), "no {w} in:\n{err}");
    }
}

#[test]
fn mqtt_ends_malformed_or_cut_input_with_a_protocol_error() {
    let script = "pipy.read('input', $=>$.decodeMQTT()\
                  .handleMessageStart(e => console.log('packet', e.head.type))\
                  .handleStreamEnd(e => console.log('end', e.error)))";
    // A PINGREQ, then a packet of type 0, which MQTT reserves.
    let (code, _, err) = run_on(script, &[0xc0, 0, 0x00, 0]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("packet PINGREQ") && err.contains("end ProtocolError"), "{err}");
    // A CONNECT whose protocol name is not MQTT.
    let (_, _, err) = run_on(script, &packet(0x10, &[&s("MQXX")[..], &[4, 2, 0, 60], &s("c")].concat()));
    assert!(err.contains("end ProtocolError") && !err.contains("packet CONNECT"), "{err}");
    // A PUBLISH cut short by the end of the stream.
    let (_, _, err) = run_on(script, &packet(0x30, &[&s("topic")[..], b"payload"].concat())[..9]);
    assert!(err.contains("end ProtocolError") && !err.contains("packet PUBLISH"), "{err}");
}

/// The broker process, and the folder of its configuration (removed after it).
struct Broker {
    child: Child,
    _config: TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mosquitto broker of our own on a port the kernel gave, anonymous, on loopback.
fn broker() -> (Broker, u16) {
    let port = free_port();
    let dir = TempDir::new();
    let conf = dir.0.join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")).unwrap();
    let child = Command::new("mosquitto").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    let b = Broker { child: child.expect("mosquitto (apt-get install mosquitto)"), _config: dir };
    let deadline = Instant::now() + Duration::from_secs(10) * slowdown();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    (b, port)
}

/// `mosquitto_sub` and `mosquitto_pub` of one protocol version through the proxy: the message
/// comes out at the subscriber, and the proxy logged every packet of both directions.
fn pub_sub_through_proxy(version: &str, level: u8) {
    let (_broker, bport) = broker();
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$\
           .decodeMQTT()\
           .handleMessageStart(e => console.log('c2s', e.head.type, e.head.protocolLevel))\
           .encodeMQTT()\
           .connect('127.0.0.1:{bport}')\
           .decodeMQTT()\
           .handleMessageStart(e => console.log('s2c', e.head.type, e.head.protocolLevel))\
           .encodeMQTT())"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let p = port.to_string();
    let common = ["-h", "127.0.0.1", "-p", &p, "-V", version, "-t", "weir/test", "-q", "1"];
    let mut sub = Command::new("mosquitto_sub")
        .args(common)
        .args(["-C", "1", "-W", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub (apt-get install mosquitto-clients)");
    weir.wait_stderr("s2c SUBACK", Duration::from_secs(10));
    let body = "hello through weir ".repeat(20);
    let status = Command::new("mosquitto_pub").args(common).args(["-m", &body]).status().unwrap();
    assert!(status.success());
    let mut line = String::new();
    BufReader::new(sub.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim_end(), body.trim_end());
    assert!(sub.wait().unwrap().success());
    for seen in ["CONNECT", "SUBSCRIBE", "PUBLISH", "DISCONNECT"] {
        weir.wait_stderr(&format!("c2s {seen} {level}"), Duration::from_secs(5));
    }
    for seen in ["CONNACK", "SUBACK", "PUBLISH", "PUBACK"] {
        weir.wait_stderr(&format!("s2c {seen} {level}"), Duration::from_secs(5));
    }
}

#[test]
fn mosquitto_clients_publish_and_subscribe_through_an_mqtt_311_proxy() {
    pub_sub_through_proxy("mqttv311", 4);
}

#[test]
fn mosquitto_clients_publish_and_subscribe_through_an_mqtt_5_proxy() {
    pub_sub_through_proxy("mqttv5", 5);
}
