//! `algo.HashingLoadBalancer`, `LeastWorkLoadBalancer`, `SharedMap` and `Percentile`, run by
//! the built binary, with real connections where the behaviour depends on them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use weir_tests::*;

/// Runs `script` to its end; returns its stdout lines.
fn output(script: &str) -> Vec<String> {
    let mut weir = Weir::start(script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "stderr:\n{}", weir.stderr().join("\n"));
    weir.stdout()
}

#[test]
fn hashing_keeps_a_key_on_its_target_and_percentile_interpolates() {
    let out = output(
        "var lb = new algo.HashingLoadBalancer(['a', 'b', 'c'])\n\
         var seen = {}\n\
         for (var i = 0; i < 300; i++) seen[lb.select('k' + i)] = true\n\
         var same = true\n\
         for (var i = 0; i < 300; i++) same = same && lb.select('k' + i) === lb.select('k' + i)\n\
         println(Object.keys(seen).sort().join(), same, lb.borrow({}, 'x').id === lb.select('x'))\n\
         lb.set([]); println(lb.select('x'))\n\
         lb.add('z'); println(lb.select('x'))\n\
         var p = new algo.Percentile([10, 20, 50, 100])\n\
         for (var i = 1; i <= 100; i++) p.observe(i)\n\
         println(p.calculate(15), p.calculate(50), p.calculate(99))\n\
         p.reset(); p.observe(5); println(p.calculate(100))\n",
    );
    assert_eq!(out, ["a,b,c true true", "undefined", "z", "15 50 99", "10"]);
}

/// Sends one HTTP request on `s` and reads its answer (a body up to its newline).
fn ask(s: &mut TcpStream) -> String {
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"\n") || !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    text.rsplit("\r\n\r\n").next().unwrap().trim().to_string()
}

#[test]
fn least_work_gives_a_connections_target_back_when_it_closes() {
    let port = free_port();
    let script = format!(
        "var lb = new algo.LeastWorkLoadBalancer(['a', 'b'])\n\
         pipy.listen({port}, $=>$.serveHTTP(() => new Message(lb.borrow().id + '\\n')))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let connect = || {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    let mut held = connect();
    assert_eq!(ask(&mut held), "a");
    assert_eq!(ask(&mut held), "a", "a connection keeps its target");
    // `a` has one connection's work: the others go to `b`, each closing before the next.
    for _ in 0..3 {
        let (code, body, err) = curl(&[&format!("http://127.0.0.1:{port}/")]);
        assert_eq!((code, body.as_str()), (0, "b\n"), "{err}");
    }
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let (_, body, _) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(body, "a\n", "the closed connection gave its work on a back");
}

#[test]
fn a_shared_map_is_the_same_map_on_every_worker() {
    let port = free_port();
    let script = format!(
        "var m = new algo.SharedMap('workers')\n\
         m.add('started', 1)\n\
         m.set('obj', {{ a: [1, 'x'] }})\n\
         pipy.listen({port}, $=>$.serveHTTP(() => new Message(\n\
         \x20 [m.get('started'), m.size, JSON.stringify(m.get('obj')), m.has('none'), m.sub('started', 0)].join(' ') + '\\n')))\n"
    );
    let mut weir = Weir::start(&script, &["--threads=2"]);
    weir.wait_listening();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body, err) = curl(&[&format!("http://127.0.0.1:{port}/")]);
        assert_eq!(code, 0, "{err}");
        if body == "2 2 {\"a\":[1,\"x\"]} false 2\n" {
            break;
        }
        assert!(Instant::now() < deadline, "both workers' adds never showed in one map: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
