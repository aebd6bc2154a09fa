//! `$.use(module, name)` in the `$=>$` designer: a real curl request goes through a named
//! pipeline of another module, a legacy `pipy()` configuration or an ES module whose
//! default export holds pipeline templates.

use std::time::Duration;

use weir_tests::*;

/// Writes `files` (path, text) into a fresh codebase and runs weir on its `main.js`.
fn run(files: &[(&str, &str)]) -> Weir {
    Weir::start_codebase(files, &[], |c| c.current_dir(std::env::temp_dir()))
}

#[test]
fn designer_use_runs_a_named_pipeline_of_a_legacy_module() {
    let port = free_port();
    let main = format!("pipy.listen({port}, $=>$.use('lib/hello.js', 'serve'))\n");
    let hello = "pipy({ _n: 0 })\n.pipeline('serve').serveHTTP(() => new Message(`hello ${++_n}\\n`))\n";
    let mut weir = run(&[("main.js", &main), ("lib/hello.js", hello)]);
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{port}/");
    let (code, body, err) = curl(&[&url, &url]);
    assert_eq!(code, 0, "{err} {:?}", weir.stderr());
    assert_eq!(body, "hello 1\nhello 2\n");
}

#[test]
fn designer_use_runs_pipeline_templates_an_es_module_exports() {
    let port = free_port();
    let main = format!(
        "pipy.listen({port}, $=>$.demuxHTTP().to($=>$\n  .use('lib/m.js', 'greet')\n  .use('lib/bang.js')\n))\n"
    );
    let m = "export default {\n\
             \x20 greet: pipeline($=>$.replaceMessage(msg => new Message('hi ' + msg.head.path))),\n\
             }\n";
    let bang = "export default pipeline($=>$.replaceMessage(msg => new Message(msg.body.toString() + '!\\n')))\n";
    let mut weir = run(&[("main.js", &main), ("lib/m.js", m), ("lib/bang.js", bang)]);
    weir.wait_listening();
    let (code, body, err) = curl(&[&format!("http://127.0.0.1:{port}/x")]);
    assert_eq!(code, 0, "{err} {:?}", weir.stderr());
    assert_eq!(body, "hi /x!\n");
}

#[test]
fn designer_use_names_a_missing_pipeline() {
    let main = "pipeline($=>$\n  .use('m.js', 'nope')\n)\n";
    let mut weir = run(&[("main.js", main), ("m.js", "export default { a: pipeline($=>$.dummy()) }\n")]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    let err = weir.stderr().join("\n");
    assert!(err.contains("main.js:2:") && err.contains("pipeline not found in module m.js: nope"), "{err}");
}
