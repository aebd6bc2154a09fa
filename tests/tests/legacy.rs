//! Legacy `pipy()` configurations end to end: the built `weir` binary on scripts of our own,
//! driven by curl and raw TCP clients against real local servers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use weir_tests::*;

/// Three upstreams that answer with their own name.
fn named_servers() -> Vec<(u16, &'static str)> {
    ["alpha", "beta", "gamma"]
        .into_iter()
        .map(|name| (HttpServer::start(move |_, _| ("200 OK".into(), vec![], format!("{name}\n"))).port, name))
        .collect()
}

fn start(script: &str) -> Weir {
    let mut weir = Weir::start(script, &[]);
    weir.wait_listening();
    weir
}

#[test]
fn round_robin_balancer_takes_targets_in_order_and_sticks_to_a_connection() {
    let servers = named_servers();
    let port = free_port();
    let targets: Vec<String> = servers.iter().map(|(p, _)| format!("'127.0.0.1:{p}'")).collect();
    let script = format!(
        "((lb = new algo.RoundRobinLoadBalancer([{}])) =>\n\
         pipy({{ _upstream: null }})\n\
         .listen({port})\n\
         .demuxHTTP().to($=>$\n\
           .branchMessageStart(\n\
             () => (_upstream = lb.next()), $=>$.muxHTTP(() => _upstream).to($=>$.connect(() => _upstream.id)),\n\
             $=>$.replaceMessage(new Message({{ status: 503 }}, 'none\\n'))\n\
           )\n\
         )\n\
        )()\n",
        targets.join(", ")
    );
    let _weir = start(&script);
    let url = format!("http://127.0.0.1:{port}/");

    // One connection per curl: each new connection takes the next target.
    let mut seen = Vec::new();
    for _ in 0..5 {
        let (code, body, err) = curl(&[&url]);
        assert_eq!(code, 0, "{err}");
        seen.push(body.trim().to_string());
    }
    assert_eq!(seen, ["alpha", "beta", "gamma", "alpha", "beta"]);

    // Several requests on one keep-alive connection all go to that connection's target.
    let (code, body, err) = curl(&[&url, &url, &url, &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(body, "gamma\n".repeat(4));

    // The round continues where it was for the next connection.
    let (_, body, _) = curl(&[&url]);
    assert_eq!(body, "alpha\n");
}

#[test]
fn weighted_round_robin_is_smooth() {
    let script = "var lb = new algo.RoundRobinLoadBalancer({ a: 2, b: 1, c: 0 })\n\
                  println([1,2,3,4,5,6].map(() => lb.select()).join(','))\n";
    let mut weir = Weir::start(script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["a,b,a,a,b,a"]);
}

#[test]
fn url_router_matches_hosts_exact_paths_and_prefixes() {
    let script = r#"var r = new algo.URLRouter({
          '/hi/*': 'hi', '/echo': 'echo', '/*': 'any',
          'example.com/api/*': 'api', '*.example.com/*': 'sub'
        })
        println([
          r.find('/hi'), r.find('/hi/there?x=1'), r.find('/echo'), r.find('/echo/x'),
          r.find('example.com:8080', '/api/v1'), r.find('example.com', '/other'),
          r.find('www.example.com', '/'), r.find('a.b.example.com', '/'),
        ].join(' '))
        try { r.add('host:80/x', 1) } catch (e) { println('rejected') }
    "#;
    let mut weir = Weir::start(script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["hi hi echo any api any sub any", "rejected"]);
}

#[test]
fn routing_by_path_with_a_404_fallback() {
    let (api, _) = named_servers()[0];
    let port = free_port();
    let script = format!(
        "((router = new algo.URLRouter({{ '/api/*': '127.0.0.1:{api}' }})) =>\n\
         pipy({{ _target: undefined }})\n\
         .listen({port})\n\
         .demuxHTTP().to($=>$\n\
           .handleMessageStart(msg => _target = router.find(msg.head.headers.host, msg.head.path))\n\
           .branch(\n\
             () => Boolean(_target), $=>$.muxHTTP(() => _target).to($=>$.connect(() => _target)),\n\
             $=>$.replaceMessage(new Message({{ status: 404 }}, 'No route'))\n\
           )\n\
         )\n\
        )()\n"
    );
    let _weir = start(&script);
    let (code, body, _) = curl(&[&format!("http://127.0.0.1:{port}/api/users")]);
    assert_eq!((code, body.as_str()), (0, "alpha\n"));
    let (code, out, _) = curl(&["-i", &format!("http://127.0.0.1:{port}/elsewhere")]);
    assert_eq!(code, 0);
    assert_eq!(out, "HTTP/1.1 404 Not Found\r\ncontent-length: 8\r\nconnection: keep-alive\r\n\r\nNo route");
}

#[test]
fn port_limited_to_one_connection_makes_the_second_client_wait() {
    let port = free_port();
    let script = format!("pipy()\n.listen({port}, {{ maxConnections: 1 }})\n.serveHTTP(new Message('hello\\n'))\n");
    let _weir = start(&script);
    let url = format!("http://127.0.0.1:{port}/");

    let holder = TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (code, _, _) = curl(&["--max-time", "1", &url]);
    assert_eq!(code, 28, "the second connection must wait in the backlog, not be served");

    drop(holder);
    let (code, body, err) = curl(&[&url]);
    assert_eq!((code, body.as_str()), (0, "hello\n"), "{err}");
}

#[test]
fn connection_closed_at_start_is_an_empty_reply() {
    let port = free_port();
    let _weir = start(&format!("pipy()\n.listen({port})\n.onStart(new StreamEnd)\n"));
    let (code, _, err) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 52, "{err}");
}

#[test]
fn connect_retries_a_closed_port_then_gives_up() {
    let closed = free_port();
    let port = free_port();
    let script =
        format!("pipy()\n.listen({port})\n.connect('127.0.0.1:{closed}', {{ retryCount: 2, retryDelay: 0.3 }})\n");
    let weir = start(&script);
    let t = Instant::now();
    let (code, _, err) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 52, "{err}");
    assert!(t.elapsed() >= Duration::from_millis(600), "two retries 0.3 s apart took {:?}", t.elapsed());
    let log = weir.stderr().join("\n");
    assert!(log.contains("retries = 2"), "{log}");
}

#[test]
fn connect_idle_timeout_closes_a_silent_upstream() {
    let silent = tcp_server(|s| {
        std::thread::sleep(Duration::from_secs(5));
        drop(s);
    });
    let port = free_port();
    let script = format!("pipy()\n.listen({port})\n.connect('127.0.0.1:{silent}', {{ idleTimeout: 0.5 }})\n");
    let _weir = start(&script);
    let t = Instant::now();
    let (code, _, err) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 52, "{err}");
    assert!(t.elapsed() < Duration::from_secs(3), "idle timeout took {:?}", t.elapsed());
}

/// A listening socket with a backlog of 0 that never accepts, already holding the one
/// connection its queue takes: the kernel drops further SYNs, so connects hang.
fn unanswering_port() -> (i32, u16) {
    // SAFETY: plain socket calls on a fresh fd with properly sized address structs.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, (&raw const addr).cast(), len), 0);
        assert_eq!(libc::listen(fd, 0), 0);
        let mut len = len;
        assert_eq!(libc::getsockname(fd, (&raw mut addr).cast(), &mut len), 0);
        (fd, u16::from_be(addr.sin_port))
    }
}

#[test]
fn connect_timeout_gives_up_on_an_unanswered_connect() {
    let (fd, target) = unanswering_port();
    let target_addr = std::net::SocketAddr::from(([127, 0, 0, 1], target));
    let _queued: Vec<_> =
        (0..3).filter_map(|_| TcpStream::connect_timeout(&target_addr, Duration::from_millis(200)).ok()).collect();
    let port = free_port();
    let script = format!("pipy()\n.listen({port})\n.connect('127.0.0.1:{target}', {{ connectTimeout: 0.5 }})\n");
    let weir = start(&script);
    let t = Instant::now();
    let (code, _, err) = curl(&["--max-time", "5", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 52, "{err}");
    assert!(t.elapsed() < Duration::from_secs(3), "connect timeout took {:?}", t.elapsed());
    let log = weir.stderr().join("\n");
    assert!(log.contains("ConnectionTimeout"), "{log}");
    // SAFETY: closing the fd made above, once.
    unsafe { libc::close(fd) };
}

#[test]
fn legacy_context_variables_are_per_connection() {
    let port = free_port();
    let script = format!(
        "pipy({{ _count: 0 }})\n.listen({port})\n.serveHTTP(() => new Message(`${{++_count}} ${{__inbound.remotePort > 0}}\\n`))\n"
    );
    let _weir = start(&script);
    let url = format!("http://127.0.0.1:{port}/");
    let (_, body, _) = curl(&[&url, &url, &url]);
    assert_eq!(body, "1 true\n2 true\n3 true\n");
    let (_, body, _) = curl(&[&url]);
    assert_eq!(body, "1 true\n", "a new connection starts from the initial value");
}

#[test]
fn replace_stream_start_with_a_promise_of_an_event() {
    let port = free_port();
    let script =
        format!("pipy()\n.listen({port})\n.replaceStreamStart(() => new Timeout(0.3).wait().then(new StreamEnd))\n");
    let _weir = start(&script);
    let t = Instant::now();
    let (code, _, err) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 52, "{err}");
    assert!(t.elapsed() >= Duration::from_millis(300), "ended after {:?}", t.elapsed());
}

#[test]
fn task_runs_at_start_and_named_pipelines_link_both_ways() {
    let port = free_port();
    let script = format!(
        "pipy()\n\
         .listen({port})\n\
         .link('answer')\n\
         .task()\n\
         .onStart(new Message('from task'))\n\
         .fork('log')\n\
         .pipeline('log')\n\
         .replaceMessage(msg => (println('task says', msg.body.toString()), new StreamEnd))\n\
         .pipeline('answer')\n\
         .serveHTTP(msg => new Message(`linked ${{msg.head.path}}\\n`))\n"
    );
    let weir = start(&script);
    let (code, body, _) = curl(&[&format!("http://127.0.0.1:{port}/x")]);
    assert_eq!((code, body.as_str()), (0, "linked /x\n"));
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), ["task says from task"]);
}

#[test]
fn keep_alive_and_pipelined_requests_through_demux_and_mux() {
    let upstream = HttpServer::start(|_, path| ("200 OK".into(), vec![], format!("got {path}")));
    let port = free_port();
    let script = format!(
        "pipy()\n.listen({port})\n.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{}')))\n",
        upstream.port
    );
    let _weir = start(&script);

    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /one HTTP/1.1\r\nhost: a\r\n\r\nGET /two HTTP/1.1\r\nhost: a\r\n\r\nGET /three HTTP/1.1\r\nhost: a\r\n\r\n")
        .unwrap();
    let expected: String = ["/one", "/two", "/three"]
        .iter()
        .map(|p| {
            let body = format!("got {p}");
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: keep-alive\r\n\r\n{body}", body.len())
        })
        .collect();
    let mut got = vec![0; expected.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), expected);

    // The same connection keeps serving after the pipelined burst.
    s.write_all(b"GET /four HTTP/1.1\r\nhost: a\r\n\r\n").unwrap();
    let more = "HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: keep-alive\r\n\r\ngot /four";
    let mut got = vec![0; more.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), more);
    assert_eq!(upstream.requests.lock().unwrap().len(), 4);
}

#[test]
fn load_balancer_allocates_round_robin_and_frees() {
    let script = "var lb = new algo.LoadBalancer(['a', 'b', 'c'])\n\
                  var got = [1,2,3,4].map(() => lb.allocate())\n\
                  println(got.map(r => r.target).join(','))\n\
                  got.forEach(r => r.free())\n\
                  println(lb.allocate('b').target)\n";
    let mut weir = Weir::start(script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["a,b,c,a", "b"]);
}

#[test]
fn configuration_errors_name_the_problem() {
    let mut weir = Weir::start("pipy().listen(1234).demuxHTTP()\n", &[]);
    assert_ne!(weir.wait_exit(Duration::from_secs(10)), Some(0));
    let log = weir.stderr().join("\n");
    assert!(log.contains("missing .to(...)"), "{log}");
}
