//! Pacing for filters that make many bytes out of few (decompression): a socket read is
//! bounded, but what a filter makes of it need not be (16 KiB of gzip is 16 MiB of zeros).
//!
//! Such a filter makes its output a piece at a time and asks [`Pace::full`] after each: once
//! the queues its connection's bytes wait in are at their limit, it keeps the rest of its
//! input and [`Pace::pause`]s. While paused it holds both of its connection's gauges, so the
//! socket readers feeding it stop reading too (a filter does not know which side its
//! output goes to); once the queues have room again it is woken ([`crate::engine::Filter::wake`])
//! to go on. The hold ends as the sockets drain the queues, which needs no reading on this
//! connection; a peer that will not read one way until it can write the other stalls it
//! until the idle timeout.

use tokio::task::JoinHandle;

use super::{FilterEnv, ReaderHold};

pub struct Pace {
    env: FilterEnv,
    readers: ReaderHold,
    /// The task that wakes the filter once there is room; set while paused.
    waiting: Option<JoinHandle<()>>,
}

impl Pace {
    pub fn new(env: FilterEnv) -> Pace {
        Pace { readers: ReaderHold::new(env.context.clone()), env, waiting: None }
    }

    /// Whether the queues of this connection's bytes, either way, are at their limit.
    pub fn full(&self) -> bool {
        let context = &self.env.context;
        context.downstream.full() || context.upstream.full()
    }

    pub fn paused(&self) -> bool {
        self.waiting.is_some()
    }

    /// Holds the readers and wakes the filter once both queues have room.
    pub fn pause(&mut self) {
        if self.paused() {
            return;
        }
        self.readers.set(true);
        let env = self.env.clone();
        self.waiting = Some(tokio::task::spawn_local(async move {
            env.context.downstream.room().await;
            env.context.upstream.room().await;
            env.wake();
        }));
    }

    /// Lets the readers go on (the filter was woken, or is done).
    pub fn resume(&mut self) {
        if let Some(task) = self.waiting.take() {
            task.abort();
            self.readers.set(false);
        }
    }
}

impl Drop for Pace {
    fn drop(&mut self) {
        self.resume();
    }
}
