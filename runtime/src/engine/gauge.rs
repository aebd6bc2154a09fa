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
}

impl Gauge {
    pub const LIMIT: usize = 1 << 20;

    pub fn add(&self, n: usize) {
        self.queued.set(self.queued.get() + n);
    }

    pub fn sub(&self, n: usize) {
        let before = self.queued.get();
        self.queued.set(before - n);
        if before >= Self::LIMIT && before - n < Self::LIMIT {
            self.drained.notify_waiters();
        }
    }

    /// Returns once the queue is under the limit.
    pub async fn wait(&self) {
        while self.queued.get() >= Self::LIMIT {
            let drained = self.drained.notified();
            if self.queued.get() < Self::LIMIT {
                return;
            }
            drained.await;
        }
    }
}
