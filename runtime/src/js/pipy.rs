//! The `pipy` namespace: `listen`, `load`, `exit`, `pid`, `argv`, `thread`, `now`, `fork`
//! (`exec` is in `js::exec`, `watch` in `js::watch`, `read` in `js::read`, `solve` and `import`
//! in `js::modules`, `since`, `source`, `uuid` and `performance` in `js::instance`, `tty` in
//! `js::tty`, `inbound` in `js::pipy_inbound`, `outbound` in `js::pipy_outbound`).

use boa_engine::object::builtins::JsArray;
use boa_engine::object::{FunctionObjectBuilder, ObjectInitializer};
use boa_engine::property::Attribute;
use boa_engine::{Context, JsNativeError, JsResult, JsString, JsValue, NativeFunction, js_string};

use super::data::Data;
use super::listen_options::ListenOptions;
use super::state::with_state;
use super::type_error;
use crate::net::listener::{self, Transport};

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let (id, concurrency, argv) = with_state(|s| (s.thread_id, s.concurrency, s.argv.clone()));
    let thread = ObjectInitializer::new(ctx)
        .property(js_string!("id"), id as u32, Attribute::READONLY)
        .property(js_string!("concurrency"), concurrency as u32, Attribute::READONLY)
        .build();
    let argv = JsArray::from_iter(argv.iter().map(|a| JsString::from(a.as_str()).into()), ctx);
    let pipy = FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(super::configuration::pipy))
        .name(js_string!("pipy"))
        .build();
    let props: [(JsString, JsValue); 4] = [
        (js_string!("pid"), JsValue::from(std::process::id())),
        (js_string!("argv"), argv.into()),
        (js_string!("thread"), thread.into()),
        (js_string!("version"), JsString::from(concat!("weir ", env!("CARGO_PKG_VERSION"))).into()),
    ];
    for (k, v) in props {
        pipy.set(k, v, false, ctx)?;
    }
    let (tty, inbound) = (super::tty::make(ctx)?, super::pipy_inbound::make(ctx)?);
    pipy.set(js_string!("tty"), tty, false, ctx)?;
    pipy.set(js_string!("inbound"), inbound, false, ctx)?;
    let outbound = super::pipy_outbound::make(ctx)?;
    pipy.set(js_string!("outbound"), outbound, false, ctx)?;
    super::instance::install(&pipy, ctx)?;
    let fns: [(JsString, usize, NativeFunction); 11] = [
        (js_string!("fork"), 1, NativeFunction::from_fn_ptr(fork)),
        (js_string!("listen"), 2, NativeFunction::from_fn_ptr(listen)),
        (js_string!("load"), 1, NativeFunction::from_fn_ptr(load)),
        (js_string!("exit"), 1, NativeFunction::from_fn_ptr(exit)),
        (js_string!("restart"), 0, NativeFunction::from_fn_ptr(restart)),
        (js_string!("now"), 0, NativeFunction::from_fn_ptr(now)),
        (js_string!("exec"), 1, NativeFunction::from_fn_ptr(super::exec::exec)),
        (js_string!("solve"), 1, NativeFunction::from_fn_ptr(super::modules::solve)),
        (js_string!("import"), 1, NativeFunction::from_fn_ptr(super::modules::import)),
        (js_string!("watch"), 1, NativeFunction::from_fn_ptr(super::watch::watch)),
        (js_string!("read"), 2, NativeFunction::from_fn_ptr(super::read::read)),
    ];
    for (name, len, f) in fns {
        let f = FunctionObjectBuilder::new(ctx.realm(), f).name(name.clone()).length(len).build();
        pipy.set(name, f, false, ctx)?;
    }
    ctx.register_global_property(js_string!("pipy"), pipy, Attribute::all())?;
    Ok(())
}

/// `pipy.listen(port | 'ip:port', [protocol,] [options,] builder)`.
fn listen(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let bad = |m: String| -> boa_engine::JsError { JsNativeError::typ().with_message(m).into() };
    let port = args.first().cloned().unwrap_or_default();
    let addr = if let Some(s) = port.as_string() {
        listener::parse_address(&s.to_std_string_escaped()).map_err(bad)?
    } else if let Some(n) = port.as_number() {
        listener::port_only(n as u32).map_err(bad)?
    } else {
        return Err(type_error("pipy.listen() takes a port number or an 'ip:port' string"));
    };
    let mut rest = &args[1..];
    let mut protocol = Transport::Tcp;
    if let Some(p) = rest.first().and_then(|v| v.as_string()) {
        protocol = Transport::parse(&p.to_std_string_escaped()).map_err(bad)?;
        rest = &rest[1..];
    }
    let (options, builder) = match rest {
        [builder] => (None, builder.clone()),
        [options, builder, ..] => (options.as_object(), builder.clone()),
        [] => return Err(type_error("pipy.listen() needs a pipeline builder")),
    };
    // Pipy reads the protocol only from the second argument; an options object saying
    // `protocol: 'udp'` means UDP here rather than a TCP listener.
    let options = ListenOptions::read(addr, protocol, options.as_ref(), ctx)?;
    let spec = options.spec(super::designer::build(&format!("Listen on {addr}"), &builder, ctx)?);
    super::state::listen(spec);
    Ok(JsValue::undefined())
}

/// Reads a file relative to the script's folder; `null` if it does not exist.
fn load(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let name = super::arg_str(args, 0).ok_or_else(|| type_error("pipy.load() takes a file name"))?;
    let path = with_state(|s| s.script_dir.join(name.trim_start_matches('/')));
    match std::fs::read(&path) {
        Ok(bytes) => Data::to_js(bytes, ctx),
        Err(_) => Ok(JsValue::null()),
    }
}

/// `pipy.exit(fn)` registers an exit callback; `pipy.exit(code)` stops at once with `code`.
fn exit(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    match args.first() {
        Some(v) if v.as_object().is_some_and(|o| o.is_callable()) => {
            let f = v.as_object().unwrap().clone();
            with_state(|s| s.exit_callbacks.push(f));
        }
        other => {
            let code = match other {
                Some(v) if !v.is_undefined() => v.to_i32(ctx)?,
                _ => 0,
            };
            crate::request_exit(code & 0xff);
        }
    }
    Ok(JsValue::undefined())
}

/// `pipy.restart()`: loads the script again on every worker, as SIGHUP does, which is what
/// it sends to this process (the main thread hears it and reads the script).
fn restart(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    // SAFETY: kill(2) of our own process with a signal it handles.
    unsafe { libc::kill(libc::getpid(), libc::SIGHUP) };
    Ok(JsValue::undefined())
}

fn now(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let started = with_state(|s| s.started).unwrap_or_else(std::time::Instant::now);
    Ok((started.elapsed().as_secs_f64() * 1000.0).into())
}

/// `pipy.fork(fn)`: calls `fn()` in a pipeline context of its own, whose `$` variables start
/// from their initial values as a new connection's do; returns what `fn` returns.
fn fork(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = super::function_arg(args, 0, "pipy.fork")?;
    let context = super::state::root().copy(None);
    super::in_context(&context, || f.call(&JsValue::undefined(), &[], ctx))
}
