//! The PROXY protocol through weir: a raw client sends version 1 and 2 headers to
//! `acceptProxyProtocol`, `connectProxyProtocol` passes them on to nginx listening with
//! `proxy_protocol`, which logs `$proxy_protocol_addr` and answers with it; curl through a
//! fixed version 2 header to the same nginx.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir_tests::*;

/// nginx answering every request on a `proxy_protocol` listener with the address and port
/// the header gave, and logging them.
struct Nginx {
    port: u16,
    child: Child,
    dir: TempDir,
}

impl Nginx {
    fn start() -> Nginx {
        let dir = TempDir::new();
        let port = free_port();
        let d = dir.0.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  log_format pp '$proxy_protocol_addr $proxy_protocol_port';\n  access_log {d}/access.log pp;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port} proxy_protocol;\n\
                 location / {{ return 200 \"$proxy_protocol_addr $proxy_protocol_port\\n\"; }}\n  }}\n}}\n"
        );
        let path = dir.0.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new("nginx")
            .args(["-e", &dir.0.join("error.log").to_string_lossy(), "-c", &path.to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run nginx (cargo xtask test installs nginx-light)");
        let mut nginx = Nginx { port, child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(nginx.child.try_wait().unwrap().is_none(), "nginx exited: {}", nginx.read("error.log"));
            assert!(Instant::now() < deadline, "nginx did not listen: {}", nginx.read("error.log"));
            std::thread::sleep(Duration::from_millis(5));
        }
        nginx
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.0.join(file)).unwrap_or_default()
    }

    /// The access log's lines, once it has `n` (nginx writes them after answering).
    fn log_lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let lines: Vec<String> = self.read("access.log").lines().map(String::from).collect();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Accepts a header, prints what it said, refuses source port 1, and passes the same
/// header on to nginx; a second listener sends a fixed version 2 header of its own.
fn script(port: u16, fixed: u16, nginx: u16) -> String {
    format!(
        "var $info\n\
         pipy.listen({port}, $=>$\n\
           .acceptProxyProtocol(info => (println(JSON.stringify(info)), $info = info, info.sourcePort !== 1))\n\
           .to($=>$.connectProxyProtocol(() => $info).to($=>$.connect('127.0.0.1:{nginx}')))\n\
         )\n\
         pipy.listen({fixed}, $=>$\n\
           .connectProxyProtocol({{ version: 2, protocol: 'TCP6', sourceAddress: '2001:db8::7', sourcePort: 7, targetAddress: '::1', targetPort: 80 }})\n\
           .to($=>$.connect('127.0.0.1:{nginx}'))\n\
         )\n"
    )
}

/// Sends `header` and a request on a raw connection; everything that came back.
fn exchange(port: u16, header: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(header).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    String::from_utf8_lossy(&got).into_owned()
}

fn v2_tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x0c".to_vec();
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h
}

fn start(nginx: &Nginx) -> (Weir, u16, u16) {
    let (port, fixed) = (free_port(), free_port());
    let mut weir = Weir::start(&script(port, fixed, nginx.port), &[]);
    weir.wait_listening();
    (weir, port, fixed)
}

#[test]
fn version_1_and_2_headers_reach_nginx_through_accept_and_connect() {
    let nginx = Nginx::start();
    let (weir, port, _) = start(&nginx);
    let got = exchange(port, b"PROXY TCP4 192.0.2.7 198.51.100.9 4242 80\r\n");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got.ends_with("\r\n\r\n192.0.2.7 4242\n"), "{got}");
    let got = exchange(port, &v2_tcp4([203, 0, 113, 5], [127, 0, 0, 1], 5555, 80));
    assert!(got.ends_with("\r\n\r\n203.0.113.5 5555\n"), "{got}");
    assert_eq!(nginx.log_lines(2), ["192.0.2.7 4242", "203.0.113.5 5555"]);
    let printed = weir.wait_stdout_lines(2, Duration::from_secs(5));
    assert_eq!(
        printed,
        [
            r#"{"version":1,"protocol":"TCP4","sourceAddress":"192.0.2.7","sourcePort":4242,"targetAddress":"198.51.100.9","targetPort":80}"#,
            r#"{"version":2,"command":"PROXY","protocol":"TCP4","sourceAddress":"203.0.113.5","sourcePort":5555,"targetAddress":"127.0.0.1","targetPort":80}"#,
        ]
    );
}

#[test]
fn refused_and_malformed_headers_close_without_reaching_nginx() {
    let nginx = Nginx::start();
    let (mut weir, port, _) = start(&nginx);
    assert_eq!(exchange(port, b"PROXY TCP4 192.0.2.7 198.51.100.9 1 80\r\n"), "");
    assert_eq!(exchange(port, b""), "");
    assert_eq!(exchange(port, b"PROXY TCP9 x\r\n"), "");
    weir.wait_stderr("acceptProxyProtocol: version 1 protocol", Duration::from_secs(5));
    // Only the refused one got as far as the callback. Its line may reach the pipe after the
    // error of the last one, so wait for it before counting.
    weir.wait_stdout_lines(1, Duration::from_secs(5));
    assert_eq!(weir.stdout().len(), 1, "{:?}", weir.stdout());
    assert_eq!(nginx.read("access.log"), "");
}

#[test]
fn curl_through_a_fixed_version_2_header_over_ipv6_addresses() {
    let nginx = Nginx::start();
    let (_weir, _, fixed) = start(&nginx);
    let (code, body, err) = curl(&[&format!("http://127.0.0.1:{fixed}/")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(body, "2001:db8::7 7\n");
    assert_eq!(nginx.log_lines(1), ["2001:db8::7 7"]);
}
