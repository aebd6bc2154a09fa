//! `http.Agent`, `http.Match` and `logging`'s `toHTTP`, run by the built `weir` binary
//! against a real python3 HTTP server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use weir_tests::*;

/// Answers each request with one line: method, path, the connection's number, the `host`
/// and `x-a` headers and the body; each POST body also goes to stdout after the port.
const SERVER: &str = r#"
import http.server, socketserver, sys, itertools
count = itertools.count(1)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def setup(self):
        super().setup()
        self.conn = next(count)
    def do_GET(self): self.reply(b'')
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('content-length') or 0))
        print('POST', self.path, 'conn=%d' % self.conn, repr(body.decode()), flush=True)
        self.reply(body)
    def reply(self, body):
        out = '%s %s conn=%d host=%s x=%s body=%s' % (self.command, self.path, self.conn,
            self.headers.get('host'), self.headers.get('x-a'), body.decode())
        out = out.encode()
        self.send_response(200)
        self.send_header('content-length', str(len(out)))
        self.send_header('etag', '"v1"')
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// SERVER over TLS, with the certificate and key given as its arguments.
const TLS_SERVER: &str = r#"
import ssl
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = c.wrap_socket(s.socket, server_side=True)
"#;

struct Server {
    child: Child,
    port: u16,
    lines: BufReader<std::process::ChildStdout>,
}

impl Server {
    fn start() -> Server {
        Server::start_with(SERVER.to_string(), &[])
    }

    /// The server over TLS with `cert` and `key` (PEM files).
    fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Server {
        let code = SERVER.replace("print(s.server_address[1]", &format!("{TLS_SERVER}\nprint(s.server_address[1]"));
        Server::start_with(code, &[cert.to_str().unwrap(), key.to_str().unwrap()])
    }

    fn start_with(code: String, args: &[&str]) -> Server {
        let mut child = Command::new("python3")
            .args(["-c", &code])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let mut port = String::new();
        lines.read_line(&mut port).unwrap();
        Server { child, port: port.trim().parse().expect("the server's port"), lines }
    }

    /// The next line the server printed.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.lines.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `script` to its `pipy.exit(0)`; returns its stdout lines.
fn run(script: &str) -> Vec<String> {
    let mut weir = Weir::start(script, &[]);
    let code = weir.wait_exit(Duration::from_secs(20));
    assert_eq!(code, Some(0), "stderr:\n{}", weir.stderr().join("\n"));
    weir.stdout()
}

#[test]
fn requests_carry_headers_and_bodies_and_reuse_one_connection() {
    let server = Server::start();
    let script = format!(
        "var a = new http.Agent('127.0.0.1:{port}')\n\
         a.request('GET', '/one', {{ 'x-a': 'hi' }}).then(r => {{\n\
           println(r.head.status, r.head.headers.etag, r.body.toString())\n\
           return a.request('POST', '/two', {{ host: 'example' }}, 'text body')\n\
         }}).then(r => {{\n\
           println(r.body.toString())\n\
           return a.request(new Message({{ method: 'POST', path: '/three' }}, new Data('data body')))\n\
         }}).then(r => {{\n\
           println(r.body.toString())\n\
           return a.request('GET', '/four')\n\
         }}).then(r => {{ println(r.body.toString()); pipy.exit(0) }})\n",
        port = server.port
    );
    let host = format!("127.0.0.1:{}", server.port);
    assert_eq!(
        run(&script),
        [
            format!("200 \"v1\" GET /one conn=1 host={host} x=hi body="),
            "POST /two conn=1 host=example x=None body=text body".to_string(),
            format!("POST /three conn=1 host={host} x=None body=data body"),
            format!("GET /four conn=1 host={host} x=None body="),
        ]
    );
}

#[test]
fn with_max_queue_0_requests_at_once_queue_in_order_on_one_connection() {
    let server = Server::start();
    let script = format!(
        "var a = new http.Agent('127.0.0.1:{port}', {{ maxQueue: 0 }})\n\
         Promise.all([1, 2, 3, 4].map(i => a.request('POST', '/p' + i, null, 'b' + i))).then(rs => {{\n\
           rs.forEach(r => println(r.body.toString()))\n\
           pipy.exit(0)\n\
         }})\n",
        port = server.port
    );
    let host = format!("127.0.0.1:{}", server.port);
    let expected: Vec<String> = (1..=4).map(|i| format!("POST /p{i} conn=1 host={host} x=None body=b{i}")).collect();
    assert_eq!(run(&script), expected);
}

#[test]
fn tls_option_makes_https_requests_checked_against_trusted() {
    let pki = TempDir::new();
    weir_tests::tls::make_pki(&pki.0);
    let server = Server::start_tls(&pki.0.join("a.crt"), &pki.0.join("a.key"));
    let script = format!(
        "var ca = new crypto.Certificate(os.read('{ca}'))\n\
         var a = new http.Agent('localhost:{port}', {{ tls: {{ sni: 'localhost', trusted: [ca] }} }})\n\
         a.request('GET', '/secure').then(r => {{ println(r.head.status, r.body.toString()); pipy.exit(0) }})\n",
        ca = pki.0.join("ca.crt").display(),
        port = server.port
    );
    assert_eq!(run(&script), [format!("200 GET /secure conn=1 host=localhost:{} x=None body=", server.port)]);
}

#[test]
fn a_refused_connection_answers_as_pipy_does_with_a_502() {
    let port = free_port();
    let script = format!(
        "new http.Agent('127.0.0.1:{port}').request('GET', '/').then(\n\
           r => println(r.head.status, r.head.statusText),\n\
           e => println('rejected', e.message),\n\
         ).then(() => pipy.exit(0))\n"
    );
    let mut weir = Weir::start(&script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(20)), Some(0));
    assert_eq!(weir.stdout(), ["502 Connection Refused"]);
    let stderr = weir.stderr().join("\n");
    assert!(stderr.contains(&format!("127.0.0.1:{port}: ConnectionRefused")), "stderr:\n{stderr}");
}

#[test]
fn match_returns_the_parameters_or_null() {
    let script = "var m = new http.Match('/users/{id}/files/*')\n\
         println(JSON.stringify(m('/users/7/files/a/b.txt?x=1')))\n\
         println(JSON.stringify(m({ path: '/users/8/files/c' })), m('/users/7'), m('/groups/7/files/x'))\n\
         try { new http.Match('users') } catch (e) { println(e.message) }\n\
         pipy.exit(0)\n";
    assert_eq!(
        run(script),
        [r#"{"id":"7","*":"a/b.txt"}"#, r#"{"id":"8","*":"c"} null null"#, "path pattern must begin with '/'"]
    );
}

#[test]
fn to_http_posts_lines_in_batches() {
    let mut server = Server::start();
    let script = format!(
        "var l = new logging.TextLogger('t').toHTTP('http://127.0.0.1:{port}/log', {{\n\
           batch: {{ size: 4, timeout: 0.2, separator: '|' }},\n\
         }})\n\
         for (var i = 0; i < 10; i++) l.log('line', i)\n\
         new Timeout(1).wait().then(() => pipy.exit(0))\n",
        port = server.port
    );
    let mut weir = Weir::start(&script, &[]);
    let posts: Vec<String> = (0..3).map(|_| server.line()).collect();
    assert_eq!(
        posts,
        [
            "POST /log conn=1 'line 0|line 1|line 2|line 3'",
            "POST /log conn=1 'line 4|line 5|line 6|line 7'",
            "POST /log conn=1 'line 8|line 9'",
        ]
    );
    assert_eq!(weir.wait_exit(Duration::from_secs(20)), Some(0));
}

#[test]
fn to_http_drops_lines_past_its_buffer_limit_and_counts_them() {
    let port = free_port();
    let script = format!(
        "var l = new logging.JSONLogger('j').toHTTP('http://127.0.0.1:{port}/', {{ batch: {{ size: 1 }}, bufferLimit: 20 }})\n\
         for (var i = 0; i < 10; i++) l.log({{ i }})\n\
         pipy.exit(0)\n"
    );
    let mut weir = Weir::start(&script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(20)), Some(0));
    let stderr = weir.stderr().join("\n");
    assert!(stderr.contains("over bufferLimit: dropping lines"), "stderr:\n{stderr}");
}
