//! Sockets: listeners, inbound connections, the queues that write to sockets, and UDP.

pub mod inbound;
pub mod listener;
pub mod outbox;
pub mod udp;

use bytes::BytesMut;

use crate::engine::Event;

/// The event for the outcome of one socket read into `buf`, and whether it was the last.
pub fn read_event(read: std::io::Result<usize>, buf: &mut BytesMut) -> (Event, bool) {
    match read {
        Ok(0) => (Event::end(), true),
        Ok(_) => (Event::Data(buf.split().freeze()), false),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => (Event::error("ConnectionReset"), true),
        Err(_) => (Event::error("ReadError"), true),
    }
}
