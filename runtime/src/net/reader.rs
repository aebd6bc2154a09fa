//! Reading a socket for a pipeline: into user space as `Data` events, or, where no filter
//! will look at the bytes, straight into the destination socket (see `engine::pass`).

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::AsFd;

use bytes::{Bytes, BytesMut};
use tokio::io::Interest;
use tokio::net::TcpStream;

use super::outbox::Outbox;
use crate::engine::budget::BUDGET;
use crate::engine::charge::READ_ON;
use crate::engine::{Event, FilterEnv, Gauge, Pass, Pipeline};

/// What reads feed: a pipeline (an accepted connection) or the filters after a `connect`.
pub trait ReadTarget {
    fn input(&self, evt: Event);
    /// Where the next bytes would go unseen.
    fn pass(&self) -> Pass;
    /// `n` bytes went by as the last `pass` allowed.
    fn passed(&self, n: u64);
}

impl ReadTarget for Pipeline {
    fn input(&self, evt: Event) {
        Pipeline::input(self, evt)
    }

    fn pass(&self) -> Pass {
        Pipeline::pass(self)
    }

    fn passed(&self, n: u64) {
        Pipeline::passed(self, n)
    }
}

impl ReadTarget for FilterEnv {
    fn input(&self, evt: Event) {
        self.emit(evt)
    }

    fn pass(&self) -> Pass {
        self.pass_after()
    }

    fn passed(&self, n: u64) {
        self.passed_after(n)
    }
}

/// How one step of reading ended.
#[derive(PartialEq, Eq)]
enum Step {
    More,
    /// The stream ended (its `StreamEnd` went out).
    Last,
    /// The socket broke (its error `StreamEnd` went out): nothing can be written either.
    Failed,
}

/// How a run of reads ended.
#[derive(PartialEq, Eq)]
pub enum Ended {
    /// The stream ended, or the caller said stop.
    Done,
    /// The socket broke (its error `StreamEnd` went out).
    Failed,
    /// Nothing moved for the idle timeout; nothing went out yet.
    Idle,
}

/// The first read buffer; reads that fill theirs grow the next one, up to `MAX_READ`.
const MIN_READ: usize = 16 * 1024;
const MAX_READ: usize = 256 * 1024;
/// A known run of unseen bytes shorter than this is cheaper read than spliced.
const SPLICE_MIN: u64 = 64 * 1024;

/// The reading side of one socket.
pub struct Reader {
    size: usize,
    /// A read filled its buffer: bytes are streaming, so a stream nobody looks at is worth
    /// a pipe (and once it has one, a splice costs what a read and a write cost).
    bulk: bool,
    /// Bytes read into user space.
    pub read: u64,
    /// Bytes moved on in the kernel.
    pub spliced: u64,
}

impl Default for Reader {
    fn default() -> Reader {
        Reader { size: MIN_READ, bulk: false, read: 0, spliced: 0 }
    }
}

impl Reader {
    /// Reads until the stream ends or `go_on` says stop (asked before each read). A read
    /// waits while `paused_on` is over its limit. `last_read` is when the last read came
    /// back, for the caller's idle timeout (`duplex::run` races this with it).
    pub async fn run(
        &mut self,
        socket: &TcpStream,
        target: &dyn ReadTarget,
        paused_on: &Gauge,
        outbox: &Outbox,
        last_read: &Cell<tokio::time::Instant>,
        go_on: impl Fn() -> bool,
    ) -> Ended {
        while go_on() {
            // Waiting for the queue to drain is inside the race with the idle timeout: a
            // queue that never drains does not hold the connection for ever.
            paused_on.wait().await;
            let step = self.step(socket, target, paused_on).await;
            last_read.set(tokio::time::Instant::now());
            outbox.set_received(self.read + self.spliced);
            match step {
                Step::More => {}
                Step::Last => {
                    outbox.set_peer_ended();
                    break;
                }
                Step::Failed => return Ended::Failed,
            }
        }
        Ended::Done
    }

    /// Waits for input and hands it on: spliced where the target allows, else read (with
    /// no buffer held while waiting) and sent as `Data`.
    async fn step(&mut self, socket: &TcpStream, target: &dyn ReadTarget, paused_on: &Gauge) -> Step {
        let worth = |n: u64, bulk: bool| (n == u64::MAX && bulk) || (n != u64::MAX && n >= SPLICE_MIN);
        // Bytes for a socket whose pipe still holds the last ones wait for it, rather than
        // come through user space behind them.
        if let Pass::Socket(dst, n) = target.pass()
            && worth(n, self.bulk)
            && !dst.ready()
        {
            dst.until_ready().await;
        }
        if let Err(e) = socket.readable().await {
            return fail(e, target);
        }
        // The queues may have filled while this reader waited for input: it waits again
        // (the readiness stays for the read after).
        if paused_on.paused() {
            return Step::More;
        }
        let bulk = self.bulk;
        let spliced = socket.try_io(Interest::READABLE, || match target.pass() {
            Pass::Socket(dst, n) if worth(n, bulk) => {
                match dst.splice_from(socket.as_fd(), n.min(usize::MAX as u64) as usize) {
                    // At TCP's urgent mark splice says EAGAIN although a read returns the
                    // bytes after it (and moves past the mark): let the read below decide
                    // whether the socket is empty, and keep the readiness until it has.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::ErrorKind::Unsupported.into()),
                    other => other,
                }
            }
            _ => Err(io::ErrorKind::Unsupported.into()),
        });
        match spliced {
            Ok(0) => {
                target.input(Event::end());
                return Step::Last;
            }
            Ok(n) => {
                self.spliced += n as u64;
                target.passed(n as u64);
                return Step::More;
            }
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {}
            Err(e) => return fail(e, target),
        }
        // A reader whose queues are empty reads on past the budget (see `Gauge::wait`):
        // its read is small then, and never larger than what is left of the budget.
        let room = BUDGET.room().clamp(READ_ON, self.size);
        let read = if room <= MIN_READ { read_small(socket, room) } else { read_large(socket, room) };
        match read {
            Ok(None) => {
                target.input(Event::end());
                Step::Last
            }
            Ok(Some(data)) => {
                let n = data.len();
                if n < room {
                    drained(socket);
                }
                self.read += n as u64;
                let full = n >= self.size;
                self.bulk |= full;
                self.size = if full { (self.size * 4).min(MAX_READ) } else { self.size.min(n.max(MIN_READ)) };
                target.input(Event::Data(data));
                Step::More
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Step::More,
            Err(e) => fail(e, target),
        }
    }
}

thread_local! {
    /// Where a thread's reads of at most `MIN_READ` land before their bytes are copied out
    /// at their size: a request or response of a few hundred bytes costs one small
    /// allocation, not a 16 KiB buffer made and freed (with malloc's consolidation) per read.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; MIN_READ].into_boxed_slice());
}

/// A read of at most `room` (at most `MIN_READ`) bytes; `None` at the end of the stream.
fn read_small(socket: &TcpStream, room: usize) -> io::Result<Option<Bytes>> {
    SCRATCH.with_borrow_mut(|scratch| {
        let buf = &mut scratch[..room];
        let n = socket.try_read(buf)?;
        Ok((n > 0).then(|| Bytes::copy_from_slice(&buf[..n])))
    })
}

/// A read into a buffer of its own of `room` bytes (streaming reads grow past `MIN_READ`).
fn read_large(socket: &TcpStream, room: usize) -> io::Result<Option<Bytes>> {
    let mut buf = BytesMut::with_capacity(room);
    let n = socket.try_read_buf(&mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    // Bytes keep their whole buffer alive while they wait in a queue, which counts them by
    // length: a read that used under half its buffer is copied out, so a queue holds at
    // most twice what it counts; past half the budget any read short of its buffer is, so
    // the process holds what it counts.
    let exact = n < room / 2 || (n < room && BUDGET.pressed());
    Ok(Some(if exact { Bytes::copy_from_slice(&buf) } else { buf.freeze() }))
}

/// A TCP read that came back short emptied the socket, so the readiness it was woken for
/// is used up: forgetting it now saves the read that would only say `EAGAIN` (as tokio's
/// own `poll_read` does). Bytes or a FIN that come later raise a new edge-triggered event,
/// and a FIN already seen stays (tokio never clears the closed states).
fn drained(socket: &TcpStream) {
    let _ = socket.try_io(Interest::READABLE, || Err::<(), _>(io::ErrorKind::WouldBlock.into()));
}

fn fail(e: io::Error, target: &dyn ReadTarget) -> Step {
    let code = if e.kind() == io::ErrorKind::ConnectionReset { "ConnectionReset" } else { "ReadError" };
    target.input(Event::error(code));
    Step::Failed
}
