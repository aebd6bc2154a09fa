//! Bytes waiting to be written to a socket, and the task that writes them.
//!
//! Pipelines run synchronously and never wait on a socket, so their output is queued here
//! and a writer task drains the queue. A normal `StreamEnd` becomes a half-close after the
//! queue is flushed; an error `StreamEnd` closes the connection.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::engine::{Event, EventSink};

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum End {
    Open,
    /// Flush, then `shutdown(SHUT_WR)`.
    Shutdown,
    /// Flush, then close both directions.
    Close,
}

pub struct Outbox {
    queue: RefCell<VecDeque<Bytes>>,
    end: Cell<End>,
    notify: Notify,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox { queue: RefCell::new(VecDeque::new()), end: Cell::new(End::Open), notify: Notify::new() }
    }
}

impl Outbox {
    pub fn push(&self, bytes: Bytes) {
        if self.end.get() == End::Open && !bytes.is_empty() {
            self.queue.borrow_mut().push_back(bytes);
            self.notify.notify_one();
        }
    }

    pub fn end(&self, how: End) {
        if self.end.get() == End::Open {
            self.end.set(how);
            self.notify.notify_one();
        }
    }

    pub fn ended(&self) -> End {
        self.end.get()
    }

    /// Writes until the queue is flushed after an end. Returns how the stream ended.
    pub async fn run<W: AsyncWrite + Unpin>(&self, mut w: W) -> io::Result<End> {
        loop {
            let next = self.queue.borrow_mut().pop_front();
            match next {
                Some(bytes) => w.write_all(&bytes).await?,
                None => match self.end.get() {
                    End::Open => self.notify.notified().await,
                    how => {
                        w.flush().await?;
                        w.shutdown().await?;
                        return Ok(how);
                    }
                },
            }
        }
    }
}

impl EventSink for Outbox {
    fn on_event(&self, evt: Event) {
        match evt {
            Event::Data(b) => self.push(b),
            Event::StreamEnd(None) => self.end(End::Shutdown),
            Event::StreamEnd(Some(_)) => self.end(End::Close),
            _ => {}
        }
    }
}
