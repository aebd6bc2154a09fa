//! The process-wide budget for bytes held in queues (`--max-buffer`): every byte a
//! [`super::Gauge`] counts, on any worker thread, is charged here too. Past the high-water
//! mark (thirteen sixteenths of the budget), readers whose bytes would join a queue that already
//! holds some pause (see [`super::Gauge::wait`]) and accept loops stop accepting, so new
//! connections wait in the kernel's backlog, until the total falls under the low-water mark
//! (three quarters of the budget: resuming a little below the limit keeps the readers from
//! flapping).
//!
//! Writes never wait here, so the queues always drain by themselves. Readers whose queues
//! are empty read on (one small read each, see `net::reader`): their bytes may be what
//! releases others (a tunnel's handshake answer, an HTTP/2 window update). What is above
//! the high-water mark is their headroom, and that of what the budget does not see (the
//! allocator's own, in-flight reads), so that the process stays under the budget: with an
//! eighth of headroom, 1,000 slow readers under 64 MiB still grew it by 62 to 64 MiB.
//!
//! Besides the queues, the budget counts what else grows with traffic (see
//! [`super::charge`]): each open socket and UDP session, and bodies collected whole, so
//! that the process's memory past its idle start stays under the budget.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use tokio::sync::Notify;

/// The one budget of the process.
pub static BUDGET: Budget = Budget::new();

pub struct Budget {
    held: AtomicUsize,
    max: AtomicUsize,
    /// Set when a charge reaches the high-water mark, cleared once the total is under the low-water
    /// mark.
    over: AtomicBool,
    /// Woken as `over` clears: readers and accept loops on every thread wait on it.
    under: Notify,
}

impl Budget {
    /// No budget (`usize::MAX`) until [`Budget::set_max`].
    pub const fn new() -> Budget {
        Budget {
            held: AtomicUsize::new(0),
            max: AtomicUsize::new(usize::MAX),
            over: AtomicBool::new(false),
            under: Notify::const_new(),
        }
    }

    pub fn set_max(&self, bytes: usize) {
        self.max.store(bytes, Relaxed);
    }

    pub fn max(&self) -> usize {
        self.max.load(Relaxed)
    }

    /// Bytes held in queues now, all threads together.
    pub fn held(&self) -> usize {
        self.held.load(Relaxed)
    }

    /// Bytes that may still be charged before the high-water mark is reached.
    pub fn room(&self) -> usize {
        self.high_water().saturating_sub(self.held())
    }

    /// Half the budget is held: bytes that would keep a larger buffer alive are worth a
    /// copy of their own (see `net::reader`).
    pub fn pressed(&self) -> bool {
        self.held() >= self.max() / 2
    }

    /// Thirteen sixteenths of the budget, rounded up: where readers with bytes queued pause.
    fn high_water(&self) -> usize {
        self.max() - self.max() / 8 - self.max() / 16
    }

    /// Three quarters of the budget, rounded up: a budget of a byte or two still has a mark
    /// that an empty queue is under.
    fn low_water(&self) -> usize {
        self.max() - self.max() / 4
    }

    /// `n` more bytes wait in a queue: one relaxed add on the traffic path, and a flag set
    /// only when the total crosses the high-water mark.
    pub fn charge(&self, n: usize) {
        let after = self.held.fetch_add(n, Relaxed) + n;
        if after >= self.high_water() && !self.over.load(Relaxed) {
            self.over.store(true, Relaxed);
        }
    }

    /// `n` bytes left their queue (written, dropped, failed).
    pub fn release(&self, n: usize) {
        let after = self.held.fetch_sub(n, Relaxed).saturating_sub(n);
        if after < self.low_water() && self.over.load(Relaxed) && self.over.swap(false, Relaxed) {
            self.under.notify_waiters();
        }
    }

    /// Whether readers and accept loops should wait. A charge and a release racing on two
    /// threads can leave the flag set under the low-water mark; whoever asks then clears
    /// it, so no waiter is left for a release that already happened.
    pub fn over(&self) -> bool {
        if !self.over.load(Relaxed) {
            return false;
        }
        if self.held() >= self.low_water() {
            return true;
        }
        if self.over.swap(false, Relaxed) {
            self.under.notify_waiters();
        }
        false
    }

    /// Returns once the total is under the low-water mark (at once if it is not over).
    pub async fn under(&self) {
        loop {
            let woken = self.under.notified();
            if !self.over() {
                return;
            }
            woken.await;
        }
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new()
    }
}

/// The default budget: a quarter of the memory this process may use (the machine's, or its
/// cgroup's limit when lower), so that a proxy whose peers stop reading holds at most that
/// much in queues and leaves the rest to the kernel's socket buffers and everything else.
pub fn default_max() -> usize {
    let total = meminfo_total().unwrap_or(4 << 30);
    let limit = cgroup_limit().map_or(total, |l| l.min(total));
    limit / 4
}

fn meminfo_total() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// cgroup v2's `memory.max` for this process's cgroup ("max" is no limit).
fn cgroup_limit() -> Option<usize> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mount = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let root = mount.lines().find(|l| l.contains(" - cgroup2 "))?.split_whitespace().nth(4)?.to_string();
    std::fs::read_to_string(format!("{root}{path}/memory.max")).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_budget_waiters_pause_until_the_low_water_mark() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let b: &'static Budget = Box::leak(Box::default());
            b.set_max(1000);
            b.charge(600);
            assert!(!b.over());
            b.charge(212);
            assert!(!b.over() && b.room() == 1, "under the high-water mark (813)");
            b.charge(188);
            assert!(b.over(), "at the budget");
            let waiter = tokio::spawn(b.under());
            tokio::task::yield_now().await;
            b.release(200);
            tokio::task::yield_now().await;
            assert!(b.over() && !waiter.is_finished(), "800 is over the low-water mark (750)");
            b.release(51);
            waiter.await.unwrap();
            assert!(!b.over() && b.held() == 749);
            // A flag left set under the low-water mark by racing threads clears when asked.
            b.over.store(true, Relaxed);
            assert!(!b.over());
            b.release(749);
            // The smallest budget: any byte is over it, and none is under its mark.
            b.set_max(1);
            b.charge(1);
            assert!(b.over());
            b.release(1);
            assert!(!b.over());
        });
    }

    #[test]
    fn the_default_is_a_quarter_of_the_memory_at_hand() {
        let total = meminfo_total().unwrap();
        assert!(default_max() <= total / 4 && default_max() > 0);
    }
}
