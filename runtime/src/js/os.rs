//! The `os` namespace. Paths are real filesystem paths, relative to the working directory.

use std::path::Path;

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsNativeError, JsResult, JsString, JsValue, NativeFunction, js_string};

use super::data::{self, Data};
use super::{arg_str, type_error};

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let env = ObjectInitializer::new(ctx).build();
    for (k, v) in std::env::vars() {
        env.set(JsString::from(k.as_str()), JsString::from(v.as_str()), false, ctx)?;
    }
    let path = super::os_path::object(ctx);
    let os = ObjectInitializer::new(ctx)
        .property(js_string!("env"), env, Attribute::all())
        .property(js_string!("platform"), js_string!("linux"), Attribute::all())
        .property(js_string!("path"), path, Attribute::all())
        .function(NativeFunction::from_fn_ptr(rename), js_string!("rename"), 2)
        .function(NativeFunction::from_fn_ptr(kill), js_string!("kill"), 2)
        .function(NativeFunction::from_fn_ptr(home), js_string!("home"), 0)
        .function(NativeFunction::from_fn_ptr(chdir), js_string!("chdir"), 1)
        .function(NativeFunction::from_fn_ptr(abspath), js_string!("abspath"), 1)
        .function(NativeFunction::from_fn_ptr(read), js_string!("read"), 1)
        .function(NativeFunction::from_fn_ptr(read_file), js_string!("readFile"), 1)
        .function(NativeFunction::from_fn_ptr(write), js_string!("write"), 2)
        .function(NativeFunction::from_fn_ptr(write_file), js_string!("writeFile"), 2)
        .function(NativeFunction::from_fn_ptr(mkdir), js_string!("mkdir"), 2)
        .function(NativeFunction::from_fn_ptr(rmdir), js_string!("rmdir"), 2)
        .function(NativeFunction::from_fn_ptr(rm), js_string!("rm"), 2)
        .function(NativeFunction::from_fn_ptr(unlink), js_string!("unlink"), 1)
        .function(NativeFunction::from_fn_ptr(stat), js_string!("stat"), 1)
        .function(NativeFunction::from_fn_ptr(read_dir), js_string!("readDir"), 1)
        .function(NativeFunction::from_fn_ptr(read_dir), js_string!("list"), 1)
        .build();
    ctx.register_global_property(js_string!("os"), os, Attribute::all())?;
    Ok(())
}

fn path_arg(args: &[JsValue]) -> JsResult<String> {
    arg_str(args, 0).ok_or_else(|| type_error("path must be a string"))
}

fn err(what: &str, path: &str, e: std::io::Error) -> boa_engine::JsError {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.into());
    JsNativeError::error().with_message(format!("{what}: {}: {e}", abs.display())).into()
}

fn option(args: &[JsValue], name: &str, ctx: &mut Context) -> JsResult<bool> {
    match args.get(1).and_then(|o| o.as_object()) {
        Some(o) => Ok(o.get(JsString::from(name), ctx)?.to_boolean()),
        None => Ok(false),
    }
}

fn rename(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let (from, to) = (path_arg(args)?, arg_str(args, 1).ok_or_else(|| type_error("new name must be a string"))?);
    std::fs::rename(&from, &to)
        .map_err(|e| JsNativeError::error().with_message(format!("cannot rename file: {from} -> {to}: {e}")))?;
    Ok(JsValue::undefined())
}

/// `os.kill(pid, signal = 0)`: a signal number, as in Pipy; failures are not reported.
fn kill(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let pid = args.first().cloned().unwrap_or_default().to_i32(ctx)?;
    let sig = args.get(1).cloned().unwrap_or_default().to_i32(ctx)?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe { libc::kill(pid, sig) };
    Ok(JsValue::undefined())
}

fn home(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(JsString::from(std::env::var("HOME").unwrap_or_default()).into())
}

fn chdir(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args)?;
    std::env::set_current_dir(&path).map_err(|e| err("cannot change directory", &path, e))?;
    Ok(JsValue::undefined())
}

fn abspath(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(JsString::from(super::os_path::absolute(&path_arg(args)?)).into())
}

fn read(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args)?;
    let bytes = std::fs::read(&path).map_err(|e| err("cannot open file", &path, e))?;
    Data::to_js(bytes, ctx)
}

fn read_file(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args)?;
    match std::fs::read(&path) {
        Ok(bytes) => Data::to_js(bytes, ctx),
        Err(e) => {
            tracing::error!(target: "files", "cannot open file: {path}: {e}");
            Ok(JsValue::null())
        }
    }
}

fn write(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args)?;
    let bytes = data::encode(args.get(1).unwrap_or(&JsValue::undefined()), None, ctx)?;
    std::fs::write(&path, bytes).map_err(|e| err("cannot open file", &path, e))?;
    Ok(JsValue::undefined())
}

fn write_file(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args)?;
    let bytes = data::encode(args.get(1).unwrap_or(&JsValue::undefined()), None, ctx)?;
    if let Err(e) = std::fs::write(&path, bytes) {
        tracing::error!(target: "files", "cannot write file: {path}: {e}");
    }
    Ok(JsValue::undefined())
}

fn mkdir(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args)?;
    let r = if option(args, "recursive", ctx)? { std::fs::create_dir_all(&path) } else { std::fs::create_dir(&path) };
    r.map_err(|e| err("cannot create directory", &path, e))?;
    Ok(JsValue::undefined())
}

fn remove(args: &[JsValue], ctx: &mut Context, dir_only: bool) -> JsResult<JsValue> {
    let path = path_arg(args)?;
    let (recursive, force) = (option(args, "recursive", ctx)?, option(args, "force", ctx)?);
    let p = Path::new(&path);
    if force && std::fs::symlink_metadata(p).is_err() {
        return Ok(false.into());
    }
    let r = if recursive {
        if p.is_dir() { std::fs::remove_dir_all(p) } else { std::fs::remove_file(p) }
    } else if dir_only || p.is_dir() {
        std::fs::remove_dir(p)
    } else {
        std::fs::remove_file(p)
    };
    r.map_err(|e| err("cannot delete file", &path, e))?;
    Ok(true.into())
}

fn rmdir(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    remove(args, ctx, true)
}

fn rm(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    remove(args, ctx, false)
}

fn unlink(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(std::fs::remove_file(path_arg(args)?).is_ok().into())
}

fn stat(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(m) = std::fs::symlink_metadata(path_arg(args)?) else { return Ok(JsValue::null()) };
    let t = m.file_type();
    let flag = |b: bool| {
        if b {
            NativeFunction::from_fn_ptr(|_, _, _| Ok(true.into()))
        } else {
            NativeFunction::from_fn_ptr(|_, _, _| Ok(false.into()))
        }
    };
    let obj = ObjectInitializer::new(ctx)
        .property(js_string!("size"), m.size() as f64, Attribute::all())
        .property(js_string!("atime"), m.atime() as f64, Attribute::all())
        .property(js_string!("mtime"), m.mtime() as f64, Attribute::all())
        .property(js_string!("ctime"), m.ctime() as f64, Attribute::all())
        .function(flag(t.is_file()), js_string!("isFile"), 0)
        .function(flag(t.is_dir()), js_string!("isDirectory"), 0)
        .function(flag(t.is_char_device()), js_string!("isCharacterDevice"), 0)
        .function(flag(t.is_block_device()), js_string!("isBlockDevice"), 0)
        .function(flag(t.is_fifo()), js_string!("isFIFO"), 0)
        .function(flag(t.is_symlink()), js_string!("isSymbolicLink"), 0)
        .function(flag(t.is_socket()), js_string!("isSocket"), 0)
        .build();
    Ok(obj.into())
}

fn read_dir(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args)?;
    let mut names: Vec<String> = std::fs::read_dir(&path)
        .map_err(|e| err("cannot read directory", &path, e))?
        .filter_map(|e| e.ok())
        .map(|e| {
            let mut n = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                n.push('/');
            }
            n
        })
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(JsArray::from_iter(names.into_iter().map(|n| JsString::from(n.as_str()).into()), ctx).into())
}
