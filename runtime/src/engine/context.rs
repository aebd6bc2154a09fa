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
    vars: RefCell<Vec<JsValue>>,
    pub inbound: Option<Rc<Inbound>>,
    /// Bytes waiting for the client's socket; upstream readers pause while it is full.
    pub downstream: Rc<Gauge>,
    /// Bytes waiting for upstream sockets; the client's reader pauses while it is full.
    pub upstream: Rc<Gauge>,
}

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

fn next_id() -> u64 {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

impl Context {
    pub fn root() -> Rc<Context> {
        Rc::new(Context {
            id: 0,
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
