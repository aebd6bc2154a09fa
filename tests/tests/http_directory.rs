//! `http.Directory` and `http.File` with real curl: index files, content types, a byte
//! range, a precompressed `.gz` picked by `accept-encoding`, gzip asked for by the
//! `compression` callback, 404 for a missing file, and no way out of the folder through
//! `..` or a symbolic link.

use std::io::Write;
use std::path::Path;

use weir_tests::*;

/// 10 000 bytes that differ from one offset to the next, so a wrong range shows.
fn big_text() -> Vec<u8> {
    (0..10_000u32).map(|i| b'a' + ((i * 7 + i / 26) % 26) as u8).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A folder `www` beside the script, a secret file outside it, and links in and out.
fn site(dir: &Path) {
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("docs")).unwrap();
    std::fs::write(www.join("index.html"), "<h1>home</h1>\n").unwrap();
    std::fs::write(www.join("docs/index.html"), "<h1>docs</h1>\n").unwrap();
    std::fs::write(www.join("big.txt"), big_text()).unwrap();
    std::fs::write(www.join("app.js"), "console.log('plain')\n").unwrap();
    std::fs::write(www.join("app.js.gz"), gzip(b"console.log('from the gz')\n")).unwrap();
    std::fs::write(dir.join("secret.txt"), "top secret\n").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), www.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(www.join("index.html"), www.join("alias.html")).unwrap();
}

fn start(port: u16, gz_port: u16) -> Weir {
    let dir = TempDir::new();
    site(&dir.0);
    let script = format!(
        "var www = new http.Directory('www')\n\
         var gz = new http.Directory('www', {{ compression: (req, accepted, path, size) => accepted.gzip && size > 1000 && 'gzip' }})\n\
         var none = new Message({{ status: 404 }}, 'none')\n\
         pipy.listen({port}, $=>$.serveHTTP(req => www.serve(req) || none))\n\
         pipy.listen({gz_port}, $=>$.serveHTTP(req => gz.serve(req) || none))\n"
    );
    let path = dir.0.join("main.js");
    std::fs::write(&path, script).unwrap();
    let mut weir = Weir::run_file(&path, &[], dir, |c| c);
    weir.wait_listening();
    weir
}

/// (status line and headers, body) of `curl -i` with `args`.
fn get(args: &[&str]) -> (String, String) {
    let mut all = vec!["-i", "--path-as-is"];
    all.extend_from_slice(args);
    let (code, out, err) = curl(&all);
    assert_eq!(code, 0, "curl {args:?}: {err}");
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn a_directory_serves_index_files_with_their_content_types_and_404_for_the_rest() {
    let (port, gz_port) = (free_port(), free_port());
    let _weir = start(port, gz_port);
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let (head, body) = get(&[&url("/")]);
    assert!(head.starts_with("http/1.1 200") && head.contains("content-type: text/html"), "{head}");
    assert_eq!(body, "<h1>home</h1>\n");
    let (_, body) = get(&[&url("/docs?x=1")]);
    assert_eq!(body, "<h1>docs</h1>\n", "a folder's index file, the query left out");
    let (head, _) = get(&[&url("/big.txt")]);
    assert!(head.contains("content-type: text/plain") && head.contains("content-length: 10000"), "{head}");
    let (head, body) = get(&[&url("/missing.html")]);
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert_eq!(body, "none");
}

#[test]
fn a_range_request_gets_206_with_those_bytes_and_416_past_the_end() {
    let (port, gz_port) = (free_port(), free_port());
    let _weir = start(port, gz_port);
    let url = format!("http://127.0.0.1:{port}/big.txt");
    let (head, body) = get(&["-r", "1000-1099", &url]);
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert!(head.contains("content-range: bytes 1000-1099/10000"), "{head}");
    assert_eq!(body.as_bytes(), &big_text()[1000..1100]);
    let (head, body) = get(&["-H", "range: bytes=-10", &url]);
    assert!(head.contains("content-range: bytes 9990-9999/10000"), "{head}");
    assert_eq!(body.as_bytes(), &big_text()[9990..]);
    let (head, _) = get(&["-r", "20000-", &url]);
    assert!(head.starts_with("http/1.1 416") && head.contains("content-range: bytes */10000"), "{head}");
}

#[test]
fn gzip_is_the_precompressed_variant_or_what_the_compression_callback_asks_for() {
    let (port, gz_port) = (free_port(), free_port());
    let _weir = start(port, gz_port);
    let app = format!("http://127.0.0.1:{port}/app.js");
    let (head, body) = get(&["--compressed", &app]);
    assert!(head.contains("content-encoding: gzip") && head.contains("content-type: application/javascript"), "{head}");
    assert_eq!(body, "console.log('from the gz')\n");
    let (head, body) = get(&[&app]);
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, "console.log('plain')\n");
    // No variant beside big.txt: gzipped only where the callback says so.
    let (head, body) = get(&["--compressed", &format!("http://127.0.0.1:{gz_port}/big.txt")]);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert_eq!(body.as_bytes(), big_text());
    let (head, _) = get(&["--compressed", &format!("http://127.0.0.1:{port}/big.txt")]);
    assert!(!head.contains("content-encoding"), "{head}");
}

#[test]
fn nothing_outside_the_folder_is_served_through_dot_dot_or_a_link() {
    let (port, gz_port) = (free_port(), free_port());
    let _weir = start(port, gz_port);
    for path in ["/../secret.txt", "/docs/../../secret.txt", "/../../../../etc/passwd", "/leak.txt"] {
        let (head, body) = get(&[&format!("http://127.0.0.1:{port}{path}")]);
        assert!(head.starts_with("http/1.1 404"), "{path}: {head}");
        assert!(!body.contains("secret") && !body.contains("root:"), "{path}: {body}");
    }
    // A link that stays inside is followed.
    let (head, body) = get(&[&format!("http://127.0.0.1:{port}/alias.html")]);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, "<h1>home</h1>\n");
}

#[test]
fn http_file_to_message_picks_the_variant_the_request_accepts() {
    let dir = TempDir::new();
    site(&dir.0);
    let port = free_port();
    let script = format!(
        "var app = http.File.from('/www/app.js')\n\
         println(http.File.from('/www/nothing.js'))\n\
         println(new http.File('/www/docs').toMessage().body.toString().trim())\n\
         pipy.listen({port}, $=>$.serveHTTP(req => app.toMessage(req.head.headers['accept-encoding'])))\n"
    );
    let path = dir.0.join("main.js");
    std::fs::write(&path, script).unwrap();
    let mut weir = Weir::run_file(&path, &[], dir, |c| c);
    weir.wait_listening();
    assert_eq!(weir.wait_stdout_lines(2, std::time::Duration::from_secs(5)), ["null", "<h1>docs</h1>"]);
    let url = format!("http://127.0.0.1:{port}/");
    let (head, body) = get(&["--compressed", &url]);
    assert!(head.contains("content-encoding: gzip") && head.contains("content-type: application/javascript"), "{head}");
    assert_eq!(body, "console.log('from the gz')\n");
    let (head, body) = get(&[&url]);
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, "console.log('plain')\n");
}
