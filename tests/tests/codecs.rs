//! Protocol codecs run the way Pipy's own test/codec suite runs them: `pipy.read('input',
//! $=>$.decodeX().encodeX().tee('-'))` must print exactly the bytes of known messages, and the
//! codecs must talk to real clients where one is at hand.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weir_tests::*;

/// Runs `script` as main.js in a fresh folder holding `input`, and returns weir's exit code,
/// stdout and stderr. Weir must exit by itself once the file is read.
fn run_on(script: &str, input: &[u8]) -> (i32, Vec<u8>, String) {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("main.js"), script).unwrap();
    std::fs::write(dir.0.join("input"), input).unwrap();
    run_in(&dir.0)
}

fn run_in(dir: &Path) -> (i32, Vec<u8>, String) {
    let child = Command::new(weir_bin())
        .arg("main.js")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weir");
    let pid = child.id();
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let out = match rx.recv_timeout(Duration::from_secs(10) * slowdown()) {
        Ok(out) => out.expect("weir output"),
        Err(_) => {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("weir did not exit within {:?} of reading its input", started.elapsed());
        }
    };
    (out.status.code().unwrap_or(-1), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn pipy_read_feeds_a_file_through_a_pipeline_and_tee_writes_it_out() {
    // Bigger than one read, so the file goes through in several pieces.
    let input: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let dir = TempDir::new();
    std::fs::write(dir.0.join("input"), &input).unwrap();
    let script = "pipy.read('input', $=>$.tee('copy').tee('-', { append: true }))\n\
                  .then(() => console.log('read done'))\n";
    std::fs::write(dir.0.join("main.js"), script).unwrap();
    let (code, out, err) = run_in(&dir.0);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.len(), input.len());
    assert!(out == input, "stdout differs from the input");
    assert!(std::fs::read(dir.0.join("copy")).unwrap() == input, "the tee'd file differs");
    assert!(err.contains("read done"), "the promise of pipy.read settles: {err}");
    let (code, _, err) = run_on("pipy.read('missing', $=>$.tee('-')).catch(e => console.log('caught', e))", b"");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("caught cannot open file: missing"), "{err}");
}
