//! The byte stream an `h2` connection reads and writes, made of a filter's events: the
//! filter pushes the `Data` it receives in, and takes out what `h2` wrote to emit it as
//! `Data`. Both ends run on the worker's thread; `h2` is driven by a local task.

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::AbortHandle;

use crate::engine::Gauge;

pub struct Pipe {
    /// Bytes received, not read by `h2` yet.
    rx: RefCell<BytesMut>,
    rx_end: Cell<bool>,
    /// Why the peer's bytes ended, when it was an error (a refused `connect`).
    error: Cell<Option<&'static str>>,
    reader: RefCell<Option<Waker>>,
    /// Bytes `h2` wrote, not emitted by the filter yet: taken as one piece, one write to
    /// the socket for all `h2` wrote since.
    tx: RefCell<BytesMut>,
    /// Where the written bytes queue once emitted: `h2` waits while it is full, so a peer
    /// that does not read cannot make this side buffer without bound.
    gauge: Rc<Gauge>,
    /// A task waits for room on `gauge` for the writer.
    waiting: Cell<bool>,
    /// `h2` wrote since whoever takes the bytes out was last told.
    unsaid: Cell<bool>,
    /// Called once `h2` wrote: whoever takes the bytes out is told (a filter's wake).
    on_write: Box<dyn Fn()>,
}

impl Pipe {
    pub fn new(gauge: Rc<Gauge>, on_write: Box<dyn Fn()>) -> Rc<Pipe> {
        Rc::new(Pipe {
            rx: RefCell::default(),
            rx_end: Cell::new(false),
            error: Cell::new(None),
            reader: RefCell::default(),
            tx: RefCell::default(),
            gauge,
            waiting: Cell::new(false),
            unsaid: Cell::new(false),
            on_write,
        })
    }

    /// Bytes from the peer.
    pub fn push(&self, b: &[u8]) {
        self.rx.borrow_mut().extend_from_slice(b);
        self.wake_reader();
    }

    /// The peer's end, and the error it ended with.
    pub fn end(&self, error: Option<&'static str>) {
        self.rx_end.set(true);
        self.error.set(self.error.get().or(error));
        self.wake_reader();
    }

    pub fn error(&self) -> Option<&'static str> {
        self.error.get()
    }

    fn wake_reader(&self) {
        if let Some(w) = self.reader.borrow_mut().take() {
            w.wake();
        }
    }

    /// What `h2` wrote since the last call, if anything.
    pub fn take(&self) -> Option<Bytes> {
        let mut tx = self.tx.borrow_mut();
        (!tx.is_empty()).then(|| tx.split().freeze())
    }

    /// Tells whoever takes the bytes out that `h2` wrote, if it did.
    fn tell(&self) {
        if self.unsaid.replace(false) {
            (self.on_write)();
        }
    }
}

/// Runs `task`, the one that drives `h2` over `pipe`, as a local task. What `h2` writes
/// during one poll of it goes out together once the poll is over: `h2` flushes after each
/// batch of frames it handles, which would be a write to the socket per stream.
pub fn spawn(pipe: &Rc<Pipe>, task: impl Future<Output = ()> + 'static) -> AbortHandle {
    let pipe = pipe.clone();
    let task = async move {
        let mut task = pin!(task);
        poll_fn(|cx| {
            let r = task.as_mut().poll(cx);
            pipe.tell();
            r
        })
        .await
    };
    tokio::task::spawn_local(task).abort_handle()
}

/// The `AsyncRead + AsyncWrite` handle `h2` owns.
pub struct Io(pub Rc<Pipe>);

impl AsyncRead for Io {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let pipe = &self.0;
        let mut rx = pipe.rx.borrow_mut();
        if rx.is_empty() {
            if pipe.rx_end.get() {
                return Poll::Ready(Ok(()));
            }
            *pipe.reader.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = rx.len().min(buf.remaining());
        buf.put_slice(&rx.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Io {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let pipe = self.0.clone();
        if pipe.gauge.full() {
            if !pipe.waiting.replace(true) {
                let waker = cx.waker().clone();
                let p = pipe.clone();
                tokio::task::spawn_local(async move {
                    p.gauge.room().await;
                    p.waiting.set(false);
                    waker.wake();
                });
            }
            return Poll::Pending;
        }
        pipe.tx.borrow_mut().extend_from_slice(buf);
        pipe.unsaid.set(true);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::task::yield_now;

    use super::*;

    #[test]
    fn what_one_poll_wrote_goes_out_once_and_in_one_piece() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        tokio::task::LocalSet::new().block_on(&rt, async {
            let told = Rc::new(Cell::new(0));
            let t = told.clone();
            let pipe = Pipe::new(Rc::default(), Box::new(move || t.set(t.get() + 1)));
            let mut io = Io(pipe.clone());
            let task = spawn(&pipe, async move {
                io.write_all(b"one").await.unwrap();
                io.write_all(b"two").await.unwrap();
                yield_now().await;
                io.write_all(b"three").await.unwrap();
            });
            while told.get() == 0 {
                yield_now().await;
            }
            assert_eq!(told.get(), 1);
            assert_eq!(pipe.take().as_deref(), Some(&b"onetwo"[..]));
            while !task.is_finished() {
                yield_now().await;
            }
            assert_eq!(told.get(), 2);
            assert_eq!(pipe.take().as_deref(), Some(&b"three"[..]));
            assert_eq!(pipe.take(), None);
        });
    }
}
