//! Nothing is kept per connection once it is gone: many short connections leave the proxy's
//! memory where it was.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use weir_tests::big::{MIB, rss};
use weir_tests::*;

/// An upstream answering every request on a keep-alive connection with a tiny body.
fn tiny_upstream() -> u16 {
    tcp_server(|s| {
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => {
                    if w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").is_err() {
                        return;
                    }
                }
                Ok(_) => {}
            }
        }
    })
}

/// `n` Connection: close requests, `parallel` at a time; returns how many got a 200.
fn short_connections(port: u16, n: usize, parallel: usize) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..parallel)
        .map(|_| {
            let (next, ok) = (next.clone(), ok.clone());
            std::thread::spawn(move || {
                let mut got = Vec::with_capacity(128);
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else { continue };
                    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    let _ = c.write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
                    got.clear();
                    let _ = c.read_to_end(&mut got);
                    if got.starts_with(b"HTTP/1.1 200") && got.ends_with(b"ok") {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    ok.load(Ordering::Relaxed)
}

#[test]
fn short_connections_through_demux_mux_leave_memory_flat() {
    let upstream = tiny_upstream();
    let port = free_port();
    let script =
        format!("pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{upstream}'))))\n");
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    // Warmed up: the allocator's arenas and every pool at their working size.
    let warm = 5_000;
    assert_eq!(short_connections(port, warm, 50), warm);
    let (before, _) = rss(weir.child.id());
    let t = Instant::now();
    let n = 200_000;
    let ok = short_connections(port, n, 50);
    let (after, _) = rss(weir.child.id());
    eprintln!("{ok} of {n} connections in {:?}: RSS {} -> {} KiB", t.elapsed(), before / 1024, after / 1024);
    assert!(ok >= n * 99 / 100, "only {ok} of {n} were answered");
    assert!(after < before + 8 * MIB, "RSS grew from {} to {} KiB over {n} connections", before / 1024, after / 1024);
}
