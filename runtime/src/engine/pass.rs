//! Bytes that go by unseen: how the data path learns which bytes no filter will look at.
//!
//! Before a socket read, the data path asks the pipeline the read feeds "where would the
//! next bytes go, and how many of them, if nobody looked?" ([`Pass`]). Each filter answers
//! for itself from its current state: a `fork` whose branches only count body bytes lets
//! them through, a decoder in the middle of a body it was told nobody reads absorbs them,
//! a `connect` says they go to its socket. When the walk ends at a socket, the data path
//! moves up to that many bytes socket to socket in the kernel ([`KernelSink`]) and then
//! tells the same filters how many went by ([`crate::engine::Filter::passed`]), so their
//! framing stays right. Any filter that must see the bytes answers [`Pass::No`] (the
//! default), and the bytes take the usual path as `Data` events. See docs/bulk.md.

use std::future::Future;
use std::io;
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::rc::Rc;

/// A socket bytes can be moved into without passing through user space (net's outbox).
pub trait KernelSink {
    /// Moves up to `max` bytes from the socket `from`, behind whatever is queued for this
    /// socket already. Never blocks: `WouldBlock` when `from` has nothing to read, `Ok(0)`
    /// at its end, other errors for a broken `from` (or `Unsupported` for a sink that
    /// cannot take kernel-side bytes right now: the caller reads instead).
    fn splice_from(&self, from: BorrowedFd<'_>, max: usize) -> io::Result<usize>;

    /// Whether [`KernelSink::splice_from`] can take bytes now (the bytes it took last are
    /// out of its way).
    fn ready(&self) -> bool;

    /// Returns once the sink is [`KernelSink::ready`] (or will never be).
    fn until_ready(&self) -> Pin<Box<dyn Future<Output = ()> + '_>>;
}

/// Where the next input bytes of a filter (or of the rest of a chain) would go unseen.
#[derive(Clone)]
pub enum Pass {
    /// They must be seen: read them and send them as `Data`.
    No,
    /// The next `n` bytes would go on unchanged to the next filter.
    Through(u64),
    /// The next `n` bytes would be taken, with nothing coming out for them.
    Absorb(u64),
    /// The next `n` bytes would be written to this socket.
    Socket(Rc<dyn KernelSink>, u64),
}

impl Pass {
    /// Caps the amount at `limit` (what the filters in front let through).
    pub fn min(self, limit: u64) -> Pass {
        match self {
            Pass::No => Pass::No,
            Pass::Through(n) => Pass::Through(n.min(limit)),
            Pass::Absorb(n) => Pass::Absorb(n.min(limit)),
            Pass::Socket(s, n) => Pass::Socket(s, n.min(limit)),
        }
    }
}
