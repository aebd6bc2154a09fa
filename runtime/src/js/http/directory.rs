//! `http.Directory(path, options)`: a folder served to requests, as Pipy's `serve(request)`
//! does it: the request's path (normalized, its query left out) names a file under the
//! folder, else an index file of the folder it names (`options.index`, by default `index`
//! then `index.html`); `null` when there is none. The response has the file's content type
//! (Pipy's table, `options.contentTypes` as an object or a function, else
//! `options.defaultContentType`), and is the `.br` or `.gz` variant beside the file when the
//! request accepts it, else the file gzipped when `options.compression` asks for it.
//!
//! Beyond Pipy (see js-api/porting.md): a single `Range: bytes=` range gets a 206 of the plain
//! file (416 when it is past the end), no path leaves the folder, through `..` or a
//! symbolic link, and files are read at each request, not kept from the first.
//!
//! `fs: false` (the default) reads the folder relative to the script's, as Pipy's codebase;
//! `fs: true` relative to the working directory.

use std::path::{Path, PathBuf};

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace};

use super::content::{self, CONTENT_TYPES, OCTET_STREAM};
use super::range::{self, Range};
use crate::js::os_path::normalized as normalize;
use crate::js::state::with_state;
use crate::js::{arg_str, type_error};

#[derive(Trace, Finalize, JsData)]
pub struct Directory {
    #[unsafe_ignore_trace]
    root: PathBuf,
    #[unsafe_ignore_trace]
    index: Vec<String>,
    /// Extension to content type: Pipy's table, or `options.contentTypes` as an object.
    #[unsafe_ignore_trace]
    types: Vec<(String, String)>,
    #[unsafe_ignore_trace]
    default_type: String,
    content_types_f: Option<JsObject>,
    compression_f: Option<JsObject>,
}

impl Class for Directory {
    const NAME: &'static str = "Directory";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let path = arg_str(args, 0).ok_or_else(|| type_error("http.Directory() takes a path"))?;
        let options = args.get(1).and_then(|v| v.as_object());
        let get = |key: &str, ctx: &mut Context| match &options {
            Some(o) => o.get(JsString::from(key), ctx),
            None => Ok(JsValue::undefined()),
        };
        if get("tarball", ctx)?.to_boolean() {
            return Err(type_error("http.Directory: the tarball option is a Pipy API Weir does not have yet"));
        }
        let root = match get("fs", ctx)?.to_boolean() {
            true => PathBuf::from(&path),
            false => with_state(|s| s.script_dir.join(path.trim_start_matches('/'))),
        };
        let mut dir = Directory {
            root,
            index: vec!["index".into(), "index.html".into()],
            types: CONTENT_TYPES.iter().map(|(e, t)| (e.to_string(), t.to_string())).collect(),
            default_type: OCTET_STREAM.into(),
            content_types_f: None,
            compression_f: None,
        };
        let index = get("index", ctx)?;
        if let Some(a) = index.as_object().filter(|o| o.is_array()) {
            let n = a.get(JsString::from("length"), ctx)?.to_length(ctx)?;
            dir.index = (0..n)
                .map(|i| a.get(i, ctx)?.to_string(ctx))
                .map(|s| s.map(|s| s.to_std_string_escaped()))
                .collect::<JsResult<_>>()?;
        } else if !index.is_null_or_undefined() {
            dir.index = vec![index.to_string(ctx)?.to_std_string_escaped()];
        }
        let types = get("contentTypes", ctx)?;
        match types.as_object() {
            Some(f) if f.is_callable() => dir.content_types_f = Some(f),
            Some(o) => dir.types = pairs(&o, ctx)?,
            None => {}
        }
        let default_type = get("defaultContentType", ctx)?;
        if !default_type.is_null_or_undefined() {
            dir.default_type = default_type.to_string(ctx)?.to_std_string_escaped();
        }
        dir.compression_f = get("compression", ctx)?.as_object().filter(|f| f.is_callable());
        Ok(dir)
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(JsString::from("serve"), 1, NativeFunction::from_fn_ptr(serve));
        let mut types = ObjectInitializer::new(class.context());
        for (ext, t) in CONTENT_TYPES {
            types.property(JsString::from(*ext), JsString::from(*t), Attribute::all());
        }
        let types = types.build();
        class.static_property(JsString::from("defaultContentTypes"), types, Attribute::READONLY);
        Ok(())
    }
}

/// An object's own enumerable properties as text pairs.
fn pairs(o: &JsObject, ctx: &mut Context) -> JsResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for key in o.own_property_keys(ctx)? {
        let v = o.get(key.clone(), ctx)?;
        out.push((key.to_string(), v.to_string(ctx)?.to_std_string_escaped()));
    }
    Ok(out)
}

/// A file `serve` found, and what answering with it needs of the directory (copied out so
/// that no borrow is held across a callback).
struct Found {
    root: PathBuf,
    file: PathBuf,
    /// The request path that named it, an index file's name added.
    pathname: String,
    content_type: String,
    compression_f: Option<JsObject>,
}

fn serve(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let request = args.first().cloned().unwrap_or_default();
    let head = match request.as_object() {
        Some(o) => o.get(JsString::from("head"), ctx)?,
        None => return Err(type_error("serve() takes a request Message")),
    };
    let path = content::text_of(&head, "path", ctx)?.unwrap_or_default();
    let path = normalize(path.split('?').next().unwrap_or_default());
    let obj = this.as_object().ok_or_else(|| type_error("not an http.Directory"))?;
    let (mut found, ext, types_f) = {
        let d = obj.downcast_ref::<Directory>().ok_or_else(|| type_error("not an http.Directory"))?;
        let Some((file, pathname)) = locate(&d.root, &d.index, &path) else { return Ok(JsValue::null()) };
        let ext = extension(&pathname);
        let content_type = d.types.iter().find(|(e, _)| *e == ext).map(|(_, t)| t.clone());
        let content_type = content_type.unwrap_or_else(|| d.default_type.clone());
        let found =
            Found { root: d.root.clone(), file, pathname, content_type, compression_f: d.compression_f.clone() };
        (found, ext, d.content_types_f.clone())
    };
    if let Some(f) = types_f {
        let r =
            f.call(&JsValue::undefined(), &[request.clone(), JsString::from(found.pathname.as_str()).into()], ctx)?;
        let chosen = match r.as_object() {
            Some(o) => Some(o.get(JsString::from(ext.as_str()), ctx)?).filter(|v| !v.is_undefined()),
            None => Some(r).filter(|v| !v.is_null_or_undefined()),
        };
        if let Some(t) = chosen {
            found.content_type = t.to_string(ctx)?.to_std_string_escaped();
        }
    }
    respond(&found, &request, &head, ctx)
}

/// The file `path` names under `root`, or the first index file of the folder it names.
fn locate(root: &Path, index: &[String], path: &str) -> Option<(PathBuf, String)> {
    if let Some(f) = under(root, path) {
        return Some((f, path.to_string()));
    }
    let folder = if path.ends_with('/') { path.to_string() } else { format!("{path}/") };
    index.iter().find_map(|name| {
        let p = format!("{folder}{name}");
        under(root, &p).map(|f| (f, p))
    })
}

/// The regular file at `path` under `root`, if it is one and, symbolic links followed, is
/// still under `root`.
fn under(root: &Path, path: &str) -> Option<PathBuf> {
    let root = root.canonicalize().ok()?;
    let file = root.join(path.trim_start_matches('/')).canonicalize().ok()?;
    (file.starts_with(&root) && file.is_file()).then_some(file)
}

/// Pipy's extension of a served file: all after the first dot of its name, lower case.
fn extension(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or_default();
    name.split_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default()
}

/// The response for a found file: a range of it, a precompressed variant, the file
/// gzipped by request of `options.compression`, or the file.
fn respond(found: &Found, request: &JsValue, head: &JsValue, ctx: &mut Context) -> JsResult<JsValue> {
    let headers = match head.as_object() {
        Some(h) => h.get(JsString::from("headers"), ctx)?,
        None => JsValue::undefined(),
    };
    let ct = found.content_type.as_str();
    if let Some(spec) = content::text_of(&headers, "range", ctx)? {
        let len = std::fs::metadata(&found.file).map(|m| m.len()).unwrap_or(0);
        match range::parse(&spec, len) {
            Range::Whole => {}
            Range::Unsatisfiable => {
                let cr = format!("bytes */{len}");
                return content::response(416, &[("content-range", &cr)], None, ctx);
            }
            Range::Part(first, last) => {
                let Ok(body) = range::read(&found.file, first, last) else { return Ok(JsValue::null()) };
                let cr = format!("bytes {first}-{last}/{len}");
                return content::response(206, &[("content-type", ct), ("content-range", &cr)], Some(body), ctx);
            }
        }
    }
    let accept = content::text_of(&headers, "accept-encoding", ctx)?.unwrap_or_default();
    let (gzip, br) = content::accepts(&accept);
    let variant =
        |ext: &str| under(&found.root, &format!("{}.{ext}", found.pathname)).and_then(|p| std::fs::read(p).ok());
    for (wanted, ext, name) in [(br, "br", "br"), (gzip, "gz", "gzip")] {
        if let Some(body) = wanted.then(|| variant(ext)).flatten() {
            return content::response(200, &[("content-type", ct), ("content-encoding", name)], Some(body), ctx);
        }
    }
    let Ok(raw) = std::fs::read(&found.file) else { return Ok(JsValue::null()) };
    if (gzip || br) && compress_asked(found, request, gzip, br, raw.len(), ctx)? {
        let body = content::gzip(&raw);
        return content::response(200, &[("content-type", ct), ("content-encoding", "gzip")], Some(body), ctx);
    }
    content::response(200, &[("content-type", ct)], Some(raw), ctx)
}

/// Whether `options.compression(request, accepted, pathname, size)` asks for gzip; any
/// other truthy answer is an error, as in Pipy.
fn compress_asked(
    found: &Found,
    request: &JsValue,
    gzip: bool,
    br: bool,
    size: usize,
    ctx: &mut Context,
) -> JsResult<bool> {
    let Some(f) = &found.compression_f else { return Ok(false) };
    let mut accepted = ObjectInitializer::new(ctx);
    if gzip {
        accepted.property(JsString::from("gzip"), true, Attribute::all());
    }
    if br {
        accepted.property(JsString::from("br"), true, Attribute::all());
    }
    let accepted = accepted.build();
    let args = [request.clone(), accepted.into(), JsString::from(found.pathname.as_str()).into(), (size as f64).into()];
    let r = f.call(&JsValue::undefined(), &args, ctx)?;
    if !r.to_boolean() {
        return Ok(false);
    }
    match r.as_string().map(|s| s.to_std_string_escaped()) {
        Some(s) if s == "gzip" => Ok(true),
        Some(_) => Err(type_error("callback returned an unsupported compression algorithm")),
        None => Err(type_error("callback expected to return a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_never_climb_above_the_top() {
        assert_eq!(normalize("/a/./b//c"), "/a/b/c");
        assert_eq!(normalize("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(normalize("/a/b/../../../x"), "/x");
        assert_eq!(normalize(""), "/");
    }

    #[test]
    fn the_extension_starts_at_the_first_dot_of_the_name() {
        assert_eq!(extension("/a.b/page.HTML"), "html");
        assert_eq!(extension("/x/app.min.js"), "min.js");
        assert_eq!(extension("/README"), "");
    }
}
