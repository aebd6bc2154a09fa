//! `produce` and `depositMessage` of legacy configurations: a function asked until it gives a
//! `StreamEnd`, at once or through Promises, and a body passed on through a file; by the
//! built binary.

use std::time::Duration;

use weir_tests::*;

#[test]
fn produce_asks_its_function_until_the_stream_ends() {
    let script = "var n = 0\n\
         pipy()\n\
         .task(null, new Data).produce(() => n < 3 ? new Data('p' + (n++) + '\\n') : new StreamEnd).print()\n\
         .task(null, new Data).produce(() => new Promise(r => new Timeout(0.05).wait().then(\n\
         \x20 () => r(n < 6 ? new Data('q' + (n++) + '\\n') : new StreamEnd)))).print()\n\
         .task(null, new Data).produce(() => 42)\n";
    let mut weir = Weir::start(script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["p0", "p1", "p2", "q3", "q4", "q5"]);
    assert!(weir.stderr().iter().any(|l| l.contains("produce: production is not an event")), "{:?}", weir.stderr());
}

#[test]
fn deposit_message_passes_a_body_through_a_file() {
    let dir = TempDir::new();
    let (kept, gone) = (dir.0.join("kept"), dir.0.join("gone"));
    let port = free_port();
    let script = format!(
        "pipy()\n\
         .listen({port})\n\
         .demuxHTTP().to($=>$\n\
         \x20 .depositMessage(() => __inbound ? '{kept}' : '', {{ threshold: 1000, keep: true }})\n\
         \x20 .depositMessage('{gone}')\n\
         \x20 .replaceMessage(msg => new Message(msg.body.size + ' ' + msg.body.toString().slice(-10) + '\\n'))\n\
         )\n",
        kept = kept.display(),
        gone = gone.display()
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let body: String = (0..20000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let (code, out, err) = curl(&["-s", "--data-binary", &body, &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("20000 {}\n", &body[body.len() - 10..]), "{:?}", weir.stderr());
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), body, "the kept file holds the whole body");
    assert!(!gone.exists(), "a file not kept is removed");
}
