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

#[derive(Default)]
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
}

impl Outbox {
    /// An outbox whose queue counts towards `gauge`.
    pub fn new(gauge: Rc<Gauge>) -> Outbox {
        Outbox { gauge, ..Default::default() }
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
        self.gauge.add(bytes.len());
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

    fn wrote(&self) {
        self.last_write.set(Some(tokio::time::Instant::now()));
    }

    /// When bytes were last written.
    pub fn last_write(&self) -> Option<tokio::time::Instant> {
        self.last_write.get()
    }

    /// Writes until the queue is flushed after an end. Returns how the stream ended.
    pub async fn run(&self, w: OwnedWriteHalf) -> io::Result<End> {
        let w = Rc::new(w);
        *self.socket.borrow_mut() = Some(w.clone());
        let result = self.drain(&w).await;
        *self.socket.borrow_mut() = None;
        // What was never written no longer holds the other side back.
        let left: usize = self.queue.borrow_mut().drain(..).map(|b| b.len()).sum();
        self.gauge.sub(left);
        result
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
                    self.gauge.sub(len);
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

/// Returns once neither reads (`last_read`) nor writes (`outbox`) happened for `timeout`.
pub async fn idle(last_read: &Cell<tokio::time::Instant>, outbox: &Outbox, timeout: std::time::Duration) {
    loop {
        let last = outbox.last_write().map_or(last_read.get(), |w| w.max(last_read.get()));
        if last + timeout <= tokio::time::Instant::now() {
            return;
        }
        tokio::time::sleep_until(last + timeout).await;
    }
}
