//! Bytes on their way to a socket.
//!
//! Pipelines run synchronously and never wait on a socket. When nothing is queued, output is
//! written straight away with a non-blocking write, which is the common case for a proxy and
//! costs no task switch; whatever the socket does not take is queued for a writer task that
//! waits for the socket to become writable. A normal `StreamEnd` becomes a half-close once
//! the queue is flushed; an error `StreamEnd` closes the connection.
//!
//! Bytes can also come from another socket by the kernel ([`KernelSink`]): they wait in the
//! outbox's pipe, queued in order with the rest, and the pipe is emptied into the socket at
//! once when nothing is ahead of them, as written bytes are.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::pin::Pin;
use std::rc::Rc;

use bytes::Bytes;
use tokio::io::Interest;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;

use super::splice::Pipe;
use crate::engine::{Event, EventSink, Gauge, KernelSink, Pass};

/// What waits in the queue.
enum Chunk {
    Bytes(Bytes),
    /// This many bytes in the outbox's pipe.
    Piped(usize),
}

/// How many queued chunks one `writev` gathers.
const GATHER: usize = 64;

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum End {
    Open,
    /// Flush, then `shutdown(SHUT_WR)`.
    Shutdown,
    /// Flush, then close both directions.
    Close,
}

pub struct Outbox {
    queue: RefCell<VecDeque<Chunk>>,
    /// Taken at the first kernel-side transfer; kept, then pooled, when the outbox goes.
    pipe: RefCell<Option<Pipe>>,
    end: Cell<Option<End>>,
    notify: Notify,
    /// The pipe was emptied (or dropped).
    pipe_emptied: Notify,
    socket: RefCell<Option<Rc<OwnedWriteHalf>>>,
    gauge: Rc<Gauge>,
    /// The writer task holds bytes it took from the queue: writing past it would reorder.
    writing: Cell<bool>,
    /// When bytes last went out, for idle timeouts (which count both directions).
    last_write: Cell<Option<tokio::time::Instant>>,
    /// Bytes this outbox added to `gauge` and has not yet written or released.
    counted: Cell<usize>,
    /// Bytes written, for the metrics.
    written: Cell<u64>,
    /// Bytes the same socket's reader took in (read or spliced), for the metrics.
    received: Cell<u64>,
    /// The same socket's reader saw the peer's FIN: the socket closes as soon as this
    /// outbox is flushed.
    peer_ended: Cell<bool>,
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
            pipe: RefCell::default(),
            end: Cell::default(),
            notify: Notify::new(),
            pipe_emptied: Notify::new(),
            socket: RefCell::default(),
            gauge,
            writing: Cell::default(),
            last_write: Cell::default(),
            counted: Cell::default(),
            written: Cell::default(),
            received: Cell::default(),
            peer_ended: Cell::default(),
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
                Ok(n) if n == bytes.len() => return self.wrote(n),
                Ok(n) => {
                    self.wrote(n);
                    let _ = bytes.split_to(n);
                }
                // Errors surface in the writer task, which retries the write.
                Err(_) => {}
            }
        }
        self.count(bytes.len());
        self.queue.borrow_mut().push_back(Chunk::Bytes(bytes));
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
        // What is left in the pipe will never be written: the pipe goes with it.
        if self.pipe.borrow().as_ref().is_some_and(|p| p.held() > 0) {
            self.pipe.borrow_mut().take();
        }
        self.pipe_emptied.notify_waiters();
        self.release(self.counted.get());
        self.notify.notify_one();
    }

    fn wrote(&self, n: usize) {
        self.last_write.set(Some(tokio::time::Instant::now()));
        self.written.set(self.written.get() + n as u64);
    }

    /// Bytes written to the socket so far (spliced ones too).
    pub fn written(&self) -> u64 {
        self.written.get()
    }

    /// The socket's reader has taken in `n` bytes so far.
    pub fn set_received(&self, n: u64) {
        self.received.set(n);
    }

    /// The socket's reader read the end of the peer's stream: once this outbox is flushed,
    /// both directions are done and the socket closes (see `duplex::run`).
    pub fn set_peer_ended(&self) {
        self.peer_ended.set(true);
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
        let result = self.drain(&w).await;
        // `drain` shut the socket down as the stream ended; dropping the write half would
        // say `shutdown(SHUT_WR)` once more, a syscall per connection for nothing (issue 21).
        *self.socket.borrow_mut() = None;
        if result.is_ok()
            && let Ok(w) = Rc::try_unwrap(w)
        {
            w.forget();
        }
        result
    }

    async fn drain(&self, w: &OwnedWriteHalf) -> io::Result<End> {
        loop {
            let front = self.queue.borrow().front().map(|c| match c {
                Chunk::Piped(n) => Some(*n),
                Chunk::Bytes(_) => None,
            });
            let Some(piped) = front else {
                match self.ended() {
                    End::Open => self.notify.notified().await,
                    how => {
                        // With the peer's FIN read, the close that follows at once sends
                        // ours: a shutdown first is a syscall per connection for nothing.
                        if how == End::Close || !self.peer_ended.get() {
                            let side = if how == End::Close { Shutdown::Both } else { Shutdown::Write };
                            let _ = socket2::SockRef::from(w.as_ref()).shutdown(side);
                        }
                        return Ok(how);
                    }
                }
                continue;
            };
            self.writing.set(true);
            let written = match piped {
                Some(n) => {
                    self.queue.borrow_mut().pop_front();
                    self.write_piped(w, n).await
                }
                None => self.write_gathered(w).await,
            };
            self.writing.set(false);
            written?;
        }
    }

    /// `n` queued bytes went out: they no longer hold the other side back.
    fn sent(&self, n: usize) {
        self.wrote(n);
        self.release(n);
    }

    /// Writes the byte chunks at the front of the queue (up to [`GATHER`] of them) with as
    /// few `writev`s as the socket allows.
    async fn write_gathered(&self, w: &OwnedWriteHalf) -> io::Result<()> {
        let mut batch: Vec<Bytes> = Vec::new();
        {
            let mut queue = self.queue.borrow_mut();
            while batch.len() < GATHER
                && let Some(Chunk::Bytes(_)) = queue.front()
            {
                let Some(Chunk::Bytes(b)) = queue.pop_front() else { unreachable!("just looked") };
                batch.push(b);
            }
        }
        let mut first = 0;
        // The length of the front chunk as it came, for how much of it is written.
        let mut front_len = batch.first().map_or(0, Bytes::len);
        while first < batch.len() {
            w.writable().await?;
            let slices: Vec<IoSlice<'_>> = batch[first..].iter().map(|b| IoSlice::new(b)).collect();
            match w.try_write_vectored(&slices) {
                Ok(mut n) => {
                    self.sent(n);
                    while first < batch.len() && n >= batch[first].len() {
                        n -= batch[first].len();
                        // Written: its buffer goes now, not once the whole batch is out.
                        batch[first] = Bytes::new();
                        first += 1;
                        front_len = batch.get(first).map_or(0, Bytes::len);
                    }
                    if n > 0 {
                        let rest = &mut batch[first];
                        let _ = rest.split_to(n);
                        // The rest of a chunk keeps its whole buffer alive while the queue
                        // counts only the rest: once over half of it is written, the rest
                        // is copied out (at most the chunk's length copied in all), so a
                        // slow socket's queue holds at most twice what it counts.
                        if rest.len() * 2 < front_len {
                            *rest = Bytes::copy_from_slice(rest);
                            front_len = rest.len();
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Empties `n` bytes of the pipe into the socket.
    async fn write_piped(&self, w: &OwnedWriteHalf, mut n: usize) -> io::Result<()> {
        let socket = w.as_ref();
        while n > 0 {
            socket.writable().await?;
            let moved = socket.try_io(Interest::WRITABLE, || match self.pipe.borrow().as_ref() {
                Some(p) => p.empty_into(socket.as_raw_fd(), n),
                None => Err(io::ErrorKind::BrokenPipe.into()),
            });
            match moved {
                Ok(k) => {
                    n -= k;
                    self.sent(k);
                    if self.pipe.borrow().as_ref().is_some_and(|p| p.held() == 0) {
                        self.pipe_emptied.notify_waiters();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Whatever way the connection went (refused, reset, its task aborted mid-write), bytes
/// still counted must not hold the other side back for ever.
impl Drop for Outbox {
    fn drop(&mut self) {
        self.release(self.counted.get());
        if let Some(p) = self.pipe.take() {
            p.give_back();
        }
    }
}

impl KernelSink for Outbox {
    fn splice_from(&self, from: BorrowedFd<'_>, max: usize) -> io::Result<usize> {
        let unsupported = || io::Error::from(io::ErrorKind::Unsupported);
        if self.ended() != End::Open {
            return Err(unsupported());
        }
        if self.pipe.borrow().is_none() {
            *self.pipe.borrow_mut() = Some(Pipe::take().map_err(|_| unsupported())?);
        }
        let pipe = self.pipe.borrow();
        let pipe = pipe.as_ref().expect("taken above");
        if pipe.held() > 0 {
            return Err(unsupported());
        }
        let n = pipe.fill(from, max)?;
        let mut left = n;
        if self.queue.borrow().is_empty()
            && !self.writing.get()
            && let Some(socket) = self.socket.borrow().as_ref()
        {
            let stream: &tokio::net::TcpStream = (**socket).as_ref();
            // Errors surface in the writer task, which retries.
            if let Ok(k) = stream.try_io(Interest::WRITABLE, || pipe.empty_into(stream.as_raw_fd(), left)) {
                left -= k;
                self.wrote(k);
            }
        }
        if left > 0 {
            self.count(left);
            self.queue.borrow_mut().push_back(Chunk::Piped(left));
            self.notify.notify_one();
        }
        Ok(n)
    }

    fn ready(&self) -> bool {
        self.ended() != End::Open || self.pipe.borrow().as_ref().is_none_or(|p| p.held() == 0)
    }

    fn until_ready(&self) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(async {
            loop {
                let emptied = self.pipe_emptied.notified();
                if self.ready() {
                    return;
                }
                emptied.await;
            }
        })
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

    /// Bytes for this socket can come straight from another once it is connected.
    fn pass(self: Rc<Self>) -> Pass {
        if self.ended() != End::Open || self.socket.borrow().is_none() {
            return Pass::No;
        }
        Pass::Socket(self, u64::MAX)
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

/// An outbox counts what its socket received and sent, for the runtime's series.
impl crate::engine::metrics::Flow for Outbox {
    fn bytes(&self) -> (u64, u64) {
        (self.received.get(), self.written.get())
    }
}
