//! Loading the script again on a running worker (SIGHUP, `--watch`, `pipy.restart()`).
//!
//! The new script is evaluated in a new realm of the worker's Boa context ([`evaluate`]): its
//! own globals, classes and module instances, its own root pipeline context. The old script's
//! pipelines, still serving the connections it opened, keep its realm (see `realms`). Once
//! the worker has opened the new script's listeners, [`commit`] makes the new script the one
//! new connections and timers see and hands back the old exit callbacks to run; if the script
//! failed, or its listeners could not be opened, [`rollback`] puts everything back as it was.

use std::rc::Rc;

use boa_engine::JsObject;
use boa_engine::realm::Realm;

use super::script::{self, Script};
use super::state::{self, with_state};
use super::{configuration, modules, realms};
use crate::engine;
use crate::net::listener::ListenSpec;

/// A script evaluated but not yet serving: what [`commit`] or [`rollback`] needs.
pub struct Pending {
    old_realm: Realm,
    old_exit: Vec<JsObject>,
    /// The old script's `stats.Gauge` callbacks: no longer called once the new one serves.
    old_gauges: Vec<(JsObject, JsObject)>,
    old_registry: Option<Rc<engine::Registry>>,
    new_root: Rc<engine::Context>,
}

/// What the old script leaves to finish once the new one serves.
pub struct Retired {
    /// Its `pipy.exit` callbacks, to run in copies of `root`.
    pub exit_callbacks: Vec<JsObject>,
    pub root: Rc<engine::Context>,
}

/// Evaluates `script` in a new realm and returns the listeners it asked for. On success
/// the new realm is the context's current one until [`commit`] or [`rollback`]; on failure
/// (already formatted for the user) nothing has changed.
pub fn evaluate(script: &Script) -> Result<(Vec<ListenSpec>, Pending), String> {
    let engine = super::take_engine().ok_or("no script is running on this thread")?;
    let result = evaluate_in(script, &mut engine.borrow_mut());
    super::put_engine(engine);
    result
}

fn evaluate_in(script: &Script, ctx: &mut boa_engine::Context) -> Result<(Vec<ListenSpec>, Pending), String> {
    let realm = ctx.create_realm().map_err(|e| format!("cannot make a realm for the new script: {e}"))?;
    let old_realm = ctx.enter_realm(realm);
    let old_exit = with_state(|s| std::mem::take(&mut s.exit_callbacks));
    let old_gauges = with_state(|s| std::mem::take(&mut s.gauge_callbacks));
    let old_registry = configuration::replace_active(None);
    modules::forget(ctx);
    let evaluated = super::register_globals(ctx)
        .map_err(|e| format!("cannot set up the JS host: {e}"))
        .and_then(|_| script::evaluate(script, ctx, false));
    let pending = |new_root| Pending { old_realm, old_exit, old_gauges, old_registry, new_root };
    match evaluated {
        Ok(new_root) => Ok((state::take_listeners(), pending(new_root))),
        Err(e) => {
            // The module instances of the failed load must not serve the next one.
            modules::forget(ctx);
            undo(ctx, pending(engine::Context::root()));
            Err(e)
        }
    }
}

/// Makes the new script the one that serves: new connections and `$` values start from its
/// root, and the old script's realm is kept for the connections it still has.
pub fn commit(p: Pending) -> Retired {
    let old_root = state::root();
    realms::retire(&old_root.generation, p.old_realm);
    state::set_root(p.new_root);
    Retired { exit_callbacks: p.old_exit, root: old_root }
}

/// Puts the old script back as the one that serves, as if the new one had never loaded.
pub fn rollback(p: Pending) {
    if let Some(engine) = super::take_engine() {
        undo(&mut engine.borrow_mut(), p);
        super::put_engine(engine);
    }
}

fn undo(ctx: &mut boa_engine::Context, p: Pending) {
    ctx.enter_realm(p.old_realm);
    configuration::replace_active(p.old_registry);
    // The new script's listeners and exit callbacks go with it; its timers never fire, as
    // its root never becomes the worker's (see `state::retired`).
    with_state(|s| {
        s.listeners.clear();
        s.exit_callbacks = p.old_exit;
        s.gauge_callbacks = p.old_gauges;
    });
}
