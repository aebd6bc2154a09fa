//! `pipy.exec` as Pipy has it: a command string split with Pipy's quoting, or an argv array;
//! stdout returned as Data; the options `stdin`, `env`, `stderr` and `onExit`.

use std::time::Duration;

use weir_tests::*;

#[test]
fn exec_quotes_like_pipy_and_takes_its_options() {
    let script = r#"
var out = pipy.exec('sh -c "echo \\"a  b\\"; echo oops >&2; exit 3"', {
  onExit: (code, err) => println('exit', code, err.toString().trim()),
})
println('out', out.toString().trim())
var merged = pipy.exec(['sh', '-c', 'echo one; echo two >&2'], { stderr: true })
println('merged', merged.toString().trim().split('\n').join(','))
println('stdin', pipy.exec('cat', { stdin: new Data('fed') }).toString())
println('env', pipy.exec(['/bin/sh', '-c', 'echo $WEIR_X-$HOME'], { env: { WEIR_X: 'y' } }).toString().trim())
"#;
    let mut weir = Weir::start(script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "stderr: {:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["exit 3 oops", "out a  b", "merged one,two", "stdin fed", "env y-"]);
    assert!(!weir.stderr().iter().any(|l| l.contains("oops")), "stderr is the onExit callback's: {:?}", weir.stderr());
}

/// An argument (or environment value) holding a NUL ends there, as a C string does on Pipy:
/// Pipy's port-interceptor sample passes interface names read from netlink, NUL included.
#[test]
fn exec_cuts_arguments_at_a_nul_as_c_strings_end() {
    let script = r#"
println(pipy.exec('echo test\0 egress').toString().trim())
println(pipy.exec(['echo', 'a\0b', 'c']).toString().trim())
println(pipy.exec(['/bin/sh', '-c', 'echo $X'], { env: { X: 'y\0z' } }).toString().trim())
"#;
    let mut weir = Weir::start(script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "stderr: {:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["test egress", "a c", "y"]);
}
