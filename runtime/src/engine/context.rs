//! Per-pipeline context: the values of the script's `$` variables and the inbound served.
//!
//! Boa gives a script variable one value, while Pipy gives every connection its own copy of
//! each `$name`. The host keeps the values here, in slots, and the global accessors made for
//! each `$name` (see `js::vars`) read and write the slot of the *current* context, which is
//! set around every call into JS. Switching contexts is a pointer swap, not a copy.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use boa_engine::JsValue;

use super::{Gauge, Inbound};

pub struct Context {
    pub id: u64,
    /// Which load of the script this context descends from: every copy shares its root's.
    /// A reload makes a new root, so a host can tell an open connection of the old script
    /// from a new one (see `js::realms`).
    pub generation: Rc<Generation>,
    vars: RefCell<Vec<JsValue>>,
    pub inbound: Option<Rc<Inbound>>,
    /// Bytes waiting for the client's socket; upstream readers pause while it is full.
    pub downstream: Rc<Gauge>,
    /// Bytes waiting for upstream sockets; the client's reader pauses while it is full.
    pub upstream: Rc<Gauge>,
}

/// One load of the script (see [`Context::generation`]). It lives as long as a context of
/// that load does, so that its host's state for it can be dropped with the last one.
#[derive(Default)]
pub struct Generation;

thread_local! {
    /// The generation of the pipeline whose filters run right now (see [`at_work`]).
    static AT_WORK: Cell<*const Generation> = const { Cell::new(std::ptr::null()) };
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

fn next_id() -> u64 {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

/// Runs `f` as work of a pipeline of `context`: what the host makes meanwhile (values given to
/// the script) is made for that load of the script (see [`at_work`]).
pub fn at_work_for<R>(context: &Context, f: impl FnOnce() -> R) -> R {
    struct Restore(*const Generation);
    impl Drop for Restore {
        fn drop(&mut self) {
            AT_WORK.with(|w| w.set(self.0));
        }
    }
    let _restore = Restore(AT_WORK.with(|w| w.replace(Rc::as_ptr(&context.generation))));
    f()
}

/// The generation of the pipeline at work right now, if any: a pointer only to compare, valid
/// while that pipeline runs.
pub fn at_work() -> *const Generation {
    AT_WORK.with(|w| w.get())
}

impl Context {
    pub fn root() -> Rc<Context> {
        Rc::new(Context {
            id: 0,
            generation: Rc::default(),
            vars: RefCell::new(Vec::new()),
            inbound: None,
            downstream: Rc::default(),
            upstream: Rc::default(),
        })
    }

    /// A new context whose `$` values start as a snapshot of this one's. Objects are shared
    /// by reference, as in Pipy.
    pub fn copy(&self, inbound: Option<Rc<Inbound>>) -> Rc<Context> {
        // A new connection gets its own gauges; a copy within a connection (a demuxed
        // request) shares them, since its bytes go to the same sockets.
        let (downstream, upstream) = match inbound {
            Some(_) => (Rc::default(), Rc::default()),
            None => (self.downstream.clone(), self.upstream.clone()),
        };
        Rc::new(Context {
            id: next_id(),
            generation: self.generation.clone(),
            vars: RefCell::new(self.vars.borrow().clone()),
            inbound: inbound.or_else(|| self.inbound.clone()),
            downstream,
            upstream,
        })
    }

    /// A copy within this connection whose output queues on `downstream` (a child of this
    /// context's gauge), as a demuxed request's response waiting for its turn does.
    pub fn copy_queued_on(&self, downstream: Rc<Gauge>) -> Rc<Context> {
        Rc::new(Context {
            id: next_id(),
            generation: self.generation.clone(),
            vars: RefCell::new(self.vars.borrow().clone()),
            inbound: self.inbound.clone(),
            downstream,
            upstream: self.upstream.clone(),
        })
    }

    pub fn get(&self, slot: usize) -> JsValue {
        self.vars.borrow().get(slot).cloned().unwrap_or_default()
    }

    pub fn set(&self, slot: usize, value: JsValue) {
        let mut vars = self.vars.borrow_mut();
        if vars.len() <= slot {
            vars.resize(slot + 1, JsValue::undefined());
        }
        vars[slot] = value;
    }
}

/// Both readers of a connection held paused by one holder: a filter that holds bytes back
/// and does not know which side its input comes from. Setting it twice the same way counts
/// once; dropping it lets the readers go.
pub struct ReaderHold {
    context: Rc<Context>,
    on: Cell<bool>,
}

impl ReaderHold {
    pub fn new(context: Rc<Context>) -> ReaderHold {
        ReaderHold { context, on: Cell::new(false) }
    }

    pub fn set(&self, on: bool) {
        if self.on.replace(on) == on {
            return;
        }
        for g in [&self.context.upstream, &self.context.downstream] {
            if on { g.hold() } else { g.unhold() }
        }
    }
}

impl Drop for ReaderHold {
    fn drop(&mut self) {
        self.set(false);
    }
}
