//! What `pipy.inbound` and `pipy.outbound` list: a thread's connections of one kind, held
//! weakly, so that listing them keeps none alive.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

/// This thread's objects of one kind that are still open, as `open` tells: those closed or
/// dropped are swept when the list would grow, so it stays within twice the open ones.
pub struct Live<T>(RefCell<Vec<Weak<T>>>);

impl<T> Live<T> {
    pub const fn new() -> Live<T> {
        Live(RefCell::new(Vec::new()))
    }

    /// Lists `item` after the others.
    pub fn track(&self, item: &Rc<T>, open: impl Fn(&T) -> bool) {
        let mut l = self.0.borrow_mut();
        if l.len() == l.capacity() {
            l.retain(|w| w.upgrade().is_some_and(|i| open(&i)));
        }
        l.push(Rc::downgrade(item));
    }

    /// The open ones, oldest first.
    pub fn list(&self, open: impl Fn(&T) -> bool) -> Vec<Rc<T>> {
        self.0.borrow().iter().filter_map(Weak::upgrade).filter(|i| open(i)).collect()
    }
}
