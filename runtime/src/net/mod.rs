//! Sockets: listeners, inbound connections, the queues that write to sockets, and UDP.

pub mod bound;
pub mod duplex;
pub mod inbound;
pub mod listener;
pub mod outbox;
pub mod reader;
pub mod splice;
pub mod udp;
