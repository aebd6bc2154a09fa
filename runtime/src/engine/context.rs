//! Per-pipeline context: the values of the script's `$` variables and the inbound served.
//!
//! Boa gives a script variable one value, while Pipy gives every connection its own copy of
//! each `$name`. The host keeps the values here, in slots, and the global accessors made for
//! each `$name` (see `js::vars`) read and write the slot of the *current* context, which is
//! set around every call into JS. Switching contexts is a pointer swap, not a copy.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use boa_engine::JsValue;

use crate::net::inbound::InboundInfo;

pub struct Context {
    pub id: u64,
    vars: RefCell<Vec<JsValue>>,
    pub inbound: Option<Rc<InboundInfo>>,
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
        Rc::new(Context { id: 0, vars: RefCell::new(Vec::new()), inbound: None })
    }

    /// A new context whose `$` values start as a snapshot of this one's. Objects are shared
    /// by reference, as in Pipy.
    pub fn copy(&self, inbound: Option<Rc<InboundInfo>>) -> Rc<Context> {
        Rc::new(Context {
            id: next_id(),
            vars: RefCell::new(self.vars.borrow().clone()),
            inbound: inbound.or_else(|| self.inbound.clone()),
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
