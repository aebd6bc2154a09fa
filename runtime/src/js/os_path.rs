//! `os.path`: `join`, `resolve`, `normalize`, `dirname`, `basename`, with Pipy's rules (its
//! src/utils.cpp), which are not Node's: `normalize` always gives an absolute path
//! (`a/./b` is `/a/b`), `dirname` of a bare name is `''`, and `resolve` of nothing is the
//! working directory.

use boa_engine::object::ObjectInitializer;
use boa_engine::{Context, JsObject, JsResult, JsString, JsValue, NativeFunction, js_string};

use super::type_error;

pub fn object(ctx: &mut Context) -> JsObject {
    ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(basename), js_string!("basename"), 2)
        .function(NativeFunction::from_fn_ptr(dirname), js_string!("dirname"), 1)
        .function(NativeFunction::from_fn_ptr(join), js_string!("join"), 0)
        .function(NativeFunction::from_fn_ptr(resolve), js_string!("resolve"), 0)
        .function(NativeFunction::from_fn_ptr(normalize), js_string!("normalize"), 1)
        .build()
}

/// `base` and `path` joined by exactly one slash.
fn join2(base: &str, path: &str) -> String {
    match (base.ends_with('/'), path.strip_prefix('/')) {
        (true, Some(rest)) => format!("{base}{rest}"),
        (true, None) | (false, Some(_)) => format!("{base}{path}"),
        (false, None) => format!("{base}/{path}"),
    }
}

/// Pipy's normalization: `.` and empty segments dropped, `..` removes the segment before
/// (never above the root), the result starts with `/`.
pub fn normalized(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// An absolute, normalized path: relative ones start at the working directory.
pub fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        return normalized(path);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    normalized(&format!("{}/{path}", cwd.display()))
}

fn strings(args: &[JsValue], ctx: &mut Context) -> JsResult<Vec<String>> {
    args.iter().map(|v| v.to_string(ctx).map(|s| s.to_std_string_escaped())).collect()
}

fn text(s: String) -> JsResult<JsValue> {
    Ok(JsString::from(s).into())
}

fn string_arg(args: &[JsValue], i: usize, what: &str) -> JsResult<String> {
    super::arg_str(args, i).ok_or_else(|| type_error(format!("os.path.{what}: a string is expected")))
}

fn join_all(parts: &[String]) -> String {
    let mut path = String::new();
    for p in parts.iter().filter(|p| !p.is_empty()) {
        path = if path.is_empty() { p.clone() } else { join2(&path, p) };
    }
    path
}

fn join(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    if args.is_empty() {
        return text(".".into());
    }
    text(join_all(&strings(args, ctx)?))
}

fn resolve(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let mut path = String::new();
    for p in strings(args, ctx)?.iter().filter(|p| !p.is_empty()) {
        path = if path.is_empty() || p.starts_with('/') { p.clone() } else { join2(&path, p) };
    }
    text(absolute(if path.is_empty() { "." } else { &path }))
}

fn normalize(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    text(normalized(&string_arg(args, 0, "normalize")?))
}

fn dirname(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let path = string_arg(args, 0, "dirname")?;
    text(path.rfind('/').map(|i| path[..i].to_string()).unwrap_or_default())
}

fn basename(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let path = string_arg(args, 0, "basename")?;
    let name = path.rfind('/').map(|i| &path[i + 1..]).unwrap_or(&path);
    match super::arg_str(args, 1) {
        Some(suffix) => text(name.strip_suffix(suffix.as_str()).unwrap_or(name).to_string()),
        None => text(name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::{join_all, join2, normalized};

    #[test]
    fn paths_as_pipy_makes_them() {
        assert_eq!(normalized("a/./b//c/../d"), "/a/b/d");
        assert_eq!(normalized("/../.."), "/");
        assert_eq!(join2("a/", "/b"), "a/b");
        assert_eq!(join2("a", "b"), "a/b");
        assert_eq!(join_all(&["".into(), "x".into(), "/y/".into(), "z".into()]), "x/y/z");
    }
}
