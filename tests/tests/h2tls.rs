//! HTTP/2 under TLS: clients that choose `h2` by ALPN (curl, nghttp) against acceptTLS in
//! front of serveHTTP, muxHTTP through connectTLS to an nginx with `listen ssl http2`
//! choosing its version from the protocol the handshake chose (Pipy's 005 pattern), and
//! connectTLS to a server with an X.509 v1 certificate (Pipy's own test certificates are v1).

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use weir_tests::tls::make_pki;
use weir_tests::*;

/// Runs `script` (`PORT` replaced by a free port) in a folder holding the test certificates.
fn start(script: &str) -> (Weir, u16, TempDirPath) {
    let dir = TempDir::new();
    make_pki(&dir.0);
    let port = free_port();
    let path = dir.0.join("main.js");
    let pki = dir.0.clone();
    std::fs::write(&path, script.replace("PORT", &port.to_string())).unwrap();
    let mut weir = Weir::run_file(&path, &[], dir, |c| c);
    weir.wait_listening();
    (weir, port, pki)
}

type TempDirPath = std::path::PathBuf;

const PAIR_A: &str = "var A = {\n\
  cert: new crypto.Certificate(pipy.load('a.crt')),\n\
  key: new crypto.PrivateKey(pipy.load('a.key')),\n\
}\n";

/// acceptTLS offering `h2` and `http/1.1` in front of a serveHTTP telling the protocol.
fn https_server() -> String {
    format!(
        "{PAIR_A}pipy.listen(PORT, $=>$\n\
           .acceptTLS({{ certificate: A, alpn: ['h2', 'http/1.1'] }})\n\
           .to($=>$.serveHTTP(msg => new Message(msg.head.protocol + ' ' + msg.head.path + '\\n')))\n\
         )\n"
    )
}

#[test]
fn curl_choosing_h2_by_alpn_is_answered_in_http2_by_serve_http() {
    let (_weir, port, pki) = start(&https_server());
    let ca = pki.join("ca.crt");
    let resolve = format!("a.test:{port}:127.0.0.1");
    let url = format!("https://a.test:{port}/x");
    let base = ["-s", "-i", "--resolve", &resolve, "--cacert", ca.to_str().unwrap()];
    let (code, out, err) = curl(&[&base[..], &["--http2", &url]].concat());
    assert_eq!(code, 0, "curl: {err}");
    assert!(out.starts_with("HTTP/2 200") && out.ends_with("HTTP/2 /x\n"), "{out}");
    let (code, out, err) = curl(&[&base[..], &["--http1.1", &url]].concat());
    assert_eq!(code, 0, "curl: {err}");
    assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("HTTP/1.1 /x\n"), "{out}");
}

#[test]
fn nghttp_sends_many_streams_over_tls_on_one_connection() {
    let (_weir, port, _pki) = start(&https_server());
    let urls: Vec<String> = (0..4).map(|i| format!("https://127.0.0.1:{port}/{i}")).collect();
    let out = Command::new("nghttp").args(["-n", "-s"]).args(&urls).output().expect("nghttp");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "nghttp: {text} {}", String::from_utf8_lossy(&out.stderr));
    // -s prints a table of the streams; four answered with 200.
    assert_eq!(text.lines().filter(|l| l.contains(" 200 ")).count(), 4, "{text}");
}

/// nginx with certificate `a` from `dir` and `listen` options `listen` (` ssl http2`,
/// ` ssl`, or none for plain HTTP/1), answering with the protocol it spoke, its connection
/// number and the path.
struct TlsNginx {
    port: u16,
    child: std::process::Child,
}

impl TlsNginx {
    fn start(dir: &std::path::Path, listen: &str) -> TlsNginx {
        let port = free_port();
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/nginx-error.log;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port}{listen};\n    ssl_certificate {d}/a.crt;\n\
                 ssl_certificate_key {d}/a.key;\n\
                 location / {{ return 200 \"$server_protocol $connection $request_uri\\n\"; }}\n  }}\n}}\n"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new("nginx")
            .args(["-e", &dir.join("nginx-error.log").to_string_lossy(), "-c", &path.to_string_lossy()])
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
        TlsNginx { port, child }
    }
}

impl Drop for TlsNginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Five requests on one HTTP/1 client connection through muxHTTP, whose version is a
/// Promise the connectTLS handshake settles with the protocol ALPN chose (Pipy's 005).
fn through_tls(h2: bool) -> Vec<String> {
    let dir = TempDir::new();
    make_pki(&dir.0);
    let nginx = TlsNginx::start(&dir.0, if h2 { " ssl http2" } else { " ssl" });
    let script = format!(
        "pipy({{ _select: null }})\n\
         .listen(PORT)\n\
         .demuxHTTP().to($=>$\n\
           .muxHTTP(() => 'nginx', {{ version: () => new Promise(f => _select = f) }}).to($=>$\n\
             .connectTLS({{ alpn: ['h2', 'http/1.1'], handshake: ({{ alpn }}) => _select(alpn) }})\n\
             .to($=>$.connect('127.0.0.1:{}'))\n\
           )\n\
         )\n",
        nginx.port
    );
    let port = free_port();
    let path = dir.0.join("main.js");
    std::fs::write(&path, script.replace("PORT", &port.to_string())).unwrap();
    let mut weir = Weir::run_file(&path, &[], dir, |c| c);
    weir.wait_listening();
    let urls: Vec<String> = (0..5).map(|i| format!("http://127.0.0.1:{port}/{i}")).collect();
    let args: Vec<&str> = ["-s", "--max-time", "5"].into_iter().chain(urls.iter().map(|u| u.as_str())).collect();
    let (code, out, err) = curl(&args);
    assert_eq!(code, 0, "curl: {err} {:?}", weir.stderr());
    out.lines().map(str::to_string).collect()
}

#[test]
fn mux_http_speaks_h2_through_connect_tls_when_alpn_chose_it() {
    let lines = through_tls(true);
    assert_eq!(lines.len(), 5, "{lines:?}");
    let connection = lines[0].split(' ').nth(1).unwrap_or_default().to_string();
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(*l, format!("HTTP/2.0 {connection} /{i}"), "one connection, many streams: {lines:?}");
    }
}

#[test]
fn mux_http_speaks_http1_through_connect_tls_when_alpn_chose_it() {
    let lines = through_tls(false);
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("HTTP/1.1 ")), "{lines:?}");
}

/// A self-signed X.509 version 1 certificate (`openssl x509 -req` without extensions).
fn v1_certificate(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "v1.key", "-out", "v1.csr", "-subj", "/CN=v1"]);
    run(&["x509", "-req", "-in", "v1.csr", "-signkey", "v1.key", "-out", "v1.crt", "-days", "2"]);
}

#[test]
fn connect_tls_without_trusted_takes_a_version_1_certificate_as_pipy_does() {
    let dir = TempDir::new();
    v1_certificate(&dir.0);
    let (back, front, front12) = (free_port(), free_port(), free_port());
    let script = format!(
        "pipy.listen({back}, $=>$\n\
           .acceptTLS({{ certificate: {{\n\
             cert: new crypto.Certificate(pipy.load('v1.crt')), key: new crypto.PrivateKey(pipy.load('v1.key')),\n\
           }} }})\n\
           .to($=>$.serveHTTP(new Message('hello over v1\\n')))\n\
         )\n\
         pipy.listen({front}, $=>$.connectTLS().to($=>$.connect('127.0.0.1:{back}')))\n\
         pipy.listen({front12}, $=>$.connectTLS({{ maxVersion: 'TLS1.2' }}).to($=>$.connect('127.0.0.1:{back}')))\n"
    );
    let path = dir.0.join("main.js");
    std::fs::write(&path, script).unwrap();
    let mut weir = Weir::run_file(&path, &[], dir, |c| c);
    weir.wait_listening();
    // TLS 1.3 and TLS 1.2 check the handshake's signature differently.
    for port in [front, front12] {
        let (code, out, err) = curl(&["-s", "--max-time", "5", &format!("http://127.0.0.1:{port}/")]);
        assert_eq!((code, out.as_str()), (0, "hello over v1\n"), "{err} {:?}", weir.stderr());
    }
}

/// Pipy's demuxHTTP and serveHTTP switch on `Upgrade: h2c`: `101 Switching Protocols`,
/// then the upgrading request is answered in HTTP/2 on stream 1.
#[test]
fn an_upgrade_to_h2c_switches_and_the_request_is_answered_in_http2() {
    let port = free_port();
    let mut weir = Weir::start(
        &format!(
            "pipy.listen({port}, $=>$.serveHTTP(msg => new Message(\n\
               msg.head.protocol + ' ' + msg.head.method + ' ' + msg.head.path + ' ' + msg.head.headers.host + '\\n'\n\
             )))\n"
        ),
        &[],
    );
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{port}/up?x=1");
    let (code, out, err) = curl(&["-s", "-i", "--http2", &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert!(out.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{out}");
    assert!(out.contains("HTTP/2 200"), "{out}");
    assert!(out.ends_with(&format!("HTTP/2 GET /up?x=1 127.0.0.1:{port}\n")), "{out}");
    // nghttp upgrades too, and sends another request as stream 3 on the same connection.
    let urls = [format!("http://127.0.0.1:{port}/a"), format!("http://127.0.0.1:{port}/b")];
    let out = Command::new("nghttp").arg("-u").args(&urls).output().expect("nghttp");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "nghttp: {text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("HTTP/2 GET /a ") && text.contains("HTTP/2 GET /b "), "{text}");
    // A request with a body would be read in HTTP/1 first: it is answered in HTTP/1.1.
    let (code, out, err) = curl(&["-s", "-i", "--http2", "-d", "hello", &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

/// HTTP/2 requests (their heads say `protocol: 'HTTP/2'`) go to an HTTP/1 upstream as
/// HTTP/1.1 requests: nginx answers `505` to a request line saying `HTTP/2`.
#[test]
fn http2_requests_go_to_an_http1_upstream_as_http_1_1() {
    let dir = TempDir::new();
    make_pki(&dir.0);
    let nginx = TlsNginx::start(&dir.0, "");
    let port = free_port();
    let mut weir = Weir::start(
        &format!(
            "pipy.listen({port}, $=>$.demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{}'))))\n",
            nginx.port
        ),
        &[],
    );
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{port}/h2");
    let (code, out, err) = curl(&["-s", "-i", "--http2-prior-knowledge", &url]);
    assert_eq!(code, 0, "curl: {err}");
    assert!(out.starts_with("HTTP/2 200") && out.ends_with(" /h2\n"), "{out}");
    assert!(out.contains("HTTP/1.1 "), "nginx spoke HTTP/1.1: {out}");
}
