//! What the script's native functions keep per worker thread: where the script is, the
//! thread's place among the workers, the listeners and exit callbacks the script asked for,
//! and the root context every connection's `$` values are copied from.
//!
//! The worker fills it before the script runs ([`start`]), takes the listeners after it
//! ran ([`take_listeners`]) and empties it at stop ([`clear`]). Listeners the script opens or
//! closes later (`pipy.listen` in a callback, a `ListenerArray`'s `add`) wake the worker
//! ([`listeners_changed`]), which takes them with [`take_changes`].

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use boa_engine::JsObject;

use crate::engine::Context;
use crate::net::listener::{ListenSpec, Transport};

/// Per-worker state that the script's native functions reach.
#[derive(Default)]
pub struct State {
    pub script_path: PathBuf,
    pub script_dir: PathBuf,
    pub thread_id: usize,
    pub concurrency: usize,
    pub argv: Vec<String>,
    pub listeners: Vec<ListenSpec>,
    /// Listeners to close: their address and transport.
    pub unlisten: Vec<(SocketAddr, Transport)>,
    pub exit_callbacks: Vec<JsObject>,
    /// `stats.Gauge` callbacks and their gauges, called at each collection.
    pub gauge_callbacks: Vec<(JsObject, JsObject)>,
    pub started: Option<Instant>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    static ROOT: RefCell<Option<Rc<Context>>> = const { RefCell::new(None) };
    static CHANGED: Rc<tokio::sync::Notify> = Rc::new(tokio::sync::Notify::new());
}

pub fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

/// Where a worker thread stands before its script runs.
pub struct Thread<'a> {
    pub script_path: &'a std::path::Path,
    pub id: usize,
    pub concurrency: usize,
    pub argv: Vec<String>,
}

/// Sets this thread's state for a script about to run.
pub fn start(t: Thread) {
    with_state(|s| {
        s.script_path = t.script_path.to_path_buf();
        s.script_dir = t.script_path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        s.thread_id = t.id;
        s.concurrency = t.concurrency;
        s.argv = t.argv;
        s.started = Some(Instant::now());
    });
}

/// The listeners the script asked for, once it has run.
pub fn take_listeners() -> Vec<ListenSpec> {
    with_state(|s| {
        s.unlisten.clear();
        std::mem::take(&mut s.listeners)
    })
}

/// A listener to open, or to serve with a new pipeline if its address is open: replaces one
/// asked for on the same address, and takes back a close asked for it.
pub fn listen(spec: ListenSpec) {
    with_state(|s| {
        s.listeners.retain(|l| l.addr != spec.addr || l.protocol != spec.protocol);
        s.unlisten.retain(|u| *u != (spec.addr, spec.protocol));
        s.listeners.push(spec);
    });
    CHANGED.with(|n| n.notify_one());
}

/// A listener to close, and one asked for on its address not to open.
pub fn unlisten(addr: SocketAddr, protocol: Transport) {
    with_state(|s| {
        s.listeners.retain(|l| l.addr != addr || l.protocol != protocol);
        if !s.unlisten.contains(&(addr, protocol)) {
            s.unlisten.push((addr, protocol));
        }
    });
    CHANGED.with(|n| n.notify_one());
}

/// Resolves once [`listen`] or [`unlisten`] was called (at once if it was since the last time).
pub async fn listeners_changed() {
    let changed = CHANGED.with(|n| n.clone());
    changed.notified().await
}

/// What to close, then what to open, since the last call.
pub fn take_changes() -> (Vec<(SocketAddr, Transport)>, Vec<ListenSpec>) {
    with_state(|s| (std::mem::take(&mut s.unlisten), std::mem::take(&mut s.listeners)))
}

/// Makes `root` the context new connections copy their `$` values from.
pub fn set_root(root: Rc<Context>) {
    ROOT.with(|r| *r.borrow_mut() = Some(root));
}

/// The worker's root context: what every new connection's `$` values are copied from.
pub fn root() -> Rc<Context> {
    ROOT.with(|r| r.borrow().clone()).unwrap_or_else(Context::root)
}

/// Drops every script value this state holds. Thread-local destructors run in no defined
/// order, so the worker calls this before it drops the script engine.
pub fn clear() {
    ROOT.with(|r| r.borrow_mut().take());
    let state = STATE.with(|s| std::mem::take(&mut *s.borrow_mut()));
    drop::<State>(state);
}

/// Whether `context` is the root of a script that was reloaded away (or never took over):
/// what it started at the top level (timers, watches, tasks) ends with it.
pub fn retired(context: &Rc<Context>) -> bool {
    context.id == 0 && !Rc::ptr_eq(&context.generation, &root().generation)
}

/// Runs the `pipy.exit` callbacks in order, each in a fresh context, waiting for any
/// Promise they return. A throwing callback ends the sequence, as in Pipy.
pub async fn run_exit_callbacks() {
    let callbacks = with_state(|s| std::mem::take(&mut s.exit_callbacks));
    run_callbacks(callbacks, root()).await
}

/// Runs `callbacks` as [`run_exit_callbacks`] does, in copies of `root`: the exit callbacks
/// of a script reloaded away run in its own contexts.
pub async fn run_callbacks(callbacks: Vec<JsObject>, root: Rc<Context>) {
    let mut pending = Vec::new();
    for f in callbacks {
        let context = root.copy(None);
        match super::call(&context, &f, &[]) {
            Ok(v) if super::promise::is_promise(&v) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                super::promise::on_settled(
                    &v,
                    &context,
                    Box::new(move |r| {
                        let _ = tx.send(r);
                    }),
                );
                pending.push(rx);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(target: "script", "exit callback: {e}");
                break;
            }
        }
    }
    for rx in pending {
        if let Ok(Err(e)) = rx.await {
            tracing::error!(target: "script", "exit callback: {e}");
        }
    }
}
