//! `--log-file` and its rotation options, as Pipy has them: the log goes to the file as well
//! as to stderr, and a file that grows past its size is renamed with a time stamp in front.

use std::time::Duration;

use weir_tests::*;

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

#[test]
fn the_log_goes_to_the_file_too_and_rotates_by_size_keeping_the_count() {
    let logs = TempDir::new();
    let file = logs.0.join("weir.log");
    let script = "for (var i = 0; i < 40; i++) console.log('line', i)\npipy.exit(0)\n";
    let arg = format!("--log-file={}", file.display());
    let mut weir = Weir::start(script, &[&arg, "--log-file-max-size=400", "--log-file-max-count=2"]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    assert!(weir.stderr().iter().any(|l| l.ends_with("[INF] line 39")), "stderr keeps the log: {:?}", weir.stderr());
    let names = files(&logs.0);
    // 40 lines of about 36 bytes make 4 files of 400 bytes: the oldest rotated one is gone.
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names.iter().filter(|n| n.ends_with("-weir.log")).count(), 2, "{names:?}");
    let current = std::fs::read_to_string(&file).unwrap();
    assert!(current.ends_with("[INF] line 39\n") && current.len() <= 400, "{current}");
    for name in &names {
        let text = std::fs::read_to_string(logs.0.join(name)).unwrap();
        assert!(text.len() <= 400 && text.lines().all(|l| l.contains(" [INF] ")), "{name}: {text}");
    }
}

#[test]
fn a_log_file_that_cannot_be_written_stops_the_start_naming_it() {
    let mut weir = Weir::start("println('ran')", &["--log-file=/nonexistent-weir-dir/w.log"]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(1));
    assert!(weir.stdout().is_empty(), "the script must not run");
    assert!(weir.stderr().iter().any(|l| l.contains("--log-file /nonexistent-weir-dir/w.log")), "{:?}", weir.stderr());
}
