//! HTTP/2 with prior knowledge (h2c) through serveHTTP, demuxHTTP and muxHTTP, end to end
//! with curl, nghttp, h2load, nginx and an `h2` client that checks every stream's body by
//! SHA-256 and resets streams where it likes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use weir_tests::big::{hex, pattern, pattern_digest, rss};
use weir_tests::bulk_http::{BulkHttpServer, down_seed, up_seed};
use weir_tests::*;

const MIB: u64 = 1 << 20;

fn serve_script(port: u16) -> String {
    format!(
        "pipy.listen({port}, $=>$.serveHTTP(msg => new Message(\n\
           {{ headers: {{ 'x-protocol': msg.head.protocol }} }},\n\
           `${{msg.head.method}} ${{msg.head.path}} ${{msg.head.headers.host}} ${{msg.body?.size ?? 0}}\\n`\n\
         )))\n"
    )
}

/// demuxHTTP in front of muxHTTP (HTTP/1 upstream); each client connection prints a line.
fn proxy_script(port: u16, upstream: u16) -> String {
    format!(
        "pipy.listen({port}, $=>$\n\
           .onStart(() => void println('connection'))\n\
           .demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{upstream}')))\n\
         )\n"
    )
}

fn start(script: &str) -> Weir {
    let mut weir = Weir::start(script, &[]);
    weir.wait_listening();
    weir
}

#[test]
fn curl_prior_knowledge_gets_a_serve_http_answer() {
    let port = free_port();
    let _weir = start(&serve_script(port));
    let url = format!("http://127.0.0.1:{port}/x?y=1");
    let (code, out, err) = curl(&["-s", "-i", "--http2-prior-knowledge", "-d", "hello", &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    assert!(out.contains("x-protocol: HTTP/2"), "{out}");
    assert!(out.ends_with(&format!("POST /x?y=1 127.0.0.1:{port} 5\n")), "{out}");
    // The same server still speaks HTTP/1 to those who do.
    let (code, out, err) = curl(&["-s", &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert_eq!(out, format!("GET /x?y=1 127.0.0.1:{port} 0\n"));
}

#[test]
fn nghttp_sends_many_requests_on_one_connection_through_demux_http() {
    let upstream = HttpServer::ok("from upstream\n");
    let port = free_port();
    let weir = start(&proxy_script(port, upstream.port));
    let urls: Vec<String> = (0..5).map(|i| format!("http://127.0.0.1:{port}/{i}")).collect();
    let out = Command::new("nghttp").args(&urls).output().expect("nghttp (apt nghttp2-client)");
    assert!(out.status.success(), "nghttp: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from upstream\n".repeat(5));
    // Each connection printed its line before its first answer went out, so every line is
    // in the pipe by now; the thread that reads it may not have read it yet.
    weir.wait_stdout_lines(1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(weir.stdout(), ["connection"], "one client connection for the five requests");
}

#[test]
fn h2load_ten_connections_of_ten_streams_all_succeed() {
    let port = free_port();
    let _weir = start(&serve_script(port));
    let url = format!("http://127.0.0.1:{port}/");
    let out = Command::new("h2load").args(["-c", "10", "-m", "10", "-n", "1000", &url]).output().expect("h2load");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1000 succeeded, 0 failed, 0 errored"), "{text}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn h2_client(port: u16) -> h2::client::SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (client, conn) = h2::client::Builder::new()
        .initial_window_size(MIB as u32)
        .initial_connection_window_size(16 * MIB as u32)
        .handshake(tcp)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client.ready().await.unwrap()
}

/// Sends `len` patterned bytes for exchange `id` as the window lets them.
async fn upload(send: &mut h2::SendStream<Bytes>, id: u64, len: u64) {
    let mut at = 0;
    while at < len {
        send.reserve_capacity((len - at).min(64 << 10) as usize);
        let n = std::future::poll_fn(|cx| send.poll_capacity(cx)).await.unwrap().unwrap() as u64;
        let mut buf = vec![0; n.min(len - at) as usize];
        pattern(up_seed(id), at, &mut buf);
        at += buf.len() as u64;
        send.send_data(buf.into(), at == len).unwrap();
    }
}

/// Exchange `id` with the bulk upstream through weir: returns the upload it got (its
/// `x-got`) and the size and SHA-256 of the answer.
async fn exchange(client: h2::client::SendRequest<Bytes>, port: u16, id: u64, len: u64) -> (String, u64, String) {
    let req = http::Request::post(format!("http://127.0.0.1:{port}/{id}/{len}/cl"))
        .header("content-length", len.to_string())
        .body(())
        .unwrap();
    let mut client = client.ready().await.unwrap();
    let (response, mut send) = client.send_request(req, false).unwrap();
    upload(&mut send, id, len).await;
    let (parts, mut body) = response.await.unwrap().into_parts();
    let got = parts.headers.get("x-got").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (mut size, mut hash) = (0, Sha256::new());
    while let Some(b) = body.data().await {
        let b = b.unwrap();
        size += b.len() as u64;
        hash.update(&b);
        let _ = body.flow_control().release_capacity(b.len());
    }
    (got, size, hex(&hash.finalize()))
}

#[test]
fn hundred_concurrent_streams_of_a_mebibyte_each_way_keep_memory_bounded() {
    let sink = BulkHttpServer::start();
    let port = free_port();
    let weir = start(&proxy_script(port, sink.port));
    let started = Instant::now();
    let results = runtime().block_on(async {
        let client = h2_client(port).await;
        let tasks: Vec<_> = (0..100).map(|id| tokio::spawn(exchange(client.clone(), port, id, MIB))).collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        results
    });
    for (id, (got, size, digest)) in results.into_iter().enumerate() {
        let id = id as u64;
        assert_eq!(got, format!("{MIB} {}", pattern_digest(up_seed(id), MIB)), "upload of stream {id}");
        assert_eq!((size, digest), (MIB, pattern_digest(down_seed(id), MIB)), "answer of stream {id}");
    }
    let peak = rss(weir.child.id()).1;
    eprintln!("100 x 1 MiB each way: {:.2?}, weir peak RSS {} MiB", started.elapsed(), peak / MIB);
    assert!(peak < 160 * MIB, "weir peak RSS {} MiB", peak / MIB);
}

#[test]
fn a_stream_reset_mid_body_ends_its_upstream_and_the_connection_serves_on() {
    let sink = BulkHttpServer::start();
    let port = free_port();
    let weir = start(&proxy_script(port, sink.port));
    let len = 256 * MIB;
    runtime().block_on(async {
        let mut client = h2_client(port).await;
        let req = http::Request::get(format!("http://127.0.0.1:{port}/1/{len}/cl")).body(()).unwrap();
        let (response, _) = client.send_request(req, true).unwrap();
        let mut body = response.await.unwrap().into_body();
        let mut got = 0;
        while got < 2 * MIB {
            let b = body.data().await.unwrap().unwrap();
            got += b.len() as u64;
            let _ = body.flow_control().release_capacity(b.len());
        }
        // Dropping the body resets the stream (RST_STREAM CANCEL).
        drop(body);
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.open.load(Ordering::SeqCst) > 0 {
            assert!(Instant::now() < deadline, "the upstream of a reset stream is still open");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        eprintln!("reset after {} MiB of {} MiB: upstream closed", got / MIB, len / MIB);
        let (got, size, digest) = exchange(client, port, 2, 1000).await;
        assert_eq!(got, format!("1000 {}", pattern_digest(up_seed(2), 1000)));
        assert_eq!((size, digest), (1000, pattern_digest(down_seed(2), 1000)));
    });
    let peak = rss(weir.child.id()).1;
    assert!(peak < 96 * MIB, "weir peak RSS {} MiB", peak / MIB);
}

/// A client that stops reading one stream's answer: the other streams of its connection go
/// on, through demuxHTTP and muxHTTP over HTTP/2 on both hops (each hop's streams share one
/// task), and what the stalled stream holds stays within its windows.
///
/// The relay hop gives each request an upstream connection of its own (`n++` as the session
/// key), so that HTTP/1's one-answer-at-a-time on a shared connection cannot hold the others
/// up: what is tested is HTTP/2's streams.
///
/// It stalled in half the runs while muxHTTP's HTTP/2 session read its upstream under the
/// gauge of the request that opened it: this one, whose answer nobody reads.
#[test]
fn a_stream_nobody_reads_stalls_neither_its_neighbours_nor_memory() {
    let sink = BulkHttpServer::start();
    let (port, relay) = (free_port(), free_port());
    let weir = start(&format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP({{ version: 2 }}).to($=>$.connect('127.0.0.1:{relay}'))))\n\
         var n = 0\n\
         pipy.listen({relay}, $=>$.demuxHTTP().to($=>$.muxHTTP(() => n++).to($=>$.connect('127.0.0.1:{}'))))\n",
        sink.port
    ));
    let len = 256 * MIB;
    runtime().block_on(async {
        let mut client = h2_client(port).await;
        let req = http::Request::get(format!("http://127.0.0.1:{port}/1/{len}/cl")).body(()).unwrap();
        let (response, _) = client.send_request(req, true).unwrap();
        // The head comes; the body is never read, so its window is never given back.
        let stalled = response.await.unwrap().into_body();
        let started = Instant::now();
        let tasks: Vec<_> = (2..22).map(|id| tokio::spawn(exchange(client.clone(), port, id, 64 << 10))).collect();
        for (id, t) in (2..22).zip(tasks) {
            let (got, size, digest) = tokio::time::timeout(Duration::from_secs(20), t).await.expect("stalled").unwrap();
            assert_eq!(got, format!("65536 {}", pattern_digest(up_seed(id), 64 << 10)), "upload of stream {id}");
            assert_eq!((size, digest), (64 << 10, pattern_digest(down_seed(id), 64 << 10)), "answer of {id}");
        }
        eprintln!("20 streams beside a stalled one: {:.2?}", started.elapsed());
        drop(stalled);
    });
    let peak = rss(weir.child.id()).1;
    assert!(peak < 96 * MIB, "weir peak RSS {} MiB", peak / MIB);
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Opens and at once resets `n` streams, as fast as the socket takes them (CVE-2023-44487).
fn rapid_reset(port: u16, n: u32) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(frame(4, 0, 0, &[]));
    // GET http://localhost/ in HPACK: three indexed fields and a literal :authority.
    let block = [&[0x82, 0x86, 0x84, 0x01, 9][..], b"localhost"].concat();
    for i in 0..n {
        let id = 2 * i + 1;
        out.extend(frame(1, 0x4 | 0x1, id, &block));
        out.extend(frame(3, 0, id, &8u32.to_be_bytes()));
    }
    let writer = s.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut w = writer;
        let _ = w.write_all(&out);
    });
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

#[test]
fn a_rapid_reset_flood_is_cut_off_and_others_are_served() {
    let port = free_port();
    let _weir = start(&serve_script(port));
    let mut flood = rapid_reset(port, 100_000);
    let url = format!("http://127.0.0.1:{port}/other");
    let started = Instant::now();
    let (code, out, err) = curl(&["-s", "--max-time", "5", "--http2-prior-knowledge", &url]);
    assert_eq!(code, 0, "curl beside the flood: {err}");
    assert_eq!(out, format!("GET /other 127.0.0.1:{port} 0\n"));
    eprintln!("served beside the flood in {:.2?}", started.elapsed());
    // The flooding connection is ended (GOAWAY, then the close) long before its streams are.
    let mut read = Vec::new();
    let started = Instant::now();
    let _ = flood.read_to_end(&mut read);
    let frames = frames(&read);
    let answered = frames.iter().filter(|f| f.0 == 1).count();
    let goaway = frames.iter().find(|f| f.0 == 7).map(|f| u32::from_be_bytes(f.1[4..8].try_into().unwrap()));
    eprintln!(
        "flood: {answered} of 100000 streams answered, GOAWAY {goaway:?}, closed after {:.2?}",
        started.elapsed()
    );
    assert_eq!(goaway, Some(11), "ENHANCE_YOUR_CALM");
    assert!(started.elapsed() < Duration::from_secs(15), "the flooding connection was not closed");
}

/// The frames in `bytes`: each one's type and payload.
fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut all = Vec::new();
    while bytes.len() >= 9 {
        let len = (bytes[0] as usize) << 16 | (bytes[1] as usize) << 8 | bytes[2] as usize;
        if bytes.len() < 9 + len {
            break;
        }
        all.push((bytes[3], bytes[9..9 + len].to_vec()));
        bytes = &bytes[9 + len..];
    }
    all
}

/// nginx with an h2c listener (prior knowledge only) that answers with the protocol it
/// spoke, the number of the connection it came on and the path.
struct NginxH2c {
    port: u16,
    child: std::process::Child,
    _dir: TempDir,
}

impl NginxH2c {
    fn start() -> NginxH2c {
        let dir = TempDir::new();
        let d = dir.0.display();
        let port = free_port();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port} http2;\n\
                 location / {{ return 200 \"$server_protocol $connection $request_uri\\n\"; }}\n  }}\n}}\n"
        );
        let path = dir.0.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new("nginx")
            .args(["-e", &dir.0.join("error.log").to_string_lossy(), "-c", &path.to_string_lossy()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen");
            std::thread::sleep(Duration::from_millis(5));
        }
        NginxH2c { port, child, _dir: dir }
    }
}

impl Drop for NginxH2c {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Five requests on one HTTP/1 client connection through `muxHTTP(options)`: what nginx
/// answered to each.
fn through_mux(options: &str) -> Vec<String> {
    let nginx = NginxH2c::start();
    let port = free_port();
    let _weir = start(&format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n\
           .muxHTTP({options}).to($=>$.connect('127.0.0.1:{}'))\n\
         ))\n",
        nginx.port
    ));
    let urls: Vec<String> = (0..5).map(|i| format!("http://127.0.0.1:{port}/{i}")).collect();
    let args: Vec<&str> = std::iter::once("-s").chain(urls.iter().map(|u| u.as_str())).collect();
    let (code, out, err) = curl(&args);
    assert_eq!(code, 0, "curl: {err}");
    out.lines().map(str::to_string).collect()
}

#[test]
fn mux_http_version_2_speaks_h2c_to_nginx_on_one_connection() {
    let lines = through_mux("{ version: 2 }");
    assert_eq!(lines.len(), 5, "{lines:?}");
    let connection = lines[0].split(' ').nth(1).unwrap().to_string();
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(*l, format!("HTTP/2.0 {connection} /{i}"), "{lines:?}");
    }
}

#[test]
fn mux_http_version_callback_chooses_http2() {
    let lines = through_mux("{ version: () => 'h2' }");
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("HTTP/2.0 ")), "{lines:?}");
}

/// Pipy's test/curl/006-http2-tunnel on kernel-chosen ports: HTTP/1 requests go through a
/// CONNECT tunnel that muxHTTP carries as an HTTP/2 stream to demuxHTTP + acceptHTTPTunnel.
#[test]
fn connect_tunnels_ride_http2_streams() {
    let (target, relay, entry) = (free_port(), free_port(), free_port());
    let weir = start(&format!(
        "pipy.listen({target}, $=>$.serveHTTP(new Message('Hello!\\n')))\n\
         pipy.listen({relay}, $=>$.demuxHTTP().to($=>$\n\
           .acceptHTTPTunnel(msg => (\n\
             println(msg.head.method, msg.head.protocol),\n\
             msg.head.method === 'CONNECT' ? void 0 : new Message({{ status: 405 }})\n\
           ))\n\
           .to($=>$.connect('127.0.0.1:{target}'))\n\
         ))\n\
         pipy.listen({entry}, $=>$\n\
           .connectHTTPTunnel(() => new Message({{ method: 'CONNECT', path: '127.0.0.1:{target}' }}))\n\
           .to($=>$.muxHTTP(() => 1, {{ version: 2 }}).to($=>$.connect('127.0.0.1:{relay}')))\n\
         )\n"
    ));
    let url = format!("http://127.0.0.1:{entry}/");
    let (code, out, err) = curl(&["-s", "--max-time", "5", &url, &url, &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert_eq!(out, "Hello!\n".repeat(3));
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), ["CONNECT HTTP/2"], "one tunnel, one stream");
}

#[test]
fn mux_http_version_2_answers_502_when_the_upstream_refuses() {
    let (port, closed) = (free_port(), free_port());
    let _weir = start(&format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP({{ version: 2 }}).to($=>$.connect('127.0.0.1:{closed}'))))\n"
    ));
    let (code, out, err) = curl(&["-s", "-i", "--max-time", "5", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 0, "curl: {err}");
    assert!(out.starts_with("HTTP/1.1 502 Connection Refused"), "{out}");
}
