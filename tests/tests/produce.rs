//! `produce` of legacy configurations: a function asked until it gives a `StreamEnd`, at once
//! or through Promises, and what is no event ending the stream; by the built binary.

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
