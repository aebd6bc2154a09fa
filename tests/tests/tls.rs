//! acceptTLS and connectTLS against real TLS peers: curl and `openssl s_client` as clients
//! of acceptTLS, nginx as the server behind connectTLS, with certificates openssl makes in
//! each test's folder (see `weir_tests::tls`).

use std::process::{Command, Stdio};
use std::time::Duration;

use weir_tests::tls::{TlsNginx, make_pki};
use weir_tests::*;

/// Runs `script` (with `PORT` replaced by a free port) from a folder holding the test
/// certificates; returns weir, the port and the folder's path.
fn start(script: &str) -> (Weir, u16, std::path::PathBuf) {
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

const PAIRS: &str = "\
var pair = name => ({\n\
  cert: new crypto.Certificate(pipy.load(name + '.crt')),\n\
  key: new crypto.PrivateKey(pipy.load(name + '.key')),\n\
})\n\
var A = pair('a'), B = pair('b')\n";

/// An HTTPS server whose certificate is chosen by SNI and which tells the protocol chosen.
fn server(options: &str) -> String {
    format!(
        "{PAIRS}pipy.listen(PORT, $=>$\n\
           .acceptTLS({{\n\
             certificate: sni => sni === 'b.test' ? B : A,\n\
             handshake: ({{ alpn }}) => println('alpn ' + alpn),\n\
             onState: s => s.state === 'connected' && println('connected ' + s.hostname + ' ' + s.protocol),\n\
             {options}\n\
           }}).to($=>$.serveHTTP(() => new Message('hello over tls\\n')))\n\
         )\n"
    )
}

fn https(port: u16, name: &str, pki: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let resolve = format!("{name}:{port}:127.0.0.1");
    let url = format!("https://{name}:{port}/");
    let ca = pki.join("ca.crt");
    let mut args = vec!["--resolve", &resolve, "--cacert", ca.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(&url);
    curl(&args)
}

#[test]
fn sni_chooses_between_two_certificates_that_curl_checks() {
    let (weir, port, pki) = start(&server("alpn: ['http/1.1'],"));
    for name in ["a.test", "b.test"] {
        let (code, body, err) = https(port, name, &pki, &[]);
        assert_eq!((code, body.as_str()), (0, "hello over tls\n"), "{name}: {err}");
    }
    let lines = weir.wait_stdout_lines(4, Duration::from_secs(5));
    assert_eq!(lines, ["alpn http/1.1", "connected a.test http/1.1", "alpn http/1.1", "connected b.test http/1.1"]);
}

/// `openssl s_client` offering `offer`, asking for `/` once connected and waiting for the
/// answer (so the handshake is over on both sides before it leaves); returns what it printed.
fn s_client(port: u16, offer: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-servername", "a.test", "-alpn", offer])
        .arg("-ign_eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(b"GET / HTTP/1.1\r\nhost: a.test\r\nconnection: close\r\n\r\n");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn alpn_picks_the_clients_first_protocol_the_server_has_and_the_script_sees_it() {
    let (weir, port, _pki) = start(&server("alpn: ['http/1.1', 'h2'],"));
    let out = s_client(port, "h2,http/1.1");
    assert!(out.contains("ALPN protocol: h2") && out.contains("hello over tls"), "{out}");
    let out = s_client(port, "http/1.1");
    assert!(out.contains("ALPN protocol: http/1.1") && out.contains("hello over tls"), "{out}");
    let lines = weir.wait_stdout_lines(4, Duration::from_secs(5));
    assert_eq!(lines, ["alpn h2", "connected a.test h2", "alpn http/1.1", "connected a.test http/1.1"]);
    // Nothing in common: the handshake is refused with no_application_protocol.
    let out = s_client(port, "spdy/3");
    assert!(out.contains("no application protocol") || out.contains("alert number 120"), "{out}");
}

#[test]
fn alpn_as_a_function_gets_the_offered_names_and_returns_an_index() {
    let (weir, port, _pki) = start(&server("alpn: names => (println(names.join(',')), names.indexOf('http/1.1')),"));
    let out = s_client(port, "h2,http/1.1");
    assert!(out.contains("ALPN protocol: http/1.1"), "{out}");
    let lines = weir.wait_stdout_lines(3, Duration::from_secs(5));
    assert_eq!(lines, ["h2,http/1.1", "alpn http/1.1", "connected a.test http/1.1"]);
}

#[test]
fn trusted_requires_a_client_certificate_and_refuses_one_it_did_not_sign() {
    let options = "trusted: [new crypto.Certificate(pipy.load('ca.crt'))],\n\
                   verify: (ok, cert) => (println('verify ' + ok), ok),";
    let (weir, port, pki) = start(&server(options));
    let (code, _, err) = https(port, "a.test", &pki, &[]);
    assert_ne!(code, 0, "no client certificate must be refused: {err}");
    let (cert, key) = (pki.join("client.crt"), pki.join("client.key"));
    let with = ["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()];
    let (code, body, err) = https(port, "a.test", &pki, &with);
    assert_eq!((code, body.as_str()), (0, "hello over tls\n"), "{err}");
    // A certificate `ca` did not sign (`other`, self-signed) is refused, and `verify` hears it.
    let (cert, key) = (pki.join("other.crt"), pki.join("other.key"));
    let with = ["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()];
    let (code, _, err) = https(port, "a.test", &pki, &with);
    assert_ne!(code, 0, "an unknown client certificate must be refused: {err}");
    let lines = weir.wait_stdout_lines(4, Duration::from_secs(5));
    assert_eq!(lines, ["verify true", "alpn ", "connected a.test null", "verify false"]);
}

/// A plain-HTTP front whose upstream is nginx over TLS.
fn front(nginx: u16, trusted: &str) -> String {
    format!(
        "pipy.listen(PORT, $=>$\n\
           .connectTLS({{\n\
             sni: 'localhost',\n\
             alpn: 'http/1.1',\n\
             trusted: [new crypto.Certificate(pipy.load('{trusted}.crt'))],\n\
             onState: s => s.state === 'connected' && println('up ' + s.protocol + ' ' + (s.peer instanceof crypto.Certificate)),\n\
           }}).to($=>$.connect('127.0.0.1:{nginx}'))\n\
         )\n"
    )
}

#[test]
fn connect_tls_reaches_nginx_over_tls_with_the_protocol_it_chose() {
    let dir = TempDir::new();
    make_pki(&dir.0);
    let nginx = TlsNginx::start(&dir.0);
    let port = free_port();
    let path = dir.0.join("main.js");
    std::fs::write(&path, front(nginx.port, "ca").replace("PORT", &port.to_string())).unwrap();
    let mut weir = Weir::run_file(&path, &[], dir, |c| c);
    weir.wait_listening();
    let (code, body, err) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!((code, body.as_str()), (0, "hello from nginx\n"), "{err}");
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), ["up http/1.1 true"]);
}

#[test]
fn connect_tls_refuses_a_server_its_trusted_cas_did_not_sign() {
    let dir = TempDir::new();
    make_pki(&dir.0);
    let nginx = TlsNginx::start(&dir.0);
    let port = free_port();
    let path = dir.0.join("main.js");
    std::fs::write(&path, front(nginx.port, "other").replace("PORT", &port.to_string())).unwrap();
    let mut weir = Weir::run_file(&path, &[], dir, |c| c);
    weir.wait_listening();
    let (code, body, _) = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_ne!(code, 0);
    assert!(!body.contains("hello from nginx"), "{body}");
    weir.wait_stderr("handshake failed", Duration::from_secs(5));
}

/// Runs curl over TLS to weir (as `a.test`) with `args`; returns its exit code and stderr.
fn curl_file(port: u16, pki: &std::path::Path, path: &str, args: &[&str]) -> (i32, String) {
    let (resolve, url) = (format!("a.test:{port}:127.0.0.1"), format!("https://a.test:{port}{path}"));
    let ca = pki.join("ca.crt");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", "--resolve", &resolve, "--cacert", ca.to_str().unwrap()])
        .args(args)
        .arg(&url)
        .output()
        .expect("run curl");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn big_bodies_go_both_ways_through_accept_tls_whole_in_bounded_memory() {
    use sha2::Digest;
    use weir_tests::big::{hex, pattern_digest, rss, write_pattern};
    use weir_tests::bulk_http::{BulkHttpServer, down_seed, up_seed};
    const LEN: u64 = 64 << 20;
    let upstream = BulkHttpServer::start();
    let script = format!(
        "{PAIRS}pipy.listen(PORT, $=>$.acceptTLS({{ certificate: A }}).to($=>$.connect('127.0.0.1:{}')))\n",
        upstream.port
    );
    let (weir, port, pki) = start(&script);
    let start_rss = rss(weir.child.id()).0;
    let down = pki.join("down.bin");
    let (code, err) = curl_file(port, &pki, &format!("/1/{LEN}/cl"), &["-o", down.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let got = hex(&sha2::Sha256::digest(std::fs::read(&down).unwrap()));
    assert_eq!(got, pattern_digest(down_seed(1), LEN), "the download through acceptTLS");
    std::fs::remove_file(&down).unwrap();
    let up = pki.join("up.bin");
    write_pattern(&mut std::fs::File::create(&up).unwrap(), up_seed(2), LEN, 0).unwrap();
    let body = format!("@{}", up.display());
    let (code, err) = curl_file(port, &pki, "/2/0/cl", &["--data-binary", &body, "-o", "/dev/null"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(upstream.got(2), Some(format!("{LEN} {}", pattern_digest(up_seed(2), LEN))), "the upload");
    // Woken from a task, the filter let a fast upstream's reads pile up: 62 MiB at the peak.
    let grew = rss(weir.child.id()).1.saturating_sub(start_rss);
    eprintln!("peak RSS grew by {} KiB", grew >> 10);
    assert!(grew < 16 << 20, "peak RSS grew by {} MiB: bodies were held, not streamed", grew >> 20);
}

#[test]
fn handle_tls_client_hello_sees_the_names_before_accept_tls_takes_the_bytes() {
    let script = format!(
        "{PAIRS}pipy.listen(PORT, $=>$\n\
           .handleTLSClientHello(h => println(h.serverNames.join(',') + ' ' + h.protocolNames.join(',')))\n\
           .acceptTLS({{ certificate: A }}).to($=>$.serveHTTP(() => new Message('hello over tls\\n')))\n\
         )\n"
    );
    let (weir, port, pki) = start(&script);
    let (code, body, err) = https(port, "a.test", &pki, &["--http1.1"]);
    assert_eq!((code, body.as_str()), (0, "hello over tls\n"), "{err}");
    assert_eq!(weir.wait_stdout_lines(1, Duration::from_secs(5)), ["a.test http/1.1"]);
}

#[test]
fn a_big_download_from_nginx_comes_through_connect_tls_whole_in_bounded_memory() {
    use sha2::Digest;
    use weir_tests::big::{hex, pattern_digest, rss, write_pattern};
    const LEN: u64 = 64 << 20;
    let dir = TempDir::new();
    make_pki(&dir.0);
    std::fs::create_dir_all(dir.0.join("www")).unwrap();
    write_pattern(&mut std::fs::File::create(dir.0.join("www/big.bin")).unwrap(), 7, LEN, 0).unwrap();
    let nginx = TlsNginx::start(&dir.0);
    let port = free_port();
    let path = dir.0.join("main.js");
    std::fs::write(&path, front(nginx.port, "ca").replace("PORT", &port.to_string())).unwrap();
    let down = dir.0.join("down.bin");
    let mut weir = Weir::run_file(&path, &[], dir, |c| c);
    weir.wait_listening();
    let start_rss = rss(weir.child.id()).0;
    let (code, _, err) = curl(&["-o", down.to_str().unwrap(), &format!("http://127.0.0.1:{port}/big.bin")]);
    assert_eq!(code, 0, "{err}");
    let got = hex(&sha2::Sha256::digest(std::fs::read(&down).unwrap()));
    assert_eq!(got, pattern_digest(7, LEN), "the download through connectTLS");
    let grew = rss(weir.child.id()).1.saturating_sub(start_rss);
    eprintln!("peak RSS grew by {} KiB", grew >> 10);
    assert!(grew < 16 << 20, "peak RSS grew by {} MiB: the body was held, not streamed", grew >> 20);
}
