//! An accepted connection's socket: reads become events for its pipeline, its outbox writes.

use std::cell::Cell;
use std::time::Duration;

use tokio::net::TcpStream;

use super::outbox::{End, Outbox, idle};
use super::reader::{Ended, ReadTarget, Reader};
use crate::engine::{Event, Gauge};

/// Moves bytes between `stream` and a pipeline until both directions are done: reads go to
/// `input` (paused while `upstream` is over its limit), `outbox` writes the pipeline's output.
/// Nothing moving for `idle_timeout` ends it, whatever it waits for. Returns how many of the
/// bytes received were read into user space, and how many were spliced.
pub async fn run(
    stream: TcpStream,
    input: &dyn ReadTarget,
    outbox: &Outbox,
    upstream: &Gauge,
    idle_timeout: Duration,
) -> (u64, u64) {
    let id = stream.peer_addr().ok();
    let (r, w) = stream.into_split();
    let last_activity = Cell::new(tokio::time::Instant::now());
    let mut reads = Reader::default();
    let reader = async {
        let go_on = || outbox.ended() != End::Close;
        match reads.run(r.as_ref(), input, upstream, outbox, &last_activity, idle_timeout, go_on).await {
            Ended::Done => {}
            // Reset or broken: nothing more can be written either.
            Ended::Failed => outbox.discard(),
            Ended::Idle => {
                input.input(Event::error("IdleTimeout"));
                outbox.discard();
            }
        }
    };
    let writer = async {
        let r = outbox.run(w).await;
        if let (Err(e), Some(peer)) = (&r, id) {
            tracing::debug!(target: "inbound", "inbound from {peer}: write error: {e}");
        }
        r
    };
    {
        tokio::pin!(reader, writer);
        // The writer finishing with an error end closes the connection: stop reading too.
        tokio::select! {
            _ = &mut reader => {
                // A client that stopped reading cannot keep the rest of the output waiting.
                tokio::select! {
                    _ = &mut writer => {}
                    _ = idle(&last_activity, outbox, upstream, idle_timeout) => {}
                }
            }
            w = &mut writer => {
                if matches!(w, Ok(End::Shutdown)) {
                    reader.await;
                }
            }
        }
    }
    (reads.read, reads.spliced)
}
