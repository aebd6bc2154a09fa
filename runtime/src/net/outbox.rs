//! Bytes on their way to a socket.
//!
//! Pipelines run synchronously and never wait on a socket. When nothing is queued, output is
//! written straight away with a non-blocking write, which is the common case for a proxy and
//! costs no task switch; whatever the socket does not take is queued for a writer task that
//! waits for the socket to become writable. A normal `StreamEnd` becomes a half-close once
//! the queue is flushed; an error `StreamEnd` closes the connection.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::net::Shutdown;
use std::rc::Rc;

use bytes::Bytes;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;

use crate::engine::{Event, EventSink, Gauge};

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
    end: Cell<Option<End>>,
    notify: Notify,
    socket: RefCell<Option<Rc<OwnedWriteHalf>>>,
    gauge: Rc<Gauge>,
    /// The writer task holds bytes it took from the queue: writing past it would reorder.
    writing: Cell<bool>,
    /// When bytes last went out, for idle timeouts (which count both directions).
    last_write: Cell<Option<tokio::time::Instant>>,
    /// Bytes this outbox added to `gauge` and has not yet written or released.
    counted: Cell<usize>,
}

impl Default for Outbox {
    fn default() -> Outbox {
        Outbox::new(Rc::default())
    }
}

impl Outbox {
    /// An outbox whose queue counts towards `gauge`.
    pub fn new(gauge: Rc<Gauge>) -> Outbox {
        Outbox {
            queue: RefCell::default(),
            end: Cell::default(),
            notify: Notify::new(),
            socket: RefCell::default(),
            gauge,
            writing: Cell::default(),
            last_write: Cell::default(),
            counted: Cell::default(),
        }
    }

    pub fn push(&self, mut bytes: Bytes) {
        if self.ended() != End::Open || bytes.is_empty() {
            return;
        }
        if self.queue.borrow().is_empty()
            && !self.writing.get()
            && let Some(socket) = self.socket.borrow().as_ref()
        {
            match socket.try_write(&bytes) {
                Ok(n) if n == bytes.len() => return self.wrote(),
                Ok(n) => {
                    self.wrote();
                    let _ = bytes.split_to(n);
                }
                // Errors surface in the writer task, which retries the write.
                Err(_) => {}
            }
        }
        self.count(bytes.len());
        self.queue.borrow_mut().push_back(bytes);
        self.notify.notify_one();
    }

    pub fn end(&self, how: End) {
        if self.ended() == End::Open {
            self.end.set(Some(how));
            self.notify.notify_one();
        }
    }

    pub fn ended(&self) -> End {
        self.end.get().unwrap_or(End::Open)
    }

    fn count(&self, n: usize) {
        self.counted.set(self.counted.get() + n);
        self.gauge.add(n);
    }

    fn release(&self, n: usize) {
        let n = n.min(self.counted.get());
        self.counted.set(self.counted.get() - n);
        self.gauge.sub(n);
    }

    /// The connection is gone (refused, reset, dropped): drop what is queued, release its
    /// hold on the other side, and take no more.
    pub fn discard(&self) {
        if self.ended() == End::Open {
            self.end.set(Some(End::Close));
        }
        self.queue.borrow_mut().clear();
        self.release(self.counted.get());
        self.notify.notify_one();
    }

    fn wrote(&self) {
        self.last_write.set(Some(tokio::time::Instant::now()));
    }

    /// When bytes were last written.
    pub fn last_write(&self) -> Option<tokio::time::Instant> {
        self.last_write.get()
    }

    /// Writes until the queue is flushed after an end. Returns how the stream ended.
    pub async fn run(&self, w: OwnedWriteHalf) -> io::Result<End> {
        /// Also when the future is dropped mid-write (an idle timeout, an aborted task).
        struct Done<'a>(&'a Outbox);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                *self.0.socket.borrow_mut() = None;
                // What was never written no longer holds the other side back.
                self.0.discard();
            }
        }
        let w = Rc::new(w);
        *self.socket.borrow_mut() = Some(w.clone());
        let _done = Done(self);
        self.drain(&w).await
    }

    async fn drain(&self, w: &OwnedWriteHalf) -> io::Result<End> {
        loop {
            let next = self.queue.borrow_mut().pop_front();
            match next {
                Some(bytes) => {
                    let len = bytes.len();
                    self.writing.set(true);
                    let written = write_all(w, bytes).await;
                    self.writing.set(false);
                    self.wrote();
                    self.release(len);
                    written?;
                }
                None => match self.ended() {
                    End::Open => self.notify.notified().await,
                    how => {
                        let side = if how == End::Close { Shutdown::Both } else { Shutdown::Write };
                        let _ = socket2::SockRef::from(w.as_ref()).shutdown(side);
                        return Ok(how);
                    }
                },
            }
        }
    }
}

/// Whatever way the connection went (refused, reset, its task aborted mid-write), bytes
/// still counted must not hold the other side back for ever.
impl Drop for Outbox {
    fn drop(&mut self) {
        self.release(self.counted.get());
    }
}

async fn write_all(w: &OwnedWriteHalf, mut bytes: Bytes) -> io::Result<()> {
    while !bytes.is_empty() {
        w.writable().await?;
        match w.try_write(&bytes) {
            Ok(n) => {
                let _ = bytes.split_to(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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

/// Returns once nothing happened for `timeout`: no read (`last_read`), no write
/// (`outbox`), and no progress of the queue the reader waits on (`paused_on`).
pub async fn idle(
    last_read: &Cell<tokio::time::Instant>,
    outbox: &Outbox,
    paused_on: &Gauge,
    timeout: std::time::Duration,
) {
    loop {
        let last =
            [outbox.last_write(), paused_on.progress()].into_iter().flatten().fold(last_read.get(), |a, b| a.max(b));
        let Some(deadline) = last.checked_add(timeout) else { return std::future::pending().await };
        if deadline <= tokio::time::Instant::now() {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}
