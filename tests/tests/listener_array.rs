//! Listeners a script opens and closes while it runs: a `ListenerArray` served by a legacy
//! `pipy().listen(array)` and changed with `add`, `remove` and `set`, and `pipy.listen` called
//! from a callback after the start (as Pipy's nat sample does once STUN answered); by the
//! built binary with curl.

use std::time::{Duration, Instant};

use weir_tests::*;

/// What curl gets from `port` ("" when refused), once it is `want` or after 10 s.
fn get_until(port: u16, path: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10) * slowdown();
    loop {
        let (_, body, _) = curl(&["-s", "--max-time", "5", &format!("http://127.0.0.1:{port}{path}")]);
        if body == want || Instant::now() > deadline {
            return body;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_listener_array_opens_and_closes_ports_as_the_script_changes_it() {
    let (a, b, c, ctrl) = (free_port(), free_port(), free_port(), free_port());
    let script = format!(
        "var la = new ListenerArray([{a}])\n\
         pipy()\n\
         .listen(la).serveHTTP(new Message('hi\\n'))\n\
         .listen({ctrl}).serveHTTP(req => {{\n\
         \x20 var p = req.head.path.split('/')\n\
         \x20 if (p[1] === 'add') la.add(Number(p[2]))\n\
         \x20 if (p[1] === 'remove') la.remove('127.0.0.1:' + p[2])\n\
         \x20 if (p[1] === 'remove-any') la.remove(Number(p[2]))\n\
         \x20 if (p[1] === 'set') la.set(p[2].split(',').map(Number))\n\
         \x20 return new Message('ok\\n')\n\
         }})\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    assert_eq!(get_until(a, "/", "hi\n"), "hi\n");
    assert_eq!(get_until(b, "/", ""), "", "not listed yet");

    assert_eq!(get_until(ctrl, &format!("/add/{b}"), "ok\n"), "ok\n");
    assert_eq!(get_until(b, "/", "hi\n"), "hi\n", "{:?}", weir.stderr());

    // Another address than the one listening: nothing closes.
    get_until(ctrl, &format!("/remove/{a}"), "ok\n");
    assert_eq!(get_until(a, "/", "hi\n"), "hi\n");
    get_until(ctrl, &format!("/remove-any/{a}"), "ok\n");
    assert_eq!(get_until(a, "/", ""), "", "{:?}", weir.stderr());
    assert_eq!(get_until(b, "/", "hi\n"), "hi\n");

    get_until(ctrl, &format!("/set/{c}"), "ok\n");
    assert_eq!(get_until(c, "/", "hi\n"), "hi\n");
    assert_eq!(get_until(b, "/", ""), "", "set() closes what it no longer lists");
    assert!(weir.stderr().iter().any(|l| l.contains(&format!("Stopped listening on TCP port {b}"))));
}

#[test]
fn pipy_listen_after_the_start_opens_a_listener() {
    let (first, late) = (free_port(), free_port());
    let script = format!(
        "pipy.listen({first}, $=>$.serveHTTP(new Message('first\\n')))\n\
         new Timeout(0.2).wait().then(() => pipy.listen({late}, $=>$.serveHTTP(new Message('late\\n'))))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    assert_eq!(get_until(late, "/", "late\n"), "late\n", "{:?}", weir.stderr());
    assert_eq!(get_until(first, "/", "first\n"), "first\n");
}
