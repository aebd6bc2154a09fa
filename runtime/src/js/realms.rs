//! The realms of scripts reloaded away. A reload evaluates the new script in a new Boa realm
//! of the same context (its own globals, classes and intrinsics), and the new realm becomes
//! the one every call starts in. Connections the old script opened keep running on its
//! pipelines; when the engine calls into JS for one of them, the call runs in the old realm,
//! so the values it is given (a `Message`, a `MessageStart`) are of the classes its script
//! knows and `instanceof` answers as it did before the reload.
//!
//! A retired realm is kept while a pipeline context of its load (its
//! [`Generation`](crate::engine::context::Generation)) lives, and forgotten at the next
//! reload after the last one is gone.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use boa_engine::realm::Realm;

use crate::engine::context::Generation;

thread_local! {
    static RETIRED: RefCell<Vec<(Weak<Generation>, Realm)>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `realm` for the contexts of `generation`, and forgets the realms no context needs.
pub fn retire(generation: &Rc<Generation>, realm: Realm) {
    RETIRED.with(|r| {
        let mut r = r.borrow_mut();
        r.retain(|(g, _)| g.strong_count() > 0);
        r.push((Rc::downgrade(generation), realm));
    });
}

/// The realm a call for a context of `generation` runs in, when it is not the current one.
pub fn of(generation: *const Generation) -> Option<Realm> {
    RETIRED.with(|r| {
        let r = r.borrow();
        if r.is_empty() || generation.is_null() {
            return None;
        }
        r.iter().find(|(g, _)| std::ptr::eq(g.as_ptr(), generation)).map(|(_, realm)| realm.clone())
    })
}

/// Forgets every retired realm (at worker teardown, before the engine goes).
pub fn clear() {
    RETIRED.with(|r| r.borrow_mut().clear());
}

/// Whether `realm` is one of a script reloaded away.
pub fn is_retired(realm: &Realm) -> bool {
    RETIRED.with(|r| r.borrow().iter().any(|(_, x)| x == realm))
}
