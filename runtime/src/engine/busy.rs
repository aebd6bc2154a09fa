//! Work under way on this thread that a stopping worker lets finish: a promise that settled
//! and whose continuation has not run yet, a pipeline being fed, a datagram queued for a
//! socket. A `pipy.exit` callback that resolves a promise another pipeline waits on (Pipy's
//! load-balancer sample queues its XDP detach requests that way) only sets such work going;
//! the worker waits until nothing is [`count`]ed before it ends.

use std::cell::Cell;

thread_local! {
    static BUSY: Cell<usize> = const { Cell::new(0) };
}

/// One piece of work under way, for as long as it lives.
#[must_use = "the work counts only while the guard lives"]
pub struct Busy(());

impl Busy {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Busy {
        BUSY.with(|b| b.set(b.get() + 1));
        Busy(())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.with(|b| b.set(b.get() - 1));
    }
}

/// How many pieces of work are under way on this thread.
pub fn count() -> usize {
    BUSY.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::{Busy, count};

    #[test]
    fn counts_while_the_guards_live() {
        let before = count();
        let a = Busy::new();
        let b = Busy::new();
        assert_eq!(count(), before + 2);
        drop(a);
        assert_eq!(count(), before + 1);
        drop(b);
        assert_eq!(count(), before);
    }
}
