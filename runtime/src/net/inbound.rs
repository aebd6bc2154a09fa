//! An accepted connection's socket: reads become events for its pipeline, its outbox writes.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::duplex::{self, Side};
use super::outbox::{End, Outbox};
use super::reader::{Ended, ReadTarget};
use crate::engine::{Event, Gauge};

/// Moves bytes between `stream` and a pipeline until both directions are done (see
/// `duplex::run`). Returns how many of the bytes received were read into user space, and
/// how many were spliced.
pub async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    input: &dyn ReadTarget,
    outbox: &Outbox,
    upstream: &Gauge,
    idle_timeout: Duration,
) -> (u64, u64) {
    let side = Inbound { peer, input, outbox };
    let reads = duplex::run(stream, input, outbox, upstream, idle_timeout, &side).await;
    (reads.read, reads.spliced)
}

struct Inbound<'a> {
    peer: SocketAddr,
    input: &'a dyn ReadTarget,
    outbox: &'a Outbox,
}

impl Side for Inbound<'_> {
    fn go_on(&self) -> bool {
        self.outbox.ended() != End::Close
    }

    fn read_ended(&self, how: Ended) {
        match how {
            Ended::Done => {}
            // Reset or broken: nothing more can be written either.
            Ended::Failed => self.outbox.discard(),
            Ended::Idle => {
                self.input.input(Event::error("IdleTimeout"));
                self.outbox.discard();
            }
        }
    }

    /// A writer ending with an error, or closing, closes the connection: reading stops too.
    fn written(&self, result: io::Result<End>) -> bool {
        matches!(result, Ok(End::Shutdown))
    }

    fn write_failed(&self, e: &io::Error) {
        tracing::debug!(target: "inbound", "inbound from {}: write error: {e}", self.peer);
    }
}
