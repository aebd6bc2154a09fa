//! Waiting on script promises from Rust.

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::JsValue;
use boa_engine::object::builtins::JsPromise;

use super::{describe, function, with_js};
use crate::engine::Context;

pub fn is_promise(v: &JsValue) -> bool {
    v.as_object().is_some_and(|o| o.is::<boa_engine::builtins::promise::Promise>())
}

type Settled = Rc<RefCell<Option<Box<dyn FnOnce(Result<JsValue, String>)>>>>;

/// Calls `done` once `promise` settles. `done` runs from its own task, never inside the JS
/// job that settled the promise, so it may call into JS itself.
pub fn on_settled(promise: &JsValue, context: &Rc<Context>, done: Box<dyn FnOnce(Result<JsValue, String>)>) {
    let Some(obj) = promise.as_object() else { return };
    let slot: Settled = Rc::new(RefCell::new(Some(done)));
    let context = context.clone();
    let wired = with_js(|ctx| -> boa_engine::JsResult<()> {
        let p = JsPromise::from_object(obj.clone())?;
        let ok = function(ctx, slot.clone(), |slot, _, args, _| {
            settle(slot, Ok(args.first().cloned().unwrap_or_default()));
            Ok(JsValue::undefined())
        });
        let err = function(ctx, slot.clone(), |slot, _, args, ctx| {
            let reason = args.first().cloned().unwrap_or_default();
            let msg = describe(&boa_engine::JsError::from_opaque(reason), ctx);
            settle(slot, Err(msg));
            Ok(JsValue::undefined())
        });
        super::in_context(&context, || p.then(Some(ok), Some(err), ctx))?;
        Ok(())
    });
    if !matches!(wired, Some(Ok(()))) {
        settle(&slot, Err("cannot wait on a promise".into()));
    }
}

fn settle(slot: &Settled, r: Result<JsValue, String>) {
    if let Some(done) = slot.borrow_mut().take() {
        // Counted until `done` has run: a worker stopping after an exit callback resolved this
        // promise waits for what the resolution sets going.
        let busy = crate::engine::busy::Busy::new();
        tokio::task::spawn_local(async move {
            done(r);
            drop(busy);
        });
    }
}
