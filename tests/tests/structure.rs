//! The shape of runtime/src that docs/architecture.md promises: files under 600 lines,
//! functions under 80, and the layers pointing one way. Reads the sources; runs no binary.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/src")
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read runtime/src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read source");
            out.push((path, text));
        }
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Whether `line` opens a function with a body: `fn` after its qualifiers, not a
/// declaration ending in `;`.
fn opens_fn(line: &str) -> bool {
    let mut rest = line.trim_start();
    for q in ["pub(crate) ", "pub(super) ", "pub ", "const ", "async ", "unsafe ", "extern \"C\" "] {
        rest = rest.strip_prefix(q).unwrap_or(rest);
    }
    rest.starts_with("fn ") && !line.trim_end().ends_with(';') && !line.trim_end().ends_with("{}")
}

/// Functions longer than `MAX_FN_LINES`, from the `fn` line to the `}` at its indent
/// (rustfmt puts it there), as (lines, where).
fn long_functions(path: &Path, text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut long = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !opens_fn(line) {
            continue;
        }
        let at = indent(line);
        let end = lines[i + 1..].iter().position(|l| indent(l) == at && l.trim_start().starts_with('}'));
        if let Some(end) = end
            && end + 2 > MAX_FN_LINES
        {
            long.push((end + 2, format!("{}:{}: {}", path.display(), i + 1, line.trim())));
        }
    }
    long
}

#[test]
fn no_runtime_file_is_over_600_lines() {
    let long: Vec<String> = sources(&src())
        .iter()
        .filter(|(_, t)| t.lines().count() > MAX_FILE_LINES)
        .map(|(p, t)| format!("{}: {} lines", p.display(), t.lines().count()))
        .collect();
    assert!(long.is_empty(), "files over {MAX_FILE_LINES} lines:\n{}", long.join("\n"));
}

#[test]
fn no_runtime_function_is_over_80_lines() {
    let long: Vec<String> = sources(&src())
        .iter()
        .flat_map(|(p, t)| long_functions(p, t))
        .map(|(n, at)| format!("{n} lines: {at}"))
        .collect();
    assert!(long.is_empty(), "functions over {MAX_FN_LINES} lines:\n{}", long.join("\n"));
}

/// The check itself finds a long function, so a pass above means something.
#[test]
fn the_length_check_sees_a_long_function() {
    let body: String = (0..MAX_FN_LINES).map(|i| format!("        let _x{i} = {i};\n")).collect();
    let text = format!("impl X {{\n    pub async fn f(&self) {{\n{body}    }}\n\n    fn g() {{}}\n}}\n");
    let long = long_functions(Path::new("x.rs"), &text);
    assert_eq!(long.len(), 1, "{long:?}");
    assert_eq!(long[0].0, MAX_FN_LINES + 2);
}

/// The layers of docs/architecture.md: (folder or file, what it must never name).
const LAYERS: &[(&str, &[&str])] = &[
    ("engine", &["crate::js", "crate::filters", "crate::worker"]),
    ("net", &["crate::js", "crate::filters", "crate::worker"]),
    ("codec", &["crate::js", "crate::filters", "crate::worker"]),
    ("bpf", &["crate::js", "crate::filters", "crate::worker"]),
    ("filters", &["crate::js", "crate::worker"]),
    ("args.rs", &["crate::js", "crate::worker"]),
    ("tls_material.rs", &["crate::js", "crate::filters", "crate::worker", "crate::net", "crate::engine"]),
    ("js", &["crate::worker"]),
];

#[test]
fn layers_point_one_way() {
    let mut wrong = Vec::new();
    for (layer, never) in LAYERS {
        let path = src().join(layer);
        let files = if path.is_dir() {
            sources(&path)
        } else {
            vec![(path.clone(), std::fs::read_to_string(&path).expect("read source"))]
        };
        for (p, text) in files {
            for (n, line) in text.lines().enumerate() {
                if let Some(name) = never.iter().find(|name| line.contains(*name)) {
                    wrong.push(format!("{}:{}: {layer} names {name}", p.display(), n + 1));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}
