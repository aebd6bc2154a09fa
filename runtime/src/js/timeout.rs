//! `Timeout`: `new Timeout(seconds).wait()` is a promise resolved after that long;
//! `cancel()` rejects the waits under way and every later one, as Pipy's.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsPromise;
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::with_js;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<Timeout>()
}

#[derive(Debug, Trace, Finalize, JsData)]
pub struct Timeout {
    #[unsafe_ignore_trace]
    delay: Duration,
    #[unsafe_ignore_trace]
    cancel: Rc<Cancel>,
}

/// Whether `cancel()` was called, and the waits to tell.
#[derive(Debug, Default)]
struct Cancel {
    done: Cell<bool>,
    notify: tokio::sync::Notify,
}

impl Class for Timeout {
    const NAME: &'static str = "Timeout";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let delay = match args.first() {
            Some(v) => crate::options::duration(v, ctx)?,
            None => Duration::ZERO,
        };
        Ok(Timeout { delay, cancel: Rc::default() })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(js_string!("wait"), 0, NativeFunction::from_fn_ptr(wait));
        class.method(js_string!("cancel"), 0, NativeFunction::from_fn_ptr(cancel));
        Ok(())
    }
}

fn wait(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (delay, cancel) = this
        .as_object()
        .and_then(|o| o.downcast_ref::<Timeout>().map(|t| (t.delay, t.cancel.clone())))
        .ok_or_else(|| super::type_error("Timeout.wait called on a non-Timeout"))?;
    let (promise, resolvers) = JsPromise::new_pending(ctx);
    // The callbacks chained on the promise run in the context that waited, as in Pipy.
    let context = super::current().unwrap_or_else(super::state::root);
    tokio::task::spawn_local(async move {
        // Created before the flag is read: a cancel() from now on wakes it.
        let cancelled = cancel.notify.notified();
        let fired = !cancel.done.get()
            && tokio::select! {
                _ = tokio::time::sleep(delay) => true,
                _ = cancelled => false,
            };
        // A wait started at the top level of a script reloaded away stays pending, as in
        // Pipy: its loops end with it. One of a connection's callbacks still fires.
        if super::state::retired(&context) {
            return;
        }
        super::in_context(&context, || {
            with_js(|ctx| {
                let settle = if fired { &resolvers.resolve } else { &resolvers.reject };
                let _ = settle.call(&JsValue::undefined(), &[], ctx);
                let _ = ctx.run_jobs();
            })
        });
    });
    Ok(promise.into())
}

fn cancel(this: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let cancel = this
        .as_object()
        .and_then(|o| o.downcast_ref::<Timeout>().map(|t| t.cancel.clone()))
        .ok_or_else(|| super::type_error("Timeout.cancel called on a non-Timeout"))?;
    cancel.done.set(true);
    cancel.notify.notify_waiters();
    Ok(JsValue::undefined())
}
