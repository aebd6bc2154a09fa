//! One socket both ways: the reader feeding a pipeline and the outbox writing to the socket,
//! run together until both are done. An accepted connection (`net::inbound`) and `connect`
//! run the same loop and differ only in what they do as a half ends: their `Side`.

use std::cell::Cell;
use std::io;
use std::time::Duration;

use tokio::net::TcpStream;

use super::outbox::{End, Outbox, idle};
use super::reader::{Ended, ReadTarget, Reader};
use crate::engine::Gauge;
use crate::engine::charge::{self, Charge};

/// What one kind of connection does as its halves end.
pub trait Side {
    /// Asked before each read: whether reading goes on.
    fn go_on(&self) -> bool;
    /// The reads ended, and how.
    fn read_ended(&self, how: Ended);
    /// The writer ended before the reads did, with `result`; returns whether to go on
    /// reading what the peer still sends.
    fn written(&self, result: io::Result<End>) -> bool;
    /// A write failed, whichever half ended first: for the log.
    fn write_failed(&self, _: &io::Error) {}
}

/// Moves bytes between `stream` and a pipeline until both directions are done: reads go to
/// `input` (paused while `paused_on` is over its limit), `outbox` writes to the socket.
/// Nothing moving for `idle_timeout` ends it, whatever it waits for. Returns the reader, for
/// how many bytes it read into user space and how many it spliced.
pub async fn run(
    stream: TcpStream,
    input: &dyn ReadTarget,
    outbox: &Outbox,
    paused_on: &Gauge,
    idle_timeout: Duration,
    side: &impl Side,
) -> Reader {
    // What the socket keeps besides its queues counts in the buffer budget while it is open.
    let _kept = Charge::new(charge::SOCKET);
    let (r, w) = stream.into_split();
    let last_activity = Cell::new(tokio::time::Instant::now());
    let mut reads = Reader::default();
    let reader = async {
        let go_on = || side.go_on();
        reads.run(r.as_ref(), input, paused_on, outbox, &last_activity, go_on).await
    };
    let writer = async {
        let w = outbox.run(w).await;
        if let Err(e) = &w {
            side.write_failed(e);
        }
        w
    };
    // One idle timeout for the socket's whole life, whichever half it waits on: a timer is
    // armed and disarmed in tokio's wheel for each of these futures (issue 24).
    let idle = idle(&last_activity, outbox, paused_on, idle_timeout);
    {
        tokio::pin!(reader, writer, idle);
        tokio::select! {
            how = &mut reader => {
                side.read_ended(how);
                // A peer that stopped reading cannot keep the rest of the output waiting.
                tokio::select! {
                    _ = &mut writer => {}
                    _ = &mut idle => {}
                }
            }
            _ = &mut idle => {
                side.read_ended(Ended::Idle);
                // What the writer can still do at once (close after a discard), and no more.
                tokio::select! {
                    biased;
                    _ = &mut writer => {}
                    _ = std::future::ready(()) => {}
                }
            }
            w = &mut writer => {
                if side.written(w) {
                    tokio::select! {
                        how = &mut reader => side.read_ended(how),
                        _ = &mut idle => side.read_ended(Ended::Idle),
                    }
                }
            }
        }
    }
    reads
}
