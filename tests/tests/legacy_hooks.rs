//! The legacy configuration's `.exit()` (a pipeline run when the worker stops),
//! `.watch(file)` (a pipeline run when a file changes) and `link()` to a `Swap`, by the built
//! binary.

use std::time::Duration;

use weir_tests::*;

#[test]
fn an_exit_pipeline_runs_at_shutdown_beside_the_exit_callbacks() {
    let port = free_port();
    let script = format!(
        "pipy.exit(() => println('callback'))\n\
         pipy()\n\
         .listen({port}).serveHTTP(new Message('ok'))\n\
         .exit([new Data('bye'), new StreamEnd]).handleData(d => println('exit pipeline', d.toString()))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    assert!(weir.stdout().is_empty(), "the exit pipeline waits for the exit: {:?}", weir.stdout());
    weir.signal(libc::SIGTERM);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    let mut out = weir.stdout();
    out.sort();
    assert_eq!(out, ["callback", "exit pipeline bye"]);
}

#[test]
fn a_watch_pipeline_runs_each_time_the_file_changes() {
    let port = free_port();
    let script = format!(
        "var n = 0\n\
         pipy()\n\
         .listen({port}).serveHTTP(new Message('ok'))\n\
         .watch('w.txt').onStart([new Data('x'), new StreamEnd]).handleData(() => println('changed', ++n))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let file = weir.script.parent().unwrap().join("w.txt");
    std::fs::write(&file, "one").unwrap();
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), ["changed 1"]);
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(&file, "two, longer").unwrap();
    assert_eq!(weir.wait_stdout_lines(2, Duration::from_secs(5)), ["changed 1", "changed 2"]);
}

#[test]
fn link_to_a_swap_joins_two_connections() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let (a, b) = (free_port(), free_port());
    let script = format!("var s = new Swap()\npipy()\n.listen({a}).link(() => s)\n.listen({b}).link(() => s)\n");
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let connect = |port| {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    let (mut x, mut y) = (connect(a), connect(b));
    let mut buf = [0u8; 64];
    // Each joins when its first bytes arrive; what `x` sends before `y` joined is nobody's.
    y.write_all(b"y here").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    x.write_all(b"hello").unwrap();
    let n = y.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    y.write_all(b"world").unwrap();
    let n = x.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"world");
}
