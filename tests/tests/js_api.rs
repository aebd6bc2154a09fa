//! js-api/ against the runtime and against the scripts.
//!
//! The runtime side is asked, not read: the built binary runs tests/scripts/runtime-names.js,
//! which lists every global, class member, namespace member and filter of a worker's JS
//! context. The declaration side is asked too: js-api/tools/api-names.js lists what
//! js-api/*.d.ts declare, through the TypeScript compiler. A name on one side only fails.
//!
//! Needs Node and js-api/node_modules (`cargo xtask test` installs both).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use weir_tests::{TempDir, weir_bin, workspace};

/// Globals and members the engine has that TypeScript's standard library does not declare:
/// `globalThis` and `undefined` are the language's own, `TypedArray` is Boa's name for the
/// intrinsic the spec leaves unnamed, and `JSON.rawJSON`/`JSON.isRawJSON` are a proposal
/// Boa implements. None of them is Weir's.
const ENGINE_EXTRAS: &[&str] = &["globalThis", "undefined", "TypedArray", "JSON.rawJSON", "JSON.isRawJSON"];

fn js_api() -> PathBuf {
    workspace().join("js-api")
}

fn node_modules_ready() {
    let ts = js_api().join("node_modules/typescript/package.json");
    assert!(ts.exists(), "{} is missing: run `npm ci --prefix js-api` (`cargo xtask test` does it)", ts.display());
}

/// What the declarations in `dir` say, as js-api/tools/api-names.js prints it.
struct Declared {
    /// `global X` and `member X.y` / `member X#y` lines.
    names: BTreeSet<String>,
    /// Standard globals (`Array`) and the library's members of augmented ones (`JSON.parse`).
    standard: BTreeSet<String>,
    /// Standard globals the declarations add members to (`JSON`).
    augmented: BTreeSet<String>,
}

fn declared(dir: &Path) -> Result<Declared, String> {
    node_modules_ready();
    let out = Command::new("node")
        .arg(js_api().join("tools/api-names.js"))
        .arg(dir)
        .output()
        .expect("run node (install Node.js, or run `cargo xtask test`)");
    if !out.status.success() {
        return Err(format!(
            "api-names.js failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut d = Declared { names: BTreeSet::new(), standard: BTreeSet::new(), augmented: BTreeSet::new() };
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        match line.split_once(' ') {
            Some(("standard", n)) => d.standard.insert(n.to_string()),
            Some(("augmented", n)) => d.augmented.insert(n.to_string()),
            Some(("global" | "member", _)) => d.names.insert(line.to_string()),
            _ => panic!("api-names.js printed {line:?}"),
        };
    }
    Ok(d)
}

/// What a worker's JS context of the built binary has.
fn registered() -> Vec<String> {
    let script = workspace().join("tests/scripts/runtime-names.js");
    let out = Command::new(weir_bin()).arg(&script).output().expect("run weir");
    assert!(out.status.success(), "weir {}: {}", script.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
}

/// The global a `global X` / `member X.y` / `member X#y` / `member pipy()#y` line is about.
fn root(line: &str) -> &str {
    let name = line.split_once(' ').map_or(line, |(_, n)| n);
    name.split(['.', '#', '(']).next().unwrap_or(name)
}

fn name(line: &str) -> &str {
    line.split_once(' ').map_or(line, |(_, n)| n)
}

/// Every name on one side only, each on a line that says which side has it. Standard
/// globals are left to TypeScript's library, except the members js-api adds to them.
fn compare(runtime: &[String], declared: &Declared) -> Vec<String> {
    let standard = |n: &str| declared.standard.contains(n) || ENGINE_EXTRAS.contains(&n);
    let ours: BTreeSet<String> = runtime
        .iter()
        .filter(|line| {
            let (r, n) = (root(line), name(line));
            if !standard(r) {
                return true;
            }
            let depth = n.matches(['.', '#']).count();
            declared.augmented.contains(r) && depth == 1 && !standard(n)
        })
        .cloned()
        .collect();
    let mut problems = Vec::new();
    for line in ours.difference(&declared.names) {
        problems.push(format!("registered in the runtime but not declared in js-api/*.d.ts: {}", name(line)));
    }
    for line in declared.names.difference(&ours) {
        problems.push(format!("declared in js-api/*.d.ts but not registered in the runtime: {}", name(line)));
    }
    problems
}

#[test]
fn declarations_name_exactly_what_the_runtime_registers() {
    let problems = compare(&registered(), &declared(&js_api()).unwrap());
    assert!(
        problems.is_empty(),
        "js-api/ and the runtime disagree:\n{}\n(a filter is declared in PipelineFilters in js-api/pipeline.d.ts, \
         a global in js-api/core.d.ts; see js-api/README.md)",
        problems.join("\n")
    );
}

#[test]
fn runtime_lists_the_filters_and_the_globals() {
    // The comparison is only as good as the listing: make sure it sees filters and classes.
    let runtime = registered();
    for expected in [
        "global pipy",
        "global Data",
        "member PipelineDesigner#connect",
        "member pipy()#listen",
        "member algo.URLRouter#find",
    ] {
        assert!(runtime.iter().any(|l| l == expected), "{expected} is not listed:\n{}", runtime.join("\n"));
    }
}

#[test]
fn a_filter_registered_without_a_declaration_is_named() {
    // As the runtime would list a filter added to filters::ALL and nowhere else.
    let declared = declared(&js_api()).unwrap();
    let mut runtime = registered();
    runtime.push("member PipelineDesigner#undeclaredFilter".into());
    runtime.push("member pipy()#undeclaredFilter".into());
    runtime.push("global UndeclaredGlobal".into());
    let problems = compare(&runtime, &declared);
    assert_eq!(
        problems,
        [
            "registered in the runtime but not declared in js-api/*.d.ts: UndeclaredGlobal",
            "registered in the runtime but not declared in js-api/*.d.ts: PipelineDesigner#undeclaredFilter",
            "registered in the runtime but not declared in js-api/*.d.ts: pipy()#undeclaredFilter",
        ]
    );
}

#[test]
fn a_declaration_dropped_from_js_api_is_named() {
    // A scratch js-api/ whose pipeline.d.ts lost muxHTTP and whose core.d.ts gained a global.
    let scratch = TempDir::new();
    for entry in std::fs::read_dir(js_api()).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if !file.ends_with(".d.ts") {
            continue;
        }
        let mut text = std::fs::read_to_string(&path).unwrap();
        if file == "pipeline.d.ts" {
            text = text.lines().filter(|l| !l.trim_start().starts_with("muxHTTP(")).collect::<Vec<_>>().join("\n");
        }
        if file == "core.d.ts" {
            text.push_str("\n/** Not in Weir. */\ndeclare function throttle(): void;\n");
        }
        std::fs::write(scratch.0.join(&file), text).unwrap();
    }
    let problems = compare(&registered(), &declared(&scratch.0).unwrap());
    assert_eq!(
        problems,
        [
            "registered in the runtime but not declared in js-api/*.d.ts: PipelineDesigner#muxHTTP",
            "registered in the runtime but not declared in js-api/*.d.ts: pipy()#muxHTTP",
            "declared in js-api/*.d.ts but not registered in the runtime: throttle",
        ]
    );
}

/// Runs tsc over `script` (in a scratch folder, beside the modules of the transparent-proxy
/// sample it imports) with the workspace's jsconfig.json and js-api/*.d.ts; returns its exit
/// success and output.
fn tsc(script: &str) -> (bool, String) {
    node_modules_ready();
    let dir = TempDir::new();
    for module in ["address.js", "scope.js", "preflight.js", "sweep.js"] {
        std::fs::copy(workspace().join("samples/bpf/transparent-proxy").join(module), dir.0.join(module)).unwrap();
    }
    std::fs::write(dir.0.join("main.js"), script).unwrap();
    let root = workspace().canonicalize().unwrap();
    let config = format!(
        r#"{{ "extends": "{}/jsconfig.json", "include": ["{}/js-api/*.d.ts", "main.js"] }}"#,
        root.display(),
        root.display()
    );
    std::fs::write(dir.0.join("jsconfig.json"), config).unwrap();
    let out = Command::new("node")
        .arg(js_api().join("node_modules/typescript/bin/tsc"))
        .args(["--noEmit", "--pretty", "false", "-p"])
        .arg(dir.0.join("jsconfig.json"))
        .output()
        .expect("run node");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn sample() -> String {
    std::fs::read_to_string(workspace().join("samples/bpf/transparent-proxy/main.js")).unwrap()
}

/// The baseline of the two below: what they report comes from their change alone.
#[test]
fn tsc_accepts_the_sample_as_it_is() {
    let (ok, out) = tsc(&sample());
    assert!(ok, "tsc failed on the sample:\n{out}");
}

#[test]
fn tsc_reports_a_misspelled_filter() {
    let script = sample().replacen(".decodeHTTPRequest()", ".decodeHTTPRequets()", 1);
    let (ok, out) = tsc(&script);
    assert!(!ok, "tsc accepted a misspelled filter:\n{out}");
    assert!(
        out.contains("main.js(")
            && out.contains("Property 'decodeHTTPRequets' does not exist")
            && out.contains("Did you mean 'decodeHTTPRequest'?"),
        "{out}"
    );
}

#[test]
fn tsc_reports_a_misspelled_option_and_a_bad_duration() {
    let script = sample()
        + "\npipy.listen(1, $=>$.connect('127.0.0.1:2', { retryCout: 3 }))\n"
        + "pipy.listen(2, $=>$.connect('127.0.0.1:2', { idleTimeout: '5 min' }))\n"
        + "pipy.listen(3, $=>$.fork().connect('127.0.0.1:2'))\n";
    let (ok, out) = tsc(&script);
    assert!(!ok, "{out}");
    assert!(out.contains("'retryCout' does not exist in type 'ConnectOptions'"), "{out}");
    assert!(out.contains(r#"Type '"5 min"' is not assignable to type 'Duration'"#), "{out}");
    assert!(out.contains("Property 'connect' does not exist on type 'Joint<"), "{out}");
}
