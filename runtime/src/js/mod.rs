//! The JS host: Boa, the globals a Pipy script expects, and the glue that lets Rust filters
//! call back into scripts.
//!
//! Each worker thread owns one Boa `Context` (Boa is `!Send`). It lives in a thread-local so
//! that filters can call back into JS from any task on that thread. While a call is running,
//! the *current pipeline context* names whose `$` variables the script sees.

pub mod algo;
mod bgp;
pub mod bpf;
mod bpf_map;
pub mod configuration;
pub mod console;
pub mod crypto;
pub mod cstring;
pub mod cstruct;
pub mod data;
pub mod designer;
mod dns;
pub mod events;
mod exec;
#[cfg(test)]
mod filter_tests;
pub mod head;
mod headers;
pub mod hessian;
pub mod host;
mod http;
pub mod inbound;
mod instance;
mod ip;
mod ip_endpoint;
mod jobs;
pub mod json;
pub mod layout;
mod listen_options;
mod listener_array;
pub mod logging;
pub mod message;
pub mod modules;
pub mod netmask;
pub mod os;
mod os_path;
mod outbound;
pub mod pipeline;
mod pipeline_run;
pub mod pipy;
mod pipy_inbound;
mod pipy_outbound;
pub mod print;
mod print_builtins;
#[cfg(test)]
mod print_tests;
pub mod promise;
pub mod protobuf;
mod read;
mod realms;
mod refs;
pub mod reload;
mod repeat;
mod resp;
pub mod script;
mod script_error;
mod sqlite;
pub mod state;
pub mod stats;
mod stun;
pub mod then;
pub mod timeout;
mod tls_values;
pub mod tree;
mod tty;
mod unported;
pub mod url;
pub mod url_search_params;
pub mod vars;
pub mod watch;
mod xml;
mod xml_node;
pub mod yaml;
mod zlib;

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::object::builtins::JsFunction;
use boa_engine::{Context as JsContext, Finalize, JsError, JsObject, JsResult, JsValue, Trace};

use crate::engine;

thread_local! {
    static ENGINE: RefCell<Option<Rc<RefCell<JsContext>>>> = const { RefCell::new(None) };
    static CURRENT: RefCell<Option<Rc<engine::Context>>> = const { RefCell::new(None) };
}

/// Makes a worker's Boa context with every global Pipy scripts use.
pub fn new_context() -> JsResult<JsContext> {
    let root = state::with_state(|s| s.script_dir.clone());
    let loader = Rc::new(modules::Loader::new(root));
    let mut ctx = boa_engine::context::ContextBuilder::new()
        .module_loader(loader)
        .job_executor(Rc::new(jobs::Jobs::default()))
        .build()?;
    register_globals(&mut ctx)?;
    Ok(ctx)
}

/// Defines every global Pipy scripts use in the context's current realm (a new context's, or
/// the new realm a reload evaluates the script in).
pub fn register_globals(ctx: &mut JsContext) -> JsResult<()> {
    print::register(ctx)?;
    console::register(ctx)?;
    data::register(ctx)?;
    json::register(ctx)?;
    yaml::register(ctx)?;
    message::register(ctx)?;
    head::register(ctx)?;
    inbound::register(ctx)?;
    outbound::register(ctx)?;
    listener_array::register(ctx)?;
    cstring::register(ctx)?;
    cstruct::register(ctx)?;
    netmask::register(ctx)?;
    ctx.register_global_class::<ip::Ip>()?;
    ctx.register_global_class::<ip_endpoint::IpEndpoint>()?;
    ctx.register_global_class::<url::Url>()?;
    ctx.register_global_class::<url_search_params::UrlSearchParams>()?;
    timeout::register(ctx)?;
    os::register(ctx)?;
    pipy::register(ctx)?;
    configuration::register(ctx)?;
    algo::register(ctx)?;
    stats::register(ctx)?;
    crypto::register(ctx)?;
    then::register(ctx)?;
    pipeline::register(ctx)?;
    repeat::register(ctx)?;
    ctx.register_global_class::<designer::Designer>()?;
    bpf::register(ctx)?;
    bgp::register(ctx)?;
    dns::register(ctx)?;
    hessian::register(ctx)?;
    resp::register(ctx)?;
    stun::register(ctx)?;
    zlib::register(ctx)?;
    xml::register(ctx)?;
    protobuf::register(ctx)?;
    http::register(ctx)?;
    logging::register(ctx)?;
    sqlite::register(ctx)?;
    // Last: stand-ins go only where nothing above registered the name.
    unported::register(ctx)?;
    Ok(())
}

/// Hands the worker's context to the thread-local slot, for calls made at traffic time, and
/// makes this JS host the one the engine asks.
pub fn install(ctx: Rc<RefCell<JsContext>>) {
    ENGINE.with(|e| *e.borrow_mut() = Some(ctx));
    engine::host::install(Rc::new(host::JsHost));
}

/// Takes the worker's context out of its slot, for a reload to evaluate the new script in:
/// as while the first script runs, nothing else is in JS meanwhile.
fn take_engine() -> Option<Rc<RefCell<JsContext>>> {
    ENGINE.with(|e| e.borrow_mut().take())
}

/// Puts back what [`take_engine`] took.
fn put_engine(ctx: Rc<RefCell<JsContext>>) {
    ENGINE.with(|e| *e.borrow_mut() = Some(ctx));
}

/// Drops this thread's script state, the Boa context last, then collects what is left of
/// its heap (at worker teardown, after every task holding a script value is gone).
pub fn uninstall() {
    CURRENT.with(|c| c.borrow_mut().take());
    realms::clear();
    configuration::uninstall();
    head::uninstall();
    events::uninstall();
    let engine = ENGINE.with(|e| e.borrow_mut().take());
    drop(engine);
    boa_gc::force_collect();
}

/// The pipeline context whose `$` values scripts see right now.
pub fn current() -> Option<Rc<engine::Context>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Runs `f` with `context` as the current pipeline context.
pub fn in_context<R>(context: &Rc<engine::Context>, f: impl FnOnce() -> R) -> R {
    /// Puts the previous context back, also when `f` panics: a connection that panicked
    /// must not stay the current context of the ones that follow.
    struct Restore(Option<Rc<engine::Context>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let saved = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = saved);
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(context.clone())));
    f()
}

/// Runs `f` on the worker's Boa context. Returns `None` when the context is busy, which
/// happens only if Rust code tries to re-enter JS from inside a JS call.
/// A call for a connection of a script reloaded away runs in that script's realm, and values
/// made for it are of that script's classes (see `realms`).
pub fn with_js<R>(f: impl FnOnce(&mut JsContext) -> R) -> Option<R> {
    let engine = ENGINE.with(|e| e.borrow().clone())?;
    let ctx = engine.try_borrow_mut().ok()?;
    // The connection being called for, else the one whose pipeline is at work.
    let generation =
        CURRENT.with(|c| c.borrow().as_ref().map_or_else(engine::context::at_work, |c| Rc::as_ptr(&c.generation)));
    let realm = realms::of(generation);
    let mut guard = InRealm { old: None, ctx };
    if let Some(realm) = realm {
        guard.old = Some(guard.ctx.enter_realm(realm));
    }
    Some(f(&mut guard.ctx))
}

/// Puts the realm a call started in back, also when the call panics.
struct InRealm<'a> {
    old: Option<boa_engine::realm::Realm>,
    ctx: std::cell::RefMut<'a, JsContext>,
}

impl Drop for InRealm<'_> {
    fn drop(&mut self) {
        if let Some(old) = self.old.take() {
            self.ctx.enter_realm(old);
        }
    }
}

/// Calls a script function in a pipeline context, then runs the promise jobs it queued.
pub fn call(context: &Rc<engine::Context>, f: &JsObject, args: &[JsValue]) -> Result<JsValue, String> {
    in_context(context, || {
        with_js(|ctx| {
            let r = f.call(&JsValue::undefined(), args, ctx).map_err(|e| describe(&e, ctx));
            if let Err(e) = ctx.run_jobs() {
                tracing::error!(target: "script", "{}", describe(&e, ctx));
            }
            r
        })
        .unwrap_or_else(|| Err("re-entrant call into JS".to_string()))
    })
}

/// Runs `f` now if JS is free, else as soon as the running call returns.
pub fn call_when_free(f: impl FnOnce() + 'static) {
    let busy = ENGINE.with(|e| e.borrow().as_ref().is_some_and(|c| c.try_borrow_mut().is_err()));
    if busy {
        tokio::task::spawn_local(async move { f() });
    } else {
        f()
    }
}

/// An error message, with the script location when Boa knows it.
pub fn describe(e: &JsError, ctx: &mut JsContext) -> String {
    // Errors a script cannot catch (Boa's runtime limits: recursion, loop iterations) have no
    // script value; their own text says what happened.
    let Ok(value) = e.clone().into_opaque(ctx) else { return e.to_string() };
    let message =
        value.to_string(ctx).map(|s| s.to_std_string_escaped()).unwrap_or_else(|_| value.display().to_string());
    let stack = value
        .as_object()
        .and_then(|o| o.get(boa_engine::js_string!("stack"), ctx).ok())
        .and_then(|s| s.as_string().map(|s| s.to_std_string_escaped()))
        .filter(|s| !s.is_empty());
    match stack {
        Some(stack) if !stack.contains(&message) => format!("{message}\n{stack}"),
        Some(stack) => stack,
        None => message,
    }
}

/// Rust values captured by native closures. They hold no JS values, so the GC need not
/// trace them; holding a `JsValue` here would be unsound.
#[derive(Trace, Finalize)]
pub struct Captured<T: 'static>(#[unsafe_ignore_trace] pub T);

/// A native function over Rust state `T`.
pub type StateFn<T> = fn(&T, &JsValue, &[JsValue], &mut JsContext) -> JsResult<JsValue>;

/// Makes a JS function from a Rust closure over Rust-only state.
pub fn function<T: 'static>(ctx: &mut JsContext, state: T, f: StateFn<T>) -> JsFunction {
    boa_engine::NativeFunction::from_copy_closure_with_captures(
        move |this, args, state: &(Captured<T>, Captured<StateFn<T>>), ctx| (state.1.0)(&state.0.0, this, args, ctx),
        (Captured(state), Captured(f)),
    )
    .to_js_function(ctx.realm())
}

/// A JS TypeError with `message`.
pub fn type_error(message: impl Into<String>) -> JsError {
    boa_engine::JsNativeError::typ().with_message(message.into()).into()
}

/// Argument `i` as a function, or a TypeError saying that `filter()` takes one.
pub fn function_arg(args: &[JsValue], i: usize, filter: &str) -> JsResult<JsObject> {
    args.get(i)
        .and_then(|v| v.as_object())
        .filter(|o| o.is_callable())
        .ok_or_else(|| type_error(format!("{filter}() takes a function")))
}

/// Reads an argument as a Rust string, if it is a JS string.
pub fn arg_str(args: &[JsValue], i: usize) -> Option<String> {
    args.get(i).and_then(|v| v.as_string()).map(|s| s.to_std_string_escaped())
}

/// The value of `src`, run in a new worker context, as a string: what the unit tests of the
/// JS classes compare.
#[cfg(test)]
pub(crate) fn eval_to_string(src: &str) -> String {
    let mut ctx = new_context().unwrap();
    let v = ctx.eval(boa_engine::Source::from_bytes(src)).unwrap();
    v.to_string(&mut ctx).unwrap().to_std_string_escaped()
}

#[cfg(test)]
mod tests {
    use std::panic::AssertUnwindSafe;

    use boa_engine::{NativeFunction, Source, js_string};

    /// A panic in a native function unwinds through Boa's interpreter, which leaves its frames
    /// behind; the worker's context must still run scripts correctly afterwards, since a
    /// connection that panicked is dropped but the context is shared.
    #[test]
    fn the_engine_still_runs_scripts_after_a_panic_inside_a_native_call() {
        let mut ctx = super::new_context().unwrap();
        let boom = NativeFunction::from_fn_ptr(|_, _, _| panic!("inside a native call"));
        ctx.register_global_builtin_callable(js_string!("boom"), 0, boom).unwrap();
        let src = "function g(x) { let a = [x, x]; return a.map(y => y + boom()) }; g(1)";
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| ctx.eval(Source::from_bytes(src))));
        assert!(r.is_err());
        let src = "function h(a) { try { throw new Error('x') } catch (e) { return [a].map(v => v * 2)[0] } }; h(21)";
        for _ in 0..3 {
            assert_eq!(ctx.eval(Source::from_bytes(src)).unwrap().as_number(), Some(42.0));
        }
        let f = ctx.eval(Source::from_bytes("(x) => x + 1")).unwrap();
        let f = f.as_object().unwrap();
        let v = f.call(&boa_engine::JsValue::undefined(), &[1.into()], &mut ctx).unwrap();
        assert_eq!(v.as_number(), Some(2.0));
    }
}
