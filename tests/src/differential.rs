//! The differential test's parts: real upstreams (nginx, and a raw server for the shapes
//! nginx cannot make), the two proxy shapes, and curl run once straight at the upstream and
//! once through weir, its answers (every head, 1xx and trailers included, and every body)
//! compared.

use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::big::{MIB, pattern, read_head, request_body, write_pattern};
use crate::bulk::write_pattern_at;
use crate::bulk_http::BulkHttpServer;
use crate::{TempDir, Weir, free_port};

/// The seed of every patterned file and body here.
pub const SEED: u64 = 0x0D1F;
/// The size of the big bodies.
pub const BIG: u64 = 20 * MIB;

/// nginx as a non-daemon child on a free port, serving patterned files
/// `/b0`, `/b1`, `/b64k`, `/b20m`, gzip text under `/gz/`, `204` at `/204`, and proxying
/// `/up/...` to a [`BulkHttpServer`] that reports the upload it got in `x-got`.
pub struct Nginx {
    pub port: u16,
    child: Child,
    pub sink: BulkHttpServer,
    dir: TempDir,
}

impl Nginx {
    pub fn start() -> Nginx {
        let dir = TempDir::new();
        let www = dir.0.join("www");
        std::fs::create_dir_all(www.join("gz")).unwrap();
        for (name, len) in [("b0", 0), ("b1", 1), ("b64k", 64 * 1024), ("b20m", BIG)] {
            write_file(&www.join(name), len);
        }
        let text: String = (0..4000).map(|i| format!("line {i} of a page that compresses well\n")).collect();
        std::fs::write(www.join("gz/page.txt"), text).unwrap();
        let sink = BulkHttpServer::start();
        let port = free_port();
        let conf = dir.0.join("nginx.conf");
        std::fs::write(&conf, config(&dir.0, port, sink.port)).unwrap();
        let child = Command::new("nginx")
            .args(["-e", &dir.0.join("error.log").to_string_lossy(), "-c", &conf.to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run nginx (cargo xtask test installs nginx-light)");
        let mut nginx = Nginx { port, child, sink, dir };
        nginx.wait_listening();
        nginx
    }

    /// Waits until nginx accepts connections (it has no log line to wait for).
    fn wait_listening(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited ({status}): {}", self.errors());
            }
            assert!(std::time::Instant::now() < deadline, "nginx did not listen: {}", self.errors());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// What nginx wrote in its error log, for a failure's message.
    pub fn errors(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_file(path: &Path, len: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    write_pattern(&mut f, SEED, len, 0).unwrap();
    f.flush().unwrap();
}

fn config(dir: &Path, port: u16, sink: u16) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  default_type application/octet-stream;\n\
           client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           server {{\n    listen 127.0.0.1:{port};\n    root {d}/www;\n    client_max_body_size 64m;\n\
             location /gz/ {{ default_type text/plain; gzip on; gzip_types text/plain; gzip_min_length 0; }}\n\
             location = /204 {{ return 204; }}\n\
             location /up/ {{ proxy_pass http://127.0.0.1:{sink}/; }}\n\
           }}\n}}\n"
    )
}

/// A keep-alive HTTP/1.1 server for the shapes nginx does not make. By path:
/// - `/eof`: 64 KiB with neither length nor chunks, then the connection ends;
/// - `/103`: `103 Early Hints` with a `link`, then `200` with a short body;
/// - `/trailers`: a chunked 64 KiB body with a trailer section;
/// - `/304`: `304 Not Modified` with the content-length of the entity it stands for;
/// - anything else: `200` with `ok`.
pub fn raw_server() -> u16 {
    crate::tcp_server(|s| {
        let Ok(mut w) = s.try_clone() else { return };
        let mut r = BufReader::new(s);
        while let Ok(Some(head)) = read_head(&mut r) {
            if request_body(&mut r, &head, 0).is_err() {
                return;
            }
            let path = head.line.split_whitespace().nth(1).unwrap_or("").to_string();
            if answer(&mut w, &path).is_err() || path == "/eof" {
                break;
            }
        }
        let _ = w.shutdown(Shutdown::Write);
    })
}

fn answer(w: &mut TcpStream, path: &str) -> std::io::Result<()> {
    const K64: u64 = 64 * 1024;
    match path {
        "/eof" => {
            w.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n")?;
            write_pattern_at(w, SEED, 0, K64)
        }
        "/103" => w.write_all(
            b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\n\r\n\
              HTTP/1.1 200 OK\r\ncontent-length: 5\r\nlink: </style.css>; rel=preload; as=style\r\n\r\nhello",
        ),
        "/trailers" => {
            w.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n")?;
            let mut buf = vec![0u8; K64 as usize];
            pattern(SEED, 0, &mut buf);
            for piece in buf.chunks(10_000) {
                w.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
                w.write_all(piece)?;
                w.write_all(b"\r\n")?;
            }
            w.write_all(b"0\r\nx-checksum: 0d1f\r\n\r\n")
        }
        "/304" => w.write_all(b"HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\ncontent-length: 1234\r\n\r\n"),
        _ => w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
    }
}

/// The two ways a script proxies HTTP.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// `demuxHTTP` -> `muxHTTP` -> `connect`: messages, a session pool upstream.
    Mux,
    /// `decodeHTTPRequest`/`encodeHTTPRequest` -> `connect` ->
    /// `decodeHTTPResponse`/`encodeHTTPResponse`: one upstream connection per client.
    Codec,
    /// [`Shape::Mux`] behind `acceptTLS` (curl over HTTPS), its upstream reached through
    /// `connectTLS` and a second `acceptTLS` listener in front of the plain upstream.
    TlsMux,
    /// [`Shape::Codec`] the same way over TLS on both sides.
    TlsCodec,
    /// [`Shape::Mux`] with curl speaking HTTP/2 with prior knowledge (h2c).
    H2cMux,
    /// [`Shape::Mux`] with curl asking to switch to h2c (`Upgrade: h2c`, then `101`).
    H2cUpgrade,
}

impl Shape {
    /// The script listening on `port`; `pki` holds certificate `a` (see [`crate::tls`]).
    pub fn script(self, port: u16, upstream: u16, pki: &Path) -> String {
        let to = format!("'127.0.0.1:{upstream}'");
        let mux = |to: &str| format!("$=>$.demuxHTTP().to($=>$.muxHTTP().to({to}))");
        let codec = |to: &str| {
            format!("$=>$.decodeHTTPRequest().encodeHTTPRequest(){to}.decodeHTTPResponse().encodeHTTPResponse()")
        };
        match self {
            Shape::Mux | Shape::H2cMux | Shape::H2cUpgrade => {
                format!("pipy.listen({port}, {})\n", mux(&format!("$=>$.connect({to})")))
            }
            Shape::Codec => format!("pipy.listen({port}, {})\n", codec(&format!(".connect({to})"))),
            Shape::TlsMux | Shape::TlsCodec => {
                // The upstream side's TLS ends at a second listener of the same script.
                let relay = crate::free_port();
                let tls_to = format!("$=>$.connectTLS().to($=>$.connect('127.0.0.1:{relay}'))");
                let inner = match self {
                    Shape::TlsMux => mux(&tls_to),
                    _ => codec(&format!(".connectTLS().to($=>$.connect('127.0.0.1:{relay}'))")),
                };
                let pki = pki.display();
                format!(
                    "var certificate = {{ cert: new crypto.Certificate(os.readFile('{pki}/a.crt')),\n\
                       key: new crypto.PrivateKey(os.readFile('{pki}/a.key')) }}\n\
                     pipy.listen({port}, $=>$.acceptTLS({{ certificate }}).to({inner}))\n\
                     pipy.listen({relay}, $=>$.acceptTLS({{ certificate }}).to($=>$.connect({to})))\n"
                )
            }
        }
    }

    /// How curl reaches weir in this shape.
    fn client(self, port: u16) -> (String, &'static [&'static str]) {
        match self {
            Shape::Mux | Shape::Codec => (format!("http://127.0.0.1:{port}"), &[]),
            Shape::TlsMux | Shape::TlsCodec => (format!("https://127.0.0.1:{port}"), &["-k"]),
            Shape::H2cMux => (format!("http://127.0.0.1:{port}"), &["--http2-prior-knowledge"]),
            Shape::H2cUpgrade => (format!("http://127.0.0.1:{port}"), &["--http2"]),
        }
    }

    /// What the protocol itself changes in curl's view, taken out before comparing: the
    /// version in the status line and the `101` of a switch to HTTP/2.
    fn normalise(self, mut answer: Answer) -> Answer {
        if matches!(self, Shape::H2cMux | Shape::H2cUpgrade) {
            answer.heads.retain(|(status, _)| !status.ends_with(" 101"));
            for (status, _) in &mut answer.heads {
                if let Some(code) = status.strip_prefix("HTTP/2 ") {
                    *status = format!("HTTP/1.1 {code}");
                }
            }
        }
        answer
    }
}

/// Which upstream a case talks to.
#[derive(Clone, Copy, Debug)]
pub enum Upstream {
    Nginx,
    Raw,
}

/// An upload: its size, and how curl sends it.
#[derive(Clone, Copy, Debug)]
pub struct Upload {
    pub len: u64,
    pub chunked: bool,
    pub expect: bool,
}

/// One exchange curl makes twice on a connection (the second shows the first was framed
/// right), straight to the upstream and through weir.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub upstream: Upstream,
    pub path: &'static str,
    pub head: bool,
    pub headers: &'static [&'static str],
    pub upload: Option<Upload>,
}

impl Case {
    pub const fn get(upstream: Upstream, path: &'static str) -> Case {
        Case { upstream, path, head: false, headers: &[], upload: None }
    }

    pub const fn upload(len: u64, chunked: bool, expect: bool) -> Case {
        let upload = Some(Upload { len, chunked, expect });
        Case { upstream: Upstream::Nginx, path: "/up/7/0/cl", head: false, headers: &[], upload }
    }
}

/// What curl saw: each head in order (1xx, final, trailers) as its first line (status
/// only) and its headers, then each body.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub heads: Vec<(String, Vec<(String, String)>)>,
    pub bodies: Vec<(usize, String)>,
    pub exit: i32,
}

/// Runs the case with curl against `base` (with curl `options`); bodies and heads go to
/// files in `dir`. Both requests go on one connection, except with HTTP/2 prior knowledge,
/// which this curl (7.88, bug 10634) cannot reuse: there each request is a curl of its own.
pub fn run_curl(case: &Case, base: &str, options: &[&str], dir: &Path, tag: &str) -> Answer {
    let url = format!("{base}{}", case.path);
    let bodies: Vec<PathBuf> = (0..2).map(|i| dir.join(format!("{tag}.body{i}"))).collect();
    let runs: Vec<&[PathBuf]> =
        if options.contains(&"--http2-prior-knowledge") { bodies.chunks(1).collect() } else { vec![&bodies[..]] };
    let (mut text, mut exit) = (String::new(), 0);
    for (i, run) in runs.into_iter().enumerate() {
        let heads = dir.join(format!("{tag}.heads{i}"));
        let mut cmd = curl(case, dir, &heads, options);
        for b in run {
            // With -I curl writes the heads as the "body"; a HEAD's body is nothing at all.
            let to = if case.head { Path::new("/dev/null") } else { b.as_path() };
            cmd.arg("-o").arg(to).arg(&url);
        }
        let out = cmd.output().expect("run curl");
        text += &std::fs::read_to_string(&heads).unwrap_or_default();
        exit = if exit == 0 { out.status.code().unwrap_or(-1) } else { exit };
    }
    let bodies = bodies.iter().map(|b| std::fs::read(b).unwrap_or_default()).map(|b| (b.len(), digest(&b))).collect();
    Answer { heads: parse_heads(&text), bodies, exit }
}

/// curl with the case's headers, method and upload, its heads dumped to `heads`.
fn curl(case: &Case, dir: &Path, heads: &Path, options: &[&str]) -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10", "-D"]).arg(heads).args(options);
    for h in case.headers {
        cmd.args(["-H", h]);
    }
    if case.head {
        cmd.arg("-I");
    }
    if let Some(up) = case.upload {
        let file = dir.join("upload");
        if !file.exists() {
            write_file(&file, up.len);
        }
        cmd.arg("--data-binary").arg(format!("@{}", file.display()));
        cmd.args(["-H", "content-type: application/octet-stream"]);
        cmd.args(["-H", if up.expect { "expect: 100-continue" } else { "expect:" }]);
        if up.chunked {
            cmd.args(["-H", "transfer-encoding: chunked"]);
        }
    }
    cmd
}

fn digest(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    crate::big::hex(&Sha256::digest(b))
}

/// Splits curl's header dump into heads: status (`HTTP/1.1 200`, the reason left out) and
/// lower-cased headers. Trailers come after the last head's blank line as a head of their
/// own with an empty first line.
pub fn parse_heads(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut heads: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut open = false;
    for line in text.split("\r\n").flat_map(|l| l.split('\n')) {
        if line.is_empty() {
            open = false;
        } else if line.starts_with("HTTP/") {
            let status: Vec<&str> = line.split_whitespace().take(2).collect();
            heads.push((status.join(" "), Vec::new()));
            open = true;
        } else if let Some((k, v)) = line.split_once(':') {
            if !open {
                heads.push((String::new(), Vec::new()));
                open = true;
            }
            if let Some(last) = heads.last_mut() {
                last.1.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
    }
    heads
}

/// What a proxy may change: the order of fields of different names, hop-by-hop and per-hop framing (whether a body is chunked),
/// the date, and a content-length the upstream did not send (the proxy may frame a body
/// it knows the size of). A content-length the upstream did send must arrive unchanged.
pub fn relevant(answer: &Answer, direct: &Answer) -> Vec<(String, Vec<(String, String)>)> {
    const HOP: &[&str] = &["date", "connection", "keep-alive", "transfer-encoding", "proxy-connection"];
    let direct_has_length =
        |i: usize| direct.heads.get(i).is_some_and(|(_, h)| h.iter().any(|(k, _)| k == "content-length"));
    answer
        .heads
        .iter()
        .enumerate()
        .map(|(i, (status, headers))| {
            let keep = |k: &str| !HOP.contains(&k) && (k != "content-length" || direct_has_length(i));
            let mut kept: Vec<(String, String)> = headers.iter().filter(|(k, _)| keep(k)).cloned().collect();
            // Fields of different names may come in any order; of one name, in the same.
            kept.sort_by(|a, b| a.0.cmp(&b.0));
            (status.clone(), kept)
        })
        .collect()
}

/// Runs `case` straight at its upstream and through weir in `shape`, and asserts the two
/// answers agree in status, headers that matter and body bytes.
pub fn differential(shape: Shape, case: Case) {
    let nginx = Nginx::start();
    let upstream = match case.upstream {
        Upstream::Nginx => nginx.port,
        Upstream::Raw => raw_server(),
    };
    let port = free_port();
    let dir = TempDir::new();
    if matches!(shape, Shape::TlsMux | Shape::TlsCodec) {
        crate::tls::make_pki(&dir.0);
    }
    let mut weir = Weir::start(&shape.script(port, upstream, &dir.0), &[]);
    weir.wait_listening();
    let direct = run_curl(&case, &format!("http://127.0.0.1:{upstream}"), &[], &dir.0, "direct");
    assert_eq!(direct.exit, 0, "curl straight to the upstream failed: {direct:?}\nnginx: {}", nginx.errors());
    assert!(!direct.heads.is_empty(), "no answer straight from the upstream");
    let started = std::time::Instant::now();
    let (base, options) = shape.client(port);
    let proxied = shape.normalise(run_curl(&case, &base, options, &dir.0, "proxied"));
    let took = started.elapsed();
    let context = format!("{shape:?} {case:?}: took {took:?}\nweir stderr:\n{}", weir.stderr().join("\n"));
    assert_eq!(proxied.exit, 0, "curl through weir failed; {context}");
    assert_eq!(relevant(&proxied, &direct), relevant(&direct, &direct), "heads differ; {context}");
    assert_eq!(proxied.bodies, direct.bodies, "bodies differ (size, sha256); {context}");
    if let Some(up) = case.upload {
        let want = format!("{} {}", up.len, crate::big::pattern_digest(SEED, up.len));
        let got = direct.heads.last().and_then(|(_, h)| h.iter().find(|(k, _)| k == "x-got").map(|(_, v)| v.clone()));
        assert_eq!(got, Some(want), "nginx's upstream did not get the upload straight from curl");
    }
}
