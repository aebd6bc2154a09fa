//! Flow control between the two sides of a connection.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::budget::BUDGET;

/// Bytes queued for the sockets on one side of a connection's pipelines. Readers on the
/// other side stop reading while it is over [`Gauge::LIMIT`], so a fast peer cannot fill
/// memory behind a slow one (Pipy's `congestionLimit`, fixed at 1 MiB).
///
/// Whoever adds bytes must subtract them again on every path (written, dropped, failed):
/// a byte counted for ever stalls the reader that waits here for ever.
///
/// A gauge can have a parent: a reader waiting on it also waits for the parent (and the
/// parent's parent, a few levels up). A demuxed request's responses queue on their own
/// gauge whose parent is the connection's, so a response waiting for its turn pauses only
/// its own upstream, while the one being written is paused by the client's socket.
#[derive(Default)]
pub struct Gauge {
    queued: Cell<usize>,
    drained: Notify,
    /// When bytes last left the queue: a reader paused here is not idle while they move.
    progress: Cell<Option<Instant>>,
    parent: RefCell<Option<Rc<Gauge>>>,
    /// Holders that want readers paused whatever the queue (too many requests waiting).
    holds: Cell<usize>,
}

/// How far up a chain of parents a reader looks (parents can be re-pointed, so a chain
/// could loop: the walk is bounded instead of trusted).
const DEPTH: usize = 4;

impl Gauge {
    pub const LIMIT: usize = 1 << 20;

    pub fn child(parent: Rc<Gauge>) -> Gauge {
        Gauge { parent: RefCell::new(Some(parent)), ..Default::default() }
    }

    /// Re-points the parent (a shared upstream session now answers someone else).
    pub fn set_parent(&self, parent: Option<Rc<Gauge>>) {
        if parent.as_ref().is_some_and(|p| std::ptr::eq(self, &**p)) {
            return;
        }
        *self.parent.borrow_mut() = parent;
        self.drained.notify_waiters();
    }

    pub fn parent(&self) -> Option<Rc<Gauge>> {
        self.parent.borrow().clone()
    }

    pub fn add(&self, n: usize) {
        self.queued.set(self.queued.get() + n);
        BUDGET.charge(n);
    }

    pub fn sub(&self, n: usize) {
        if n == 0 {
            return;
        }
        let before = self.queued.get();
        debug_assert!(n <= before, "gauge released more than it held");
        let after = before.saturating_sub(n);
        self.queued.set(after);
        BUDGET.release(before - after);
        self.progress.set(Some(Instant::now()));
        // A reader the budget paused only while this queue held bytes reads on.
        if after == 0 && BUDGET.over() {
            self.drained.notify_waiters();
        }
        // Held or not: a filter waiting for room (see [`Gauge::room`]) ignores holds.
        if before >= Self::LIMIT && after < Self::LIMIT {
            self.drained.notify_waiters();
        }
    }

    /// Pauses readers until [`Gauge::unhold`].
    pub fn hold(&self) {
        self.holds.set(self.holds.get() + 1);
    }

    pub fn unhold(&self) {
        self.holds.set(self.holds.get().saturating_sub(1));
        if self.holds.get() == 0 && self.queued.get() < Self::LIMIT {
            self.drained.notify_waiters();
        }
    }

    pub fn queued(&self) -> usize {
        self.queued.get()
    }

    /// Whether someone holds the readers paused.
    #[cfg(test)]
    pub fn held(&self) -> bool {
        self.holds.get() > 0
    }

    fn over(&self) -> bool {
        self.queued.get() >= Self::LIMIT || self.holds.get() > 0
    }

    /// Whether this queue or a parent's is at its limit, whoever holds them.
    pub fn full(&self) -> bool {
        self.queued.get() >= Self::LIMIT || self.full_queue_above().is_some()
    }

    /// The first parent whose queue is at its limit.
    fn full_queue_above(&self) -> Option<Rc<Gauge>> {
        let mut next = self.parent.borrow().clone();
        for _ in 0..DEPTH {
            let g = next?;
            if g.queued.get() >= Self::LIMIT {
                return Some(g);
            }
            next = g.parent.borrow().clone();
        }
        None
    }

    /// Returns once this queue and its parents' are under their limits, holds aside: for
    /// a filter that holds the readers itself while it waits to make more bytes.
    pub async fn room(&self) {
        loop {
            let own = self.drained.notified();
            if self.queued.get() >= Self::LIMIT {
                own.await;
                continue;
            }
            let Some(parent) = self.full_queue_above() else { return };
            let theirs = parent.drained.notified();
            if parent.queued.get() < Self::LIMIT {
                continue;
            }
            tokio::select! {
                _ = own => {}
                _ = theirs => {}
            }
        }
    }

    /// The first parent that is over its limit.
    fn full_parent(&self) -> Option<Rc<Gauge>> {
        let mut next = self.parent.borrow().clone();
        for _ in 0..DEPTH {
            let g = next?;
            if g.over() {
                return Some(g);
            }
            next = g.parent.borrow().clone();
        }
        None
    }

    /// When queued bytes last moved on.
    pub fn progress(&self) -> Option<Instant> {
        self.progress.get()
    }

    /// Returns once the queue and its parents' are under their limits, and, while the
    /// process is over its budget, once none of them holds bytes: a reader whose bytes
    /// would queue behind others waits for the budget, one whose queues are empty reads on
    /// (its bytes may be what drains the others). Callers race it against their idle
    /// timeout, so a queue that never drains cannot hold a connection.
    pub async fn wait(&self) {
        loop {
            let own = self.drained.notified();
            if self.over() {
                own.await;
                continue;
            }
            if let Some(parent) = self.full_parent() {
                let theirs = parent.drained.notified();
                if parent.over() {
                    tokio::select! {
                        _ = own => {}
                        _ = theirs => {}
                    }
                }
                continue;
            }
            if !BUDGET.over() {
                return;
            }
            if self.queued.get() > 0 {
                tokio::select! {
                    _ = own => {}
                    _ = BUDGET.under() => {}
                }
                continue;
            }
            let Some(holder) = self.holding_parent() else { return };
            let emptied = holder.drained.notified();
            if holder.queued.get() > 0 {
                tokio::select! {
                    _ = emptied => {}
                    _ = BUDGET.under() => {}
                }
            }
        }
    }

    /// Whether [`Gauge::wait`] would wait now: a reader woken by its socket asks again
    /// before it reads, since the queues may have filled (or the budget run out) while it
    /// waited for input, and a thousand readers each reading past the budget is what the
    /// budget is for.
    pub fn paused(&self) -> bool {
        self.over()
            || self.full_parent().is_some()
            || (BUDGET.over() && (self.queued.get() > 0 || self.holding_parent().is_some()))
    }

    /// The first parent whose queue holds bytes.
    fn holding_parent(&self) -> Option<Rc<Gauge>> {
        let mut next = self.parent.borrow().clone();
        for _ in 0..DEPTH {
            let g = next?;
            if g.queued.get() > 0 {
                return Some(g);
            }
            next = g.parent.borrow().clone();
        }
        None
    }
}

/// Bytes a filter holds for a socket it cannot write to yet (a tunnel not open), counted on
/// the gauge of the reader that brought them, so that reader pauses past the limit as if
/// they were queued for the socket. Uncounted when taken, and when dropped.
pub struct Held {
    gauge: Rc<Gauge>,
    bytes: Vec<Bytes>,
    counted: usize,
}

impl Held {
    pub fn new(gauge: Rc<Gauge>) -> Held {
        Held { gauge, bytes: Vec::new(), counted: 0 }
    }

    pub fn push(&mut self, b: Bytes) {
        self.counted += b.len();
        self.gauge.add(b.len());
        self.bytes.push(b);
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes, in order, to hand on (or drop).
    pub fn take(&mut self) -> Vec<Bytes> {
        self.gauge.sub(std::mem::take(&mut self.counted));
        std::mem::take(&mut self.bytes)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.gauge.sub(self.counted);
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use bytes::Bytes;
    use tokio::task::LocalSet;

    use super::{Gauge, Held};

    fn run(f: impl std::future::Future<Output = ()>) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        LocalSet::new().block_on(&rt, f);
    }

    #[test]
    fn room_waits_for_a_full_parent_whoever_holds_the_queues() {
        run(async {
            let parent = Rc::new(Gauge::default());
            let child = Rc::new(Gauge::child(parent.clone()));
            child.hold();
            parent.add(Gauge::LIMIT);
            assert!(child.full() && !Rc::new(Gauge::default()).full());
            let waiter = tokio::task::spawn_local({
                let child = child.clone();
                async move { child.room().await }
            });
            tokio::task::yield_now().await;
            assert!(!waiter.is_finished(), "the parent is full");
            parent.sub(1);
            waiter.await.unwrap();
            assert!(!child.full(), "held, but not full");
        });
    }

    #[test]
    fn held_bytes_count_until_taken_or_dropped() {
        let gauge = Rc::new(Gauge::default());
        let mut held = Held::new(gauge.clone());
        held.push(Bytes::from_static(b"abc"));
        held.push(Bytes::from_static(b"de"));
        assert_eq!(gauge.queued(), 5);
        assert_eq!(held.take().concat(), b"abcde");
        assert_eq!(gauge.queued(), 0);
        held.push(Bytes::from_static(b"f"));
        drop(held);
        assert_eq!(gauge.queued(), 0);
    }
}
