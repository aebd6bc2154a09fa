//! Rate limits measured over a few seconds with real clients: `throttleDataRate` and
//! `throttleMessageRate` with `algo.Quota`, and the back-pressure a throttle puts on a fast
//! upstream.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use weir_tests::*;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Reads from `s` until `n` bytes came or the stream ended; returns the count and when the
/// first and the last byte arrived.
fn read_timed(s: &mut TcpStream, n: usize) -> (usize, Instant, Instant) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    let mut first = None;
    let mut last = Instant::now();
    while got < n {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                got += k;
                last = Instant::now();
                first.get_or_insert(last);
            }
        }
    }
    (got, first.unwrap_or(last), last)
}

#[test]
fn data_rate_limit_holds_a_download_to_the_quota() {
    // The upstream writes 600 000 bytes at once; the quota lets 100 000 through per second,
    // the first 100 000 at once: the rest takes five refills.
    let upstream = tcp_server(|mut s| {
        // Read what the client said first: closing with it unread would be a reset.
        let _ = s.read_exact(&mut [0u8; 2]);
        let _ = s.write_all(&vec![b'x'; 600_000]);
    });
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .connect('127.0.0.1:{upstream}')\n\
           .throttleDataRate(() => new algo.Quota(100000, {{ per: '1s' }}))\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"go").unwrap();
    let (got, first, last) = read_timed(&mut c, 600_000);
    assert_eq!(got, 600_000);
    let secs = (last - first).as_secs_f64();
    let rate = 500_000.0 / secs;
    eprintln!("throttleDataRate: 600000 bytes in {secs:.2} s after the first burst: {rate:.0} B/s");
    assert!((85_000.0..=115_000.0).contains(&rate), "rate {rate:.0} B/s over {secs:.2} s");
}

#[test]
fn data_rate_limit_on_an_upload_measured_by_the_upstream() {
    // curl uploads 300 000 bytes; the upstream counts what arrives and when.
    let arrived = Arc::new(std::sync::Mutex::new(Vec::<(Instant, usize)>::new()));
    let log = arrived.clone();
    let upstream = tcp_server(move |mut s| {
        // The request is its head and a 300 000-byte body.
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            log.lock().unwrap().push((Instant::now(), n));
            seen.extend_from_slice(&buf[..n]);
            let head = seen.windows(4).position(|w| w == b"\r\n\r\n");
            if head.is_some_and(|h| seen.len() >= h + 4 + 300_000) {
                break;
            }
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n");
    });
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .throttleDataRate(() => new algo.Quota(50000, {{ per: '1s' }}))\n\
           .connect('127.0.0.1:{upstream}')\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let body = std::env::temp_dir().join(format!("weir-throttle-{port}"));
    std::fs::write(&body, vec![b'u'; 300_000]).unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let (code, out, err) = curl(&["-T", body.to_str().unwrap(), "-H", "expect:", &url]);
    std::fs::remove_file(&body).ok();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "ok\n");
    let arrived = arrived.lock().unwrap();
    let total: usize = arrived.iter().map(|(_, n)| n).sum();
    assert!(total > 300_000, "upstream got {total} bytes");
    // Bytes come in bursts, one per refill: every burst but the last is a full quota, so
    // the rate is what came before the last burst over the time it took to start.
    let mut bursts: Vec<(Instant, usize)> = Vec::new();
    let mut prev: Option<Instant> = None;
    for &(at, n) in arrived.iter() {
        match (bursts.last_mut(), prev) {
            (Some((_, sum)), Some(p)) if at - p < Duration::from_millis(300) => *sum += n,
            _ => bursts.push((at, n)),
        }
        prev = Some(at);
    }
    let (last_at, _) = *bursts.last().unwrap();
    let secs = (last_at - bursts[0].0).as_secs_f64();
    let before_last: usize = bursts[..bursts.len() - 1].iter().map(|(_, n)| n).sum();
    let rate = before_last as f64 / secs;
    eprintln!("throttleDataRate upload: {total} bytes in {} bursts over {secs:.2} s: {rate:.0} B/s", bursts.len());
    assert!((42_500.0..=57_500.0).contains(&rate), "rate {rate:.0} B/s over {secs:.2} s");
}

#[test]
fn a_throttled_download_pauses_a_fast_upstream_instead_of_buffering_it() {
    // 64 MiB offered as fast as the socket takes it, let through at 200 KB/s: weir must
    // stop reading the upstream rather than hold the difference in memory.
    let written = Arc::new(AtomicUsize::new(0));
    let count = written.clone();
    let upstream = tcp_server(move |mut s| {
        let _ = s.read_exact(&mut [0u8; 2]);
        let chunk = vec![b'y'; 64 * 1024];
        for _ in 0..1024 {
            if s.write_all(&chunk).is_err() {
                return;
            }
            count.fetch_add(chunk.len(), Ordering::Relaxed);
        }
    });
    let port = free_port();
    let script = format!(
        "pipy.listen({port}, $=>$\n\
           .connect('127.0.0.1:{upstream}')\n\
           .throttleDataRate(() => new algo.Quota(200000, {{ per: '1s' }}))\n\
         )\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let before = rss_kib(weir.child.id());
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"go").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let mut got = 0;
    let mut buf = vec![0u8; 65536];
    while start.elapsed() < Duration::from_secs(3) {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let grown = rss_kib(weir.child.id()).saturating_sub(before);
    let offered = written.load(Ordering::Relaxed);
    eprintln!("read {got} bytes in 3 s; upstream wrote {offered}; weir grew {grown} KiB");
    assert!(got <= 1_000_000, "the throttle let {got} bytes through in 3 s");
    // Kernel socket buffers take some megabytes; the rest of the 64 MiB must stay unsent.
    assert!(offered < 24 << 20, "upstream could write {offered} bytes");
    assert!(grown < 16 * 1024, "weir grew by {grown} KiB");
}

#[test]
fn message_rate_limit_lets_ten_requests_a_second_through() {
    // One quota for all connections: 10 requests at once, then 10 per second.
    let port = free_port();
    let script = format!(
        "((q = new algo.Quota(10, {{ per: '1s' }})) =>\n\
         pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
           .throttleMessageRate(q)\n\
           .replaceMessage(() => new Message(`${{q.current}}\\n`))\n\
         )))()\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{port}/");
    // Two clients of 25 keep-alive requests each.
    let t0 = Instant::now();
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let urls = vec![url.as_str(); 25];
                let (code, out, err) = curl(&urls);
                assert_eq!(code, 0, "{err}");
                (out.lines().count(), Instant::now())
            })
        })
        .collect();
    let mut done = Vec::new();
    for c in clients {
        let (n, at) = c.join().unwrap();
        assert_eq!(n, 25);
        done.push(at);
    }
    let secs = (done.iter().max().unwrap().duration_since(t0)).as_secs_f64();
    // 50 requests: 10 at once, then 40 over four refills.
    let rate = 40.0 / secs;
    eprintln!("throttleMessageRate: 50 requests in {secs:.2} s: {rate:.1} requests/s after the burst");
    assert!((8.5..=11.5).contains(&rate), "rate {rate:.1}/s over {secs:.2} s");
}

#[test]
fn quota_counts_tokens_as_pipy_does() {
    let script = "var q = new algo.Quota(10, { per: '0.2s', max: 12 })\n\
                  println(q.initial, q.current, q.consume(4), q.current, q.consume(100), q.current)\n\
                  q.produce(20)\n\
                  println(q.current)\n\
                  q.consume(12); q.reset()\n\
                  println(q.current)\n\
                  q.consume(10)\n\
                  new Timeout(0.5).wait().then(() => println(q.current))\n";
    let weir = Weir::start(script, &[]);
    let lines = weir.wait_stdout_lines(4, Duration::from_secs(5));
    assert_eq!(lines, ["10 10 4 6 6 0", "12", "10", "10"]);
}

#[test]
fn weighted_balancing_over_throttled_ports_answers_with_each_local_port() {
    // Pipy's test/mux/003 in our own words: three ports behind one weighted balancer, each
    // port with its own per-connection message quota, answering with `__inbound.localPort`.
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let (front, a, b, c) = (ports[0], ports[1], ports[2], ports[3]);
    let script = format!(
        "((lb = new algo.RoundRobinLoadBalancer({{ 'localhost:{a}': 2, 'localhost:{b}': 1, 'localhost:{c}': 1 }})) =>\n\
         pipy({{ _quota: null, _target: null }})\n\
         .listen({a}).onStart(() => void(_quota = new algo.Quota(1, {{ per: '0.1s' }}))).link('service')\n\
         .listen({b}).onStart(() => void(_quota = new algo.Quota(2, {{ per: '0.5s' }}))).link('service')\n\
         .listen({c}).onStart(() => void(_quota = new algo.Quota(1, {{ per: '0.2s' }}))).link('service')\n\
         .listen({front})\n\
         .demuxHTTP().to($=>$\n\
           .handleMessageStart(() => _target = lb.next({{}}))\n\
           .muxHTTP(() => _target).to($=>$.connect(() => _target.id))\n\
         )\n\
         .pipeline('service')\n\
         .demuxHTTP().to($=>$\n\
           .throttleMessageRate(() => _quota)\n\
           .replaceMessage(() => new Message(__inbound.localPort + '\\n'))\n\
         )\n\
        )()\n"
    );
    let mut weir = Weir::start(&script, &[]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{front}/");
    let urls = vec![url.as_str(); 12];
    let (code, out, err) = curl(&urls);
    assert_eq!(code, 0, "{err}");
    let order: Vec<&str> = out.lines().collect();
    // Smooth weighted round robin with a new borrower each time: a, b, c, a, ...
    let expected: Vec<String> = [a, b, c, a].iter().cycle().take(12).map(|p| p.to_string()).collect();
    assert_eq!(order, expected);
}

#[test]
fn quotas_with_one_key_share_their_tokens_across_workers() {
    // Every worker runs the script: two threads take 4 tokens each from the one keyed bucket.
    let script = "var q = new algo.Quota(10, { key: 'shared' })\n\
                  var same = new algo.Quota(10, { key: 'shared' })\n\
                  q.consume(4)\n\
                  new Timeout(0.5).wait().then(() => println(q.current, same.current))\n";
    let weir = Weir::start(script, &["--threads=2"]);
    let lines = weir.wait_stdout_lines(2, Duration::from_secs(5));
    assert_eq!(lines, ["2 2", "2 2"]);
}
