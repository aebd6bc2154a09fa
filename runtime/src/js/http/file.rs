//! `http.File`: a file of the script's folder with its precompressed variants
//! (`name.gz`, `name.br`), made into a response by `toMessage(acceptEncoding)` as Pipy
//! does: br if accepted and present, else gzip likewise, else the plain bytes (undone from
//! a variant when only variants exist; a 400 when that fails).
//!
//! `new http.File(path)` throws when neither the file, its variants nor `path/index.html`
//! exist; `http.File.from(path)` returns `null` then.

use std::path::PathBuf;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsString, JsValue, NativeFunction, Trace};

use super::content::{self, OCTET_STREAM};
use crate::js::state::with_state;
use crate::js::{arg_str, type_error};

#[derive(Trace, Finalize, JsData)]
pub struct File {
    #[unsafe_ignore_trace]
    content_type: &'static str,
    #[unsafe_ignore_trace]
    raw: Option<Vec<u8>>,
    #[unsafe_ignore_trace]
    gz: Option<Vec<u8>>,
    #[unsafe_ignore_trace]
    br: Option<Vec<u8>>,
}

impl File {
    /// Reads `path` (relative to the script's folder, as Pipy's codebase paths are) and its
    /// variants, or those of `path/index.html`.
    fn load(path: &str) -> Option<File> {
        let root = with_state(|s| s.script_dir.clone());
        let read = |p: &str| std::fs::read(root.join(p.trim_start_matches('/'))).ok();
        let variants = |p: &str| (read(p), read(&format!("{p}.gz")), read(&format!("{p}.br")));
        let mut path = path.to_string();
        let (mut raw, mut gz, mut br) = variants(&path);
        if raw.is_none() && gz.is_none() && br.is_none() {
            if !path.ends_with('/') {
                path.push('/');
            }
            path.push_str("index.html");
            (raw, gz, br) = variants(&path);
            if raw.is_none() && gz.is_none() && br.is_none() {
                return None;
            }
        }
        // The extension is what follows the last dot of the name.
        let name = PathBuf::from(&path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        let content_type = content::content_type(&ext).unwrap_or(OCTET_STREAM);
        Some(File { content_type, raw, gz, br })
    }
}

impl Class for File {
    const NAME: &'static str = "File";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let path = arg_str(args, 0).ok_or_else(|| type_error("http.File() takes a path"))?;
        File::load(&path).ok_or_else(|| type_error(format!("file not found: {path}")))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(JsString::from("toMessage"), 1, NativeFunction::from_fn_ptr(to_message));
        class.static_method(JsString::from("from"), 1, NativeFunction::from_fn_ptr(from));
        Ok(())
    }
}

fn from(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = arg_str(args, 0).ok_or_else(|| type_error("http.File.from() takes a path"))?;
    match File::load(&path) {
        Some(f) => Ok(File::from_data(f, ctx)?.into()),
        None => Ok(JsValue::null()),
    }
}

fn to_message(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let accept = match args.first() {
        None => String::new(),
        Some(v) if v.is_undefined() => String::new(),
        Some(v) => v.to_string(ctx)?.to_std_string_escaped(),
    };
    let (gzip, br) = content::accepts(&accept);
    let obj = this.as_object().ok_or_else(|| type_error("not an http.File"))?;
    let (ct, body, encoding) = {
        let f = obj.downcast_ref::<File>().ok_or_else(|| type_error("not an http.File"))?;
        match (&f.br, &f.gz, &f.raw) {
            (Some(b), _, _) if br => (f.content_type, Some(b.clone()), Some("br")),
            (_, Some(g), _) if gzip => (f.content_type, Some(g.clone()), Some("gzip")),
            (_, _, Some(r)) => (f.content_type, Some(r.clone()), None),
            _ => (f.content_type, content::decompress(f.gz.as_deref(), f.br.as_deref()), None),
        }
    };
    match (body, encoding) {
        (None, _) => content::response(400, &[], None, ctx),
        (Some(b), Some(e)) => content::response(200, &[("content-type", ct), ("content-encoding", e)], Some(b), ctx),
        (Some(b), None) => content::response(200, &[("content-type", ct)], Some(b), ctx),
    }
}
