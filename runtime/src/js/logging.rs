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
//! so lines from several threads never interleave within a line. `toHTTP(url, options)`
//! posts lines in batches through an `http.Agent` (see `toHTTP` in the classes below).

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use boa_engine::object::FunctionObjectBuilder;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsResult, JsValue, NativeFunction, Source, js_string};

use super::data;

const CLASSES: &str = r#"(function (write, toData, join, Agent) {
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
      toHTTP(url, options) { this.#targets.push({ kind: 'http', send: toHTTP(String(url), options || {}) }); return this }
      log(...values) {
        var text = line(values)
        this.#targets.forEach(t => t.send ? t.send(toData(text)) : write(t, text))
      }
    }
    Object.defineProperty(c, 'name', { value: name })
    return c
  }
  // Lines are batched as Pipy's pack() would: `batch.size` lines (default 1000) make one
  // request, or fewer once `batch.timeout` (else `batch.interval`) went by since the batch's
  // first line. One request at a time, in order; a batch whose connection failed goes again
  // 5 seconds later. Lines past `bufferLimit` bytes waiting are dropped, and counted.
  function toHTTP(url, options) {
    var u = new URL(url)
    var tls = u.protocol === 'https:'
    var agent = new Agent(u.host, tls ? { tls: options.tls || {} } : undefined)
    var batch = options.batch || {}
    var size = batch.size > 0 ? batch.size : 1000
    var wait = batch.timeout || batch.interval
    var limit = options.bufferLimit > 0 ? options.bufferLimit : 8 * 1024 * 1024
    var method = options.method || 'POST'
    var headers = options.headers || {}
    var lines = [], batches = [], queued = 0, dropped = 0, sending = false
    function close() {
      if (lines.length === 0) return
      batches.push(lines)
      lines = []
      next()
    }
    function next() {
      if (sending || batches.length === 0) return
      var body = join(batches[0], batch.prefix, batch.separator, batch.postfix)
      sending = true
      agent.request(method, u.path, headers, body).then(
        res => { var h = res.head; return !(h.status >= 502 && Object.keys(h.headers || {}).length === 0) },
        () => false,
      ).then(ok => {
        if (ok) {
          batches.shift().forEach(l => queued -= l.size)
          sending = false
          next()
        } else {
          new Timeout(5).wait().then(() => { sending = false; next() })
        }
      })
    }
    return function send(data) {
      if (queued + data.size > limit) {
        if (dropped++ === 0) console.warn(`logging: toHTTP ${url}: ${queued} bytes waiting, over bufferLimit: dropping lines`)
        return
      }
      if (dropped > 0) {
        console.warn(`logging: toHTTP ${url}: ${dropped} lines dropped while the buffer was full`)
        dropped = 0
      }
      queued += data.size
      lines.push(data)
      if (lines.length >= size) return close()
      if (lines.length === 1 && wait) {
        var first = lines
        new Timeout(wait).wait().then(() => { if (lines === first) close() })
      }
    }
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
    let native = |f, name, ctx: &mut Context| -> JsValue {
        FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(f)).name(js_string!(name)).build().into()
    };
    let natives = [native(write, "write", ctx), native(to_data, "toData", ctx), native(join, "join", ctx)];
    // http.Agent, registered before: a script's own `http` must not change where logs go.
    let http = ctx.global_object().get(js_string!("http"), ctx)?;
    let agent = http.as_object().map(|h| h.get(js_string!("Agent"), ctx)).transpose()?.unwrap_or_default();
    let factory = factory.as_callable().expect("the classes' source is a function");
    let args = [natives[0].clone(), natives[1].clone(), natives[2].clone(), agent];
    let namespace = factory.call(&JsValue::undefined(), &args, ctx)?;
    ctx.register_global_property(js_string!("logging"), namespace, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

/// A line's bytes: a line is a string, or (a BinaryLogger's) an array of values.
fn line_bytes(line: &JsValue, ctx: &mut Context) -> JsResult<Vec<u8>> {
    Ok(match line.as_object().filter(|o| o.is_array()) {
        Some(parts) => {
            let parts = boa_engine::object::builtins::JsArray::from_object(parts.clone())?;
            let mut bytes = Vec::new();
            for i in 0..parts.length(ctx)? {
                bytes.extend(data::encode(&parts.get(i, ctx)?, None, ctx)?);
            }
            bytes
        }
        None => data::encode(line, None, ctx)?,
    })
}

/// `toData(line)`: the line as a `Data`, for the HTTP targets.
fn to_data(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let bytes = line_bytes(&args.first().cloned().unwrap_or_default(), ctx)?;
    data::Data::to_js(bytes, ctx)
}

/// `join(lines, prefix?, separator?, postfix?)`: one `Data` of the lines (`Data`s) as `pack`
/// joins bodies.
fn join(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let text = |i: usize, ctx: &mut Context| -> JsResult<Vec<u8>> {
        match args.get(i) {
            Some(v) if !v.is_null_or_undefined() => data::encode(v, None, ctx),
            _ => Ok(Vec::new()),
        }
    };
    let (prefix, separator, postfix) = (text(1, ctx)?, text(2, ctx)?, text(3, ctx)?);
    let lines = args.first().and_then(|l| l.as_object()).expect("called by the classes above");
    let lines = boa_engine::object::builtins::JsArray::from_object(lines.clone())?;
    let mut out = prefix;
    for i in 0..lines.length(ctx)? {
        if i > 0 {
            out.extend_from_slice(&separator);
        }
        out.extend(data::encode(&lines.get(i, ctx)?, None, ctx)?);
    }
    out.extend(postfix);
    data::Data::to_js(out, ctx)
}

/// `write(target, line)`.
fn write(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let target = args.first().and_then(|t| t.as_object()).expect("called by the classes above");
    let line = args.get(1).cloned().unwrap_or_default();
    let mut bytes = line_bytes(&line, ctx)?;
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
