//! `new http.Match(pattern)`: a function of a path (or a request head) that returns the
//! pattern's parameters as an object, or `null` when the path does not match.
//!
//! As Pipy's (src/api/http.cpp): the pattern begins with `/`; each of its segments is a
//! literal (matched case-insensitively), `{name}` (one path segment, as `name`) or `*` (one
//! segment; as the last, everything left, as `*`). A trailing `/` of the path and what
//! follows `?` or `#` are ignored. The file is `matcher.rs` because `match` is Rust's.
//! Deviation: the instance is a plain function, so `m instanceof http.Match` is false.

use boa_engine::object::FunctionObjectBuilder;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsObject, JsResult, JsString, JsValue, NativeFunction, js_string};

use crate::js::type_error;

#[derive(Debug, Clone, PartialEq)]
enum Section {
    Literal(String),
    Param(String),
    Any,
}

#[derive(Debug, Clone)]
pub struct Pattern(Vec<Section>);

impl Pattern {
    pub fn parse(pattern: &str) -> Result<Pattern, &'static str> {
        let rest = pattern.strip_prefix('/').ok_or("path pattern must begin with '/'")?;
        if rest.is_empty() {
            return Ok(Pattern(Vec::new()));
        }
        let mut sections = Vec::new();
        for seg in rest.split('/') {
            sections.push(match seg {
                "" => return Err("invalid path pattern"),
                "*" => Section::Any,
                s if s.starts_with('*') => return Err("invalid path pattern"),
                s if s.starts_with('{') => match s.strip_suffix('}') {
                    Some(name) if s.len() >= 2 => Section::Param(name[1..].to_string()),
                    _ => return Err("invalid path pattern"),
                },
                s => Section::Literal(s.to_string()),
            });
        }
        Ok(Pattern(sections))
    }

    /// The parameters of `path` in pattern order, or `None` when it does not match.
    pub fn exec(&self, path: &str) -> Option<Vec<(String, String)>> {
        let b = path.as_bytes();
        let size = if b.last() == Some(&b'/') { b.len() - 1 } else { b.len() };
        let end_of = |from: usize, stops: &[u8]| (from..size).find(|&q| stops.contains(&b[q])).unwrap_or(size);
        let mut params = Vec::new();
        let (mut i, mut p) = (0, 0);
        while i < self.0.len() && p < size {
            if b[p] != b'/' {
                break;
            }
            p += 1;
            let mut q = end_of(p, b"/#?");
            if q == p {
                break;
            }
            match &self.0[i] {
                Section::Param(name) => params.push((name.clone(), path[p..q].to_string())),
                Section::Any if i + 1 == self.0.len() => {
                    q = end_of(q, b"#?");
                    params.push(("*".to_string(), path[p..q].to_string()));
                }
                Section::Any => {}
                Section::Literal(s) if s.eq_ignore_ascii_case(&path[p..q]) => {}
                Section::Literal(_) => break,
            }
            p = q;
            i += 1;
        }
        let rest_ok = p >= size || b[p] == b'#' || b[p] == b'?';
        (i == self.0.len() && rest_ok).then_some(params)
    }
}

pub const NAME: &str = "Match";

/// The `http.Match` constructor: it returns the matching function itself.
pub fn constructor(ctx: &mut Context) -> JsObject {
    FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(construct))
        .name(js_string!("Match"))
        .length(1)
        .constructor(true)
        .build()
        .into()
}

fn construct(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let text = match args.first() {
        Some(v) if v.is_string() => v.to_string(ctx)?.to_std_string_escaped(),
        _ => return Err(type_error("http.Match() takes a path pattern")),
    };
    let pattern = Pattern::parse(&text).map_err(type_error)?;
    let f = crate::js::function(ctx, pattern, call);
    Ok(f.into())
}

/// `m(path)` or `m(requestHead)`.
fn call(pattern: &Pattern, _: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let arg = args.first().cloned().unwrap_or_default();
    let path = if arg.is_string() {
        arg.to_string(ctx)?
    } else if let Some(head) = arg.as_object() {
        head.get(js_string!("path"), ctx)?.to_string(ctx)?
    } else {
        return Err(type_error("http.Match: argument #1 expects a string or an object"));
    };
    let Some(params) = pattern.exec(&path.to_std_string_escaped()) else { return Ok(JsValue::null()) };
    let mut obj = ObjectInitializer::new(ctx);
    for (name, value) in params {
        obj.property(JsString::from(name), JsString::from(value), Attribute::all());
    }
    Ok(obj.build().into())
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn exec(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
        let params = Pattern::parse(pattern).unwrap().exec(path)?;
        Some(params)
    }

    fn pairs(list: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    #[test]
    fn parameters_are_taken_from_their_segments() {
        assert_eq!(exec("/users/{id}/posts/{post}", "/users/7/posts/x1"), pairs(&[("id", "7"), ("post", "x1")]));
        assert_eq!(exec("/users/{id}", "/users/7/"), pairs(&[("id", "7")]));
        assert_eq!(exec("/users/{id}", "/users/7?a=1#f"), pairs(&[("id", "7")]));
        assert_eq!(exec("/Users/{id}", "/uSERS/7"), pairs(&[("id", "7")]));
    }

    #[test]
    fn paths_of_another_shape_do_not_match() {
        assert_eq!(exec("/users/{id}", "/users"), None);
        assert_eq!(exec("/users/{id}", "/users/7/more"), None);
        assert_eq!(exec("/users/{id}", "/people/7"), None);
        assert_eq!(exec("/users/{id}", "/users//"), None);
        assert_eq!(exec("/", "/x"), None);
        assert_eq!(exec("/", "/"), pairs(&[]));
    }

    #[test]
    fn an_asterisk_matches_one_segment_or_as_the_last_the_rest() {
        assert_eq!(exec("/a/*/c", "/a/b/c"), pairs(&[]));
        assert_eq!(exec("/a/*/c", "/a/b/d"), None);
        assert_eq!(exec("/files/*", "/files/x/y/z.txt?q"), pairs(&[("*", "x/y/z.txt")]));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(Pattern::parse("users").is_err());
        assert!(Pattern::parse("/a//b").is_err());
        assert!(Pattern::parse("/{x").is_err());
        assert!(Pattern::parse("/*x").is_err());
    }
}
