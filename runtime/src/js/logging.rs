//! `logging`: `new logging.TextLogger(name)`, `JSONLogger`, `BinaryLogger`, with targets
//! `toStdout()`, `toStderr()`, `toFile(path, { append })`, `toSyslog(priority)`, and
//! `log(...values)`, which writes one line to each target.
//!
//! Lines are made as Pipy makes them (src/api/logging.cpp): a TextLogger joins its values
//! with spaces, an object as its string then `:` and its JSON; a JSONLogger concatenates the
//! JSON of each value; a BinaryLogger concatenates bytes (Data, string, array of byte
//! numbers, else the value's string). The classes are script code over two native writers,
//! the line-making being plain JavaScript.
//!
//! Writes are synchronous, as `tee`'s are. A file is opened once per process at its first
//! line (truncated unless `append`) and shared by every logger and worker writing to it,
//! so lines from several threads never interleave within a line. `toHTTP` is not here yet:
//! it throws, naming itself.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use boa_engine::object::FunctionObjectBuilder;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsResult, JsValue, NativeFunction, Source, js_string};

use super::data;

const CLASSES: &str = r#"(function (write) {
  // Calling it throws; it carries the mark of runtime/src/js/unported.rs's stand-ins.
  function toHTTP() { throw new Error('logging: toHTTP() is a Pipy API Weir does not have yet') }
  Object.defineProperty(toHTTP, Symbol.for('weir.unported'), { value: 'toHTTP' })
  function make(name, line) {
    var c = class {
      #targets = []
      toStdout() { this.#targets.push({ kind: 'stdout' }); return this }
      toStderr() { this.#targets.push({ kind: 'stderr' }); return this }
      toFile(path, options) {
        this.#targets.push({ kind: 'file', path: String(path), append: Boolean(options && options.append) })
        return this
      }
      toSyslog(priority) { this.#targets.push({ kind: 'syslog', priority: String(priority || 'INFO') }); return this }
      log(...values) { var text = line(values); this.#targets.forEach(t => write(t, text)) }
    }
    c.prototype.toHTTP = toHTTP
    Object.defineProperty(c, 'name', { value: name })
    return c
  }
  return {
    BinaryLogger: make('BinaryLogger', values => values),
    TextLogger: make('TextLogger', values => values.map(
      v => (v !== null && typeof v === 'object') ? String(v) + ':' + JSON.stringify(v) : String(v)
    ).join(' ')),
    JSONLogger: make('JSONLogger', values => values.map(v => String(JSON.stringify(v))).join('')),
  }
})"#;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let factory = ctx.eval(Source::from_bytes(CLASSES))?;
    let write = FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(write)).name("write").build();
    let factory = factory.as_callable().expect("the classes' source is a function");
    let namespace = factory.call(&JsValue::undefined(), &[write.into()], ctx)?;
    ctx.register_global_property(js_string!("logging"), namespace, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

/// `write(target, line)`: a line is a string, or (a BinaryLogger's) an array of values.
fn write(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let target = args.first().and_then(|t| t.as_object()).expect("called by the classes above");
    let line = args.get(1).cloned().unwrap_or_default();
    let mut bytes = match line.as_object().filter(|o| o.is_array()) {
        Some(parts) => {
            let parts = boa_engine::object::builtins::JsArray::from_object(parts.clone())?;
            let mut bytes = Vec::new();
            for i in 0..parts.length(ctx)? {
                bytes.extend(data::encode(&parts.get(i, ctx)?, None, ctx)?);
            }
            bytes
        }
        None => data::encode(&line, None, ctx)?,
    };
    let field = |name: &str, ctx: &mut Context| -> JsResult<String> {
        Ok(target.get(boa_engine::JsString::from(name), ctx)?.to_string(ctx)?.to_std_string_escaped())
    };
    match field("kind", ctx)?.as_str() {
        "syslog" => syslog(&field("priority", ctx)?, &bytes),
        kind => {
            bytes.push(b'\n');
            let r = match kind {
                "stdout" => std::io::stdout().lock().write_all(&bytes),
                "stderr" => std::io::stderr().lock().write_all(&bytes),
                _ => {
                    let path = field("path", ctx)?;
                    let append = target.get(js_string!("append"), ctx)?.to_boolean();
                    to_file(&path, append, &bytes)
                }
            };
            if let Err(e) = r {
                tracing::error!(target: "files", "logging: cannot write to {kind}: {e}");
            }
        }
    }
    Ok(JsValue::undefined())
}

/// The files loggers write to, one opening per path for the whole process.
fn files() -> &'static Mutex<HashMap<String, Arc<Mutex<File>>>> {
    static FILES: OnceLock<Mutex<HashMap<String, Arc<Mutex<File>>>>> = OnceLock::new();
    FILES.get_or_init(Mutex::default)
}

fn to_file(path: &str, append: bool, bytes: &[u8]) -> std::io::Result<()> {
    let abs = super::os_path::absolute(path);
    let file = {
        let mut files = files().lock().unwrap_or_else(|e| e.into_inner());
        match files.get(&abs) {
            Some(f) => f.clone(),
            None => {
                let f = OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(&abs)?;
                let f = Arc::new(Mutex::new(f));
                files.insert(abs, f.clone());
                f
            }
        }
    };
    let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
    f.write_all(bytes)
}

fn syslog(priority: &str, bytes: &[u8]) {
    let level = match priority {
        "EMERG" => libc::LOG_EMERG,
        "ALERT" => libc::LOG_ALERT,
        "CRIT" => libc::LOG_CRIT,
        "ERR" => libc::LOG_ERR,
        "WARNING" => libc::LOG_WARNING,
        "NOTICE" => libc::LOG_NOTICE,
        "DEBUG" => libc::LOG_DEBUG,
        _ => libc::LOG_INFO,
    };
    let text = CString::new(bytes.iter().copied().filter(|b| *b != 0).collect::<Vec<u8>>()).expect("NULs removed");
    // SAFETY: both strings are NUL-terminated and outlive the call; "%s" takes one string.
    unsafe { libc::syslog(level, c"%s".as_ptr(), text.as_ptr()) };
}
