//! Events held behind a pending promise: a `handle*` or `replace*` callback whose promise has
//! not settled holds everything after it, and a client streaming meanwhile must be paused in
//! its socket, not buffered by the proxy; every byte arrives once the promise resolves.

use std::time::{Duration, Instant};

use weir_tests::big::*;
use weir_tests::*;

/// The proxy's peak RSS must stay under this whatever the upload's size.
const PEAK_LIMIT: u64 = 64 * MIB;

/// Uploads 200 MiB through a request path with `filter` after the decoder, whose callback's
/// promise resolves 2 s after the request head.
fn upload_behind_a_promise(filter: &str) {
    let upstream = big_server();
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .decodeHTTPRequest().{filter}.encodeHTTPRequest()\n\
           .connect('127.0.0.1:{upstream}')\n\
           .decodeHTTPResponse().encodeHTTPResponse()\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let len = 200 * MIB;
    let t = Instant::now();
    let (status, got) = Client::connect(port).upload(len, 4, 0, 0).unwrap();
    let took = t.elapsed();
    assert_eq!(status, 200);
    assert_eq!(got, format!("{len} {}", pattern_digest(4, len)), "the upstream got something else");
    let (_, peak) = rss(weir.child.id());
    eprintln!("{filter}: {} MiB in {took:?}, proxy peak RSS {} MiB", len / MIB, peak / MIB);
    assert!(took >= Duration::from_secs(2), "the upload finished before the promise resolved");
    assert!(peak < PEAK_LIMIT, "{filter}: proxy peak RSS {} MiB behind a pending promise", peak / MIB);
}

#[test]
fn an_upload_behind_a_pending_handle_message_start_is_paused() {
    upload_behind_a_promise("handleMessageStart(() => new Timeout(2).wait())");
}

#[test]
fn an_upload_behind_a_pending_replace_message_start_is_paused() {
    upload_behind_a_promise("replaceMessageStart(evt => new Timeout(2).wait().then(evt))");
}
