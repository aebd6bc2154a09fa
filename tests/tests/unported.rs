//! A Pipy name Weir does not have yet fails the load with an error that names it, at the
//! script's line, instead of Boa's `TypeError: not a callable function`
//! (runtime/src/js/unported.rs).

use std::time::Duration;

use weir_tests::*;

/// Runs `script` as main.js; returns its exit code and stderr.
fn load(script: &str) -> (Option<i32>, String) {
    let dir = TempDir::new();
    let main = dir.0.join("main.js");
    std::fs::write(&main, script).unwrap();
    let mut weir = Weir::run_file(&main, &[], dir, |c| c);
    let code = weir.wait_exit(Duration::from_secs(10));
    (code, weir.stderr().join("\n"))
}

#[test]
fn a_pipy_configuration_method_weir_lacks_is_named_with_file_and_line() {
    let (code, err) = load("// a pipe\npipy()\n  .listen(8080)\n  .admin('/admin/x')\n");
    assert_eq!(code, Some(255), "{err}");
    assert!(err.contains("main.js:4:"), "{err}");
    assert!(err.contains("pipy().admin is a Pipy API Weir does not have yet"), "{err}");
    assert!(!err.contains("not a callable function"), "{err}");
}

#[test]
fn a_pipy_namespace_class_or_member_weir_lacks_is_named() {
    let cases = [
        ("pipy.mount('a', 'b')\n", "main.js:1:", "pipy.mount is a Pipy API"),
        ("\npipy.unmount('a')\n", "main.js:2:", "pipy.unmount is a Pipy API"),
        ("var f = pipy.patch\nf('a', 'b')\n", "main.js:2:", "pipy.patch is a Pipy API"),
        ("pipy()\n  .admin('/admin/x')\n", "main.js:2:", "pipy().admin is a Pipy API"),
    ];
    for (script, place, message) in cases {
        let (code, err) = load(script);
        assert_eq!(code, Some(255), "{script}: {err}");
        assert!(err.contains(place) && err.contains(message), "{script}: {err}");
    }
}

#[test]
fn names_weir_has_are_no_stand_ins() {
    let dir = TempDir::new();
    let main = dir.0.join("main.js");
    let script =
        "pipeline($=>$.decodeHTTPRequest().dump())\nprintln(new Netmask('10.0.0.0/8').size, typeof algo.Cache)\n";
    std::fs::write(&main, script).unwrap();
    let mut weir = Weir::run_file(&main, &[], dir, |c| c);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["16777216 function"]);
}

#[test]
fn a_script_may_define_its_own_value_under_a_stand_ins_name() {
    let dir = TempDir::new();
    let main = dir.0.join("main.js");
    let script = "var stats = 1\nlet http = 2\nfunction crypto() { return 3 }\nprintln(stats, http, crypto())\n";
    std::fs::write(&main, script).unwrap();
    let mut weir = Weir::run_file(&main, &[], dir, |c| c);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["1 2 3"]);
}
