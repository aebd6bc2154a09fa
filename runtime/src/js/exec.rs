//! `pipy.exec(command | argv[], options?)`: runs a program to its end and returns its stdout
//! as Data, as Pipy does. A command string is split with Pipy's rules (blanks separate,
//! `"` quotes, `\` escapes the next character); there is no shell. Options: `stdin` (Data
//! fed to the program), `env` (the program's whole environment), `stderr` (true: stderr goes
//! into the returned stdout) and `onExit(code, stderr)` (called before `exec` returns; its
//! `stderr` is the captured stderr, absent when `stderr` is true).

use std::io::Write;
use std::process::{Command, Stdio};

use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, JsNativeError, JsObject, JsResult, JsValue, js_string};

use super::data::Data;
use super::type_error;
use crate::codec::argv::split_argv;

/// `s` up to its first NUL: Pipy hands each argument and variable to exec as a C string,
/// which ends there (its port-interceptor sample passes netlink's NUL-ended interface names).
fn c_string(mut s: String) -> String {
    if let Some(i) = s.find('\0') {
        s.truncate(i);
    }
    s
}

fn argv_of(v: Option<&JsValue>, ctx: &mut Context) -> JsResult<Vec<String>> {
    match v {
        Some(v) if v.is_string() => {
            Ok(split_argv(&v.to_string(ctx)?.to_std_string_escaped()).into_iter().map(c_string).collect())
        }
        Some(v) if v.as_object().is_some_and(|o| o.is_array()) => {
            let arr = JsArray::from_object(v.as_object().unwrap().clone())?;
            let len = arr.length(ctx)?;
            (0..len).map(|i| Ok(c_string(arr.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped()))).collect()
        }
        _ => Err(type_error("pipy.exec() takes a command string or an array")),
    }
}

struct Options {
    stdin: Option<Vec<u8>>,
    env: Option<Vec<(String, String)>>,
    merge_stderr: bool,
    on_exit: Option<JsObject>,
}

fn options(v: Option<&JsValue>, ctx: &mut Context) -> JsResult<Options> {
    let mut o = Options { stdin: None, env: None, merge_stderr: false, on_exit: None };
    let Some(obj) = v.and_then(|v| v.as_object()) else {
        return Ok(o);
    };
    let stdin = obj.get(js_string!("stdin"), ctx)?;
    if !stdin.is_null_or_undefined() {
        let bytes = Data::bytes_of(&stdin).ok_or_else(|| type_error("pipy.exec(): options.stdin must be a Data"))?;
        o.stdin = Some(bytes.to_vec());
    }
    if let Some(env) = obj.get(js_string!("env"), ctx)?.as_object() {
        let mut vars = Vec::new();
        for key in env.own_property_keys(ctx)? {
            let value = env.get(key.clone(), ctx)?.to_string(ctx)?.to_std_string_escaped();
            vars.push((c_string(key.to_string()), c_string(value)));
        }
        o.env = Some(vars);
    }
    o.merge_stderr = obj.get(js_string!("stderr"), ctx)?.to_boolean();
    o.on_exit = obj.get(js_string!("onExit"), ctx)?.as_callable();
    Ok(o)
}

/// Runs `argv` with `o`; returns stdout, stderr (when not merged) and the exit code.
fn run(argv: &[String], o: &Options) -> std::io::Result<(Vec<u8>, Option<Vec<u8>>, i32)> {
    let (cmd, rest) = argv.split_first().expect("checked non-empty");
    let mut c = Command::new(cmd);
    c.args(rest).stdin(if o.stdin.is_some() { Stdio::piped() } else { Stdio::inherit() });
    if let Some(env) = &o.env {
        c.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    }
    // Merged: both ends of one pipe, read as stdout.
    let merged = if o.merge_stderr {
        let (r, w) = std::io::pipe()?;
        c.stdout(w.try_clone()?).stderr(w);
        Some(r)
    } else {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        None
    };
    let mut child = c.spawn()?;
    // The child holds the write ends now; ours must close for the read to end.
    drop(c);
    let feeder = child.stdin.take().zip(o.stdin.clone()).map(|(mut pipe, bytes)| {
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let (out, err, status) = match merged {
        Some(mut r) => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut out)?;
            (out, None, child.wait()?)
        }
        None => {
            let o = child.wait_with_output()?;
            (o.stdout, Some(o.stderr), o.status)
        }
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Ok((out, err, status.code().unwrap_or(255)))
}

pub fn exec(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let argv = argv_of(args.first(), ctx)?;
    if argv.is_empty() {
        return Err(type_error("pipy.exec(): exec() with no arguments"));
    }
    let o = options(args.get(1), ctx)?;
    let (out, err, code) =
        run(&argv, &o).map_err(|e| JsNativeError::error().with_message(format!("pipy.exec({}): {e}", argv[0])))?;
    if let Some(f) = &o.on_exit {
        let mut call_args = vec![JsValue::from(code)];
        if let Some(err) = err {
            call_args.push(Data::to_js(err, ctx)?);
        }
        f.call(&JsValue::undefined(), &call_args, ctx)?;
    }
    Data::to_js(out, ctx)
}
