//! Flow control between the two sides of a connection.

use std::cell::Cell;

use tokio::sync::Notify;

/// Bytes queued for the sockets on one side of a connection's pipelines. Readers on the
/// other side stop reading while it is over [`Gauge::LIMIT`], so a fast peer cannot fill
/// memory behind a slow one (Pipy's `congestionLimit`, fixed at 1 MiB).
#[derive(Default)]
pub struct Gauge {
    queued: Cell<usize>,
    drained: Notify,
    /// Holders that want readers paused whatever the queue (a throttle over its rate).
    holds: Cell<usize>,
}

impl Gauge {
    pub const LIMIT: usize = 1 << 20;

    pub fn add(&self, n: usize) {
        self.queued.set(self.queued.get() + n);
    }

    pub fn sub(&self, n: usize) {
        let before = self.queued.get();
        self.queued.set(before - n);
        if before >= Self::LIMIT && before - n < Self::LIMIT && self.holds.get() == 0 {
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

    fn over(&self) -> bool {
        self.queued.get() >= Self::LIMIT || self.holds.get() > 0
    }

    /// Returns once the queue is under the limit and nobody holds it.
    pub async fn wait(&self) {
        while self.over() {
            let drained = self.drained.notified();
            if !self.over() {
                return;
            }
            drained.await;
        }
    }
}
