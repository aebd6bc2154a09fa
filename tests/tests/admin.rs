//! The admin port: `/metrics` with the script's `stats.*` metrics and the runtime's `pipy_*`
//! series under Pipy's names, summed over worker threads; `/ready` and `/api/v1/status`; bad
//! `--admin-port` values and a taken port stop the start with a clear error.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use weir_tests::*;

const SCRIPT: &str = r#"
var requests = new stats.Counter('demo_requests_total', ['path'])
var temperature = new stats.Gauge('demo_temperature', ['room'])
var sizes = new stats.Histogram('demo_size', [10, 100, Infinity])
temperature.withLabels('kitchen').set(21.5)
temperature.withLabels('cellar').set(12)
temperature.withLabels('cellar').decrease(2)
sizes.observe(5)
sizes.observe(50)
sizes.observe(5000)
pipy.listen(PORT, $=>$.serveHTTP(
  req => (requests.withLabels(req.head.path).increase(), new Message('ok\n'))
))
"#;

/// GET `path` on the admin port: (status line, body).
fn get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

/// A `connect` proxy to an echo server, with an admin port: (weir, upstream, port, admin).
fn start_connect() -> (Weir, u16, u16, u16) {
    let upstream = echo_server();
    let (port, admin) = (free_port(), free_port());
    let script = format!("pipy.listen({port}, $=>$.connect('127.0.0.1:{upstream}'))\n");
    let mut weir = Weir::start(&script, &[&format!("--admin-port={admin}")]);
    weir.wait_listening();
    (weir, upstream, port, admin)
}

fn start(threads: &str) -> (Weir, u16, u16) {
    let (port, admin) = (free_port(), free_port());
    let mut weir = Weir::start(
        &SCRIPT.replace("PORT", &port.to_string()),
        &[&format!("--admin-port=127.0.0.1:{admin}"), &format!("--threads={threads}")],
    );
    weir.wait_listening();
    (weir, port, admin)
}

#[test]
fn metrics_show_the_scripts_stats_summed_over_threads_and_the_runtime_series() {
    let (_weir, port, admin) = start("2");
    for i in 0..20 {
        let path = if i % 4 == 0 { "/b" } else { "/a" };
        let (code, body, err) = curl(&["-H", "connection: close", &format!("http://127.0.0.1:{port}{path}")]);
        assert_eq!((code, body.as_str()), (0, "ok\n"), "{err}");
    }
    assert_eq!(get(admin, "/metrics").0, "HTTP/1.1 200 OK");
    // The runtime's own series: no connection open once the last one's task has ended.
    let listen = format!("listen=\"[0.0.0.0]:{port}/TCP\"");
    let text = wait_for_metrics(admin, &format!("pipy_inbound_count{{{listen}}} 0"));
    let lines: Vec<&str> = text.lines().collect();
    let has = |l: &str| assert!(lines.contains(&l), "no line {l:?} in:\n{text}");
    has("# TYPE demo_requests_total counter");
    has("demo_requests_total{path=\"/a\"} 15");
    has("demo_requests_total{path=\"/b\"} 5");
    // Each of the two threads ran the script's top level: values set there count twice.
    has("# TYPE demo_temperature gauge");
    has("demo_temperature{room=\"kitchen\"} 43");
    has("demo_temperature{room=\"cellar\"} 20");
    has("# TYPE demo_size histogram");
    has("demo_size_bucket{le=\"10\"} 2");
    has("demo_size_bucket{le=\"100\"} 4");
    has("demo_size_bucket{le=\"Inf\"} 6");
    has("demo_size_count 6");
    has("demo_size_sum 10110");
    has("# TYPE pipy_inbound_count gauge");
    let value = |name: &str| -> f64 {
        let prefix = format!("{name}{{{listen}}} ");
        let line = lines.iter().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {prefix} in:\n{text}"));
        line[prefix.len()..].parse().unwrap()
    };
    // Every byte of the 20: each request is at least its request line, each response at
    // least its status line.
    assert!(value("pipy_inbound_in") >= 20.0 * 20.0, "{text}");
    assert!(value("pipy_inbound_out") >= 20.0 * 17.0, "{text}");
    has("# TYPE pipy_outbound_count gauge");
}

#[test]
fn outbound_series_name_the_peer() {
    let (_weir, upstream, port, admin) = start_connect();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"hello").unwrap();
    let mut b = [0u8; 5];
    s.read_exact(&mut b).unwrap();
    let (_, open) = get(admin, "/metrics");
    let peer = format!("{{protocol=\"TCP\",peer=\"127.0.0.1:{upstream}\"}}");
    assert!(open.contains(&format!("pipy_outbound_count{peer} 1")), "{open}");
    drop(s);
    let closed = wait_for_metrics(admin, &format!("pipy_outbound_count{peer} 0"));
    assert!(closed.contains(&format!("pipy_outbound_in{peer} 5")), "{closed}");
    assert!(closed.contains(&format!("pipy_outbound_out{peer} 5")), "{closed}");
}

/// `/metrics` once it has `line` (connections are counted as their tasks end).
fn wait_for_metrics(admin: u16, line: &str) -> String {
    let text = metrics_once(admin, |text| text.lines().any(|l| l == line));
    assert!(text.lines().any(|l| l == line), "no line {line:?} in:\n{text}");
    text
}

/// `/metrics` once `done` says yes of it, or the last one after 10 s.
fn metrics_once(admin: u16, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, text) = get(admin, "/metrics");
        if done(&text) || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ready_and_status_answer() {
    let (_weir, _, admin) = start("1");
    assert_eq!(get(admin, "/ready"), ("HTTP/1.1 200 OK".into(), "ready\n".into()));
    let (status, body) = get(admin, "/api/v1/status");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("\"version\":\"weir ") && body.contains("\"ready\":true"), "{body}");
    assert_eq!(get(admin, "/nothing").0, "HTTP/1.1 404 Not Found");
}

#[test]
fn a_bad_or_taken_admin_port_stops_the_start() {
    let mut weir = Weir::start("", &["--admin-port=lots"]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    assert!(weir.stderr().iter().any(|l| l.contains("invalid --admin-port value: lots")), "{:?}", weir.stderr());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut weir = Weir::start("", &[&format!("--admin-port=127.0.0.1:{port}")]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    let said = format!("cannot listen on the admin port 127.0.0.1:{port}");
    assert!(weir.stderr().iter().any(|l| l.contains(&said)), "{:?}", weir.stderr());
}

#[test]
fn outbound_conn_time_is_a_histogram_per_peer_in_pipys_buckets() {
    let (_weir, upstream, port, admin) = start_connect();
    for _ in 0..2 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"hi").unwrap();
        s.read_exact(&mut [0u8; 2]).unwrap();
    }
    let peer = format!("protocol=\"TCP\",peer=\"127.0.0.1:{upstream}\"");
    let text = wait_for_metrics(admin, &format!("pipy_outbound_conn_time_count{{{peer}}} 2"));
    assert!(text.contains("# TYPE pipy_outbound_conn_time histogram"), "{text}");
    assert!(text.contains("pipy_outbound_conn_time_count 2"), "{text}");
    // Pipy's bounds, in milliseconds: floor(1.5^k) for k = 1..20, then Inf.
    let bounds: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with(&format!("pipy_outbound_conn_time_bucket{{{peer},le=")))
        .map(|l| l.split("le=\"").nth(1).unwrap().split('"').next().unwrap().to_string())
        .collect();
    let pipys = "1 2 3 5 7 11 17 25 38 57 86 129 194 291 437 656 985 1477 2216 3325 Inf";
    assert_eq!(bounds.join(" "), pipys, "{text}");
    assert!(text.contains(&format!("pipy_outbound_conn_time_bucket{{{peer},le=\"Inf\"}} 2")), "{text}");
}

#[test]
fn peer_stats_count_inbound_connections_per_peer_address() {
    let (port, plain, admin) = (free_port(), free_port(), free_port());
    let script = format!(
        "pipy.listen('127.0.0.1:{port}', {{ peerStats: true }}, $=>$.serveHTTP(new Message('ok')))\n\
         pipy.listen('127.0.0.1:{plain}', $=>$.serveHTTP(new Message('ok')))\n"
    );
    let mut weir = Weir::start(&script, &[&format!("--admin-port={admin}")]);
    weir.wait_listening();
    let mut held = Vec::new();
    for (from, to) in [("127.0.0.2", port), ("127.0.0.3", port), ("127.0.0.3", port), ("127.0.0.2", plain)] {
        held.push(socket_from(from, to));
    }
    let listen = format!("listen=\"[127.0.0.1]:{port}/TCP\"");
    let other = format!("listen=\"[127.0.0.1]:{plain}/TCP\"");
    // The four connections are counted as each is served, in no set order: wait for both
    // listeners' last ones.
    wait_for_metrics(admin, &format!("pipy_inbound_count{{{other}}} 1"));
    let text = wait_for_metrics(admin, &format!("pipy_inbound_count{{{listen},peer=\"127.0.0.3\"}} 2"));
    assert!(text.contains(&format!("pipy_inbound_count{{{listen},peer=\"127.0.0.2\"}} 1")), "{text}");
    assert!(text.contains(&format!("pipy_inbound_count{{{listen}}} 3")), "{text}");
    assert!(text.contains(&format!("pipy_inbound_count{{{other}}} 1")), "{text}");
    assert!(!text.contains(&format!("{other},peer=")), "{text}");
    drop(held);
}

/// A connection to 127.0.0.1:`to` from the address `from`.
fn socket_from(from: &str, to: u16) -> std::net::TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    rt.block_on(async {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind(format!("{from}:0").parse().unwrap()).unwrap();
        s.connect(([127, 0, 0, 1], to).into()).await.unwrap().into_std().unwrap()
    })
}

/// The value of the sample `line_start` (name and labels) in `text`.
fn sample(text: &str, line_start: &str) -> Option<f64> {
    let prefix = format!("{line_start} ");
    text.lines().find(|l| l.starts_with(&prefix)).and_then(|l| l[prefix.len()..].parse().ok())
}

#[test]
fn bytes_of_open_connections_show_before_they_close() {
    let (_weir, upstream, port, admin) = start_connect();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut total = 0;
    let mut seen = Vec::new();
    for _ in 0..2 {
        s.write_all(&[7u8; 50_000]).unwrap();
        s.read_exact(&mut vec![0u8; 50_000]).unwrap();
        total += 50_000;
        let (_, text) = get(admin, "/metrics");
        let listen = format!("pipy_inbound_in{{listen=\"[0.0.0.0]:{port}/TCP\"}}");
        let peer = format!("{{protocol=\"TCP\",peer=\"127.0.0.1:{upstream}\"}}");
        for name in [listen.clone(), listen.replace("_in{", "_out{")] {
            assert_eq!(sample(&text, &name), Some(total as f64), "{name} in:\n{text}");
        }
        for name in ["pipy_outbound_in", "pipy_outbound_out"] {
            assert_eq!(sample(&text, &format!("{name}{peer}")), Some(total as f64), "{name} in:\n{text}");
        }
        seen.push(sample(&text, "pipy_inbound_out"));
    }
    assert_eq!(seen, [Some(50_000.0), Some(100_000.0)]);
    // Closing adds nothing twice.
    drop(s);
    let peer = format!("{{protocol=\"TCP\",peer=\"127.0.0.1:{upstream}\"}}");
    let text = wait_for_metrics(admin, &format!("pipy_outbound_count{peer} 0"));
    assert_eq!(sample(&text, &format!("pipy_outbound_in{peer}")), Some(100_000.0), "{text}");
    assert_eq!(sample(&text, "pipy_inbound_in"), Some(100_000.0), "{text}");
}

#[test]
fn a_gauge_callback_sets_its_values_at_each_collection_on_each_thread() {
    let admin = free_port();
    let script = "var n = 0\n\
        new stats.Gauge('demo_scrapes', ['kind'], g => (n++, g.set(n), g.withLabels('twice').set(2 * n)))\n\
        new stats.Gauge('demo_broken', [], g => { throw new Error('no') })\n\
        pipy.listen(PORT, $=>$.dummy())\n";
    let script = script.replace("PORT", &free_port().to_string());
    let mut weir = Weir::start(&script, &[&format!("--admin-port=127.0.0.1:{admin}"), "--threads=2"]);
    weir.wait_listening();
    // Both threads run the script once the port reads ready.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while get(admin, "/ready").0 != "HTTP/1.1 200 OK" && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, first) = get(admin, "/metrics");
    let (_, second) = get(admin, "/metrics");
    // Two threads, each called once per scrape: the values are summed.
    assert_eq!(sample(&first, "demo_scrapes"), Some(2.0), "{first}");
    assert_eq!(sample(&first, "demo_scrapes{kind=\"twice\"}"), Some(4.0), "{first}");
    assert_eq!(sample(&second, "demo_scrapes"), Some(4.0), "{second}");
    assert_eq!(sample(&second, "demo_scrapes{kind=\"twice\"}"), Some(8.0), "{second}");
    weir.wait_stderr("stats.Gauge callback", Duration::from_secs(5));
}

#[test]
fn pipeline_count_shows_the_pipelines_running_now_per_module_and_name() {
    let (_weir, port, admin) = start("1");
    let (_, idle) = get(admin, "/metrics");
    assert!(idle.lines().any(|l| l == "# TYPE pipy_pipeline_count gauge"), "{idle}");
    let listen = |text: &str| {
        let line = text.lines().find(|l| l.starts_with("pipy_pipeline_count{module=\"/main.js\",name=\"Listen on "));
        line.and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse::<f64>().ok())
    };
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let text = metrics_once(admin, |text| listen(text) == Some(3.0));
    assert_eq!(listen(&text), Some(3.0), "{text}");
    assert_eq!(sample(&text, "pipy_pipeline_count"), Some(3.0), "{text}");
    drop(held);
    let text = wait_for_metrics(admin, "pipy_pipeline_count 0");
    assert_eq!(listen(&text), Some(0.0), "{text}");
}

#[test]
fn udp_connect_counts_its_socket_bytes_and_conn_time() {
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let upstream = server.local_addr().unwrap().port();
    let (port, admin) = (free_port(), free_port());
    let script = format!("pipy.listen({port}, $=>$.connect('127.0.0.1:{upstream}', {{ protocol: 'udp' }}))\n");
    let mut weir = Weir::start(&script, &[&format!("--admin-port={admin}")]);
    weir.wait_listening();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"hello").unwrap();
    server.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (n, from) = server.recv_from(&mut [0u8; 64]).unwrap();
    assert_eq!(n, 5);
    server.send_to(b"hi!", from).unwrap();
    s.read_exact(&mut [0u8; 3]).unwrap();
    let peer = format!("protocol=\"UDP\",peer=\"127.0.0.1:{upstream}\"");
    let (_, text) = get(admin, "/metrics");
    assert_eq!(sample(&text, &format!("pipy_outbound_count{{{peer}}}")), Some(1.0), "{text}");
    assert_eq!(sample(&text, &format!("pipy_outbound_out{{{peer}}}")), Some(5.0), "{text}");
    assert_eq!(sample(&text, &format!("pipy_outbound_in{{{peer}}}")), Some(3.0), "{text}");
    assert_eq!(sample(&text, &format!("pipy_outbound_conn_time_count{{{peer}}}")), Some(1.0), "{text}");
}
