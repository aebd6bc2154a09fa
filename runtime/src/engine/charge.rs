//! Memory the buffer budget counts that is no queue: what an open socket keeps, and bytes
//! a filter collects into a whole message. Each is charged to [`BUDGET`] while it lives,
//! so that the process's memory past its idle start stays under `--max-buffer` however the
//! bytes are held. A charge is no [`super::Gauge`]: it pauses no reader by itself, only
//! the budget as a whole (readers with bytes queued, and the accept loops).

use bytes::{Bytes, BytesMut};

use super::budget::BUDGET;

/// The read of a reader that reads on past the budget (its queues are empty: see
/// `Gauge::wait`).
pub const READ_ON: usize = 4 * 1024;

/// What an open TCP socket keeps in user space besides its queues, measured through
/// demuxHTTP/muxHTTP: about 4.7 KiB for an accepted connection idle before its first
/// request, 10 KiB for a client connection and its upstream one after a request (its
/// pipelines, filter state, the socket's registration and tasks), rounded up to 8 KiB;
/// and the one read it may make past the budget, so that reads on past it still fit in it.
pub const SOCKET: usize = 8 * 1024 + READ_ON;

/// `n` bytes charged for as long as this lives.
pub struct Charge(usize);

impl Charge {
    pub fn new(n: usize) -> Charge {
        BUDGET.charge(n);
        Charge(n)
    }

    /// `n` more bytes, charged as long as the rest.
    pub fn grow(&mut self, n: usize) {
        BUDGET.charge(n);
        self.0 += n;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        BUDGET.release(self.0);
    }
}

/// A body being collected whole (`handleMessage`, `replaceMessage`, `*MessageBody`): its
/// bytes are charged as they come and released as the body is taken or dropped.
#[derive(Default)]
pub struct Collected {
    buf: BytesMut,
}

impl std::ops::Deref for Collected {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf
    }
}

impl Collected {
    pub fn extend_from_slice(&mut self, b: &[u8]) {
        BUDGET.charge(b.len());
        self.buf.extend_from_slice(b);
    }

    /// The body, no longer counted (it is handed to the script or on down the pipeline).
    pub fn freeze(mut self) -> Bytes {
        BUDGET.release(self.buf.len());
        std::mem::take(&mut self.buf).freeze()
    }
}

impl Drop for Collected {
    fn drop(&mut self) {
        BUDGET.release(self.buf.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both kinds are counted while they live, whichever way they end. The budget is the
    /// process's, shared by tests running in parallel: each checks what it adds itself,
    /// as a lower bound.
    #[test]
    fn charges_count_while_they_live() {
        let mut socket = Charge::new(1 << 30);
        socket.grow(1 << 30);
        assert!(BUDGET.held() >= 2 << 30);
        drop(socket);
        assert!(BUDGET.held() < 1 << 30);
        let mut body = Collected::default();
        body.extend_from_slice(&[7; 1000]);
        body.extend_from_slice(&[8; 24]);
        assert_eq!(body.len(), 1024);
        let bytes = body.freeze();
        assert_eq!((bytes.len(), bytes[999], bytes[1000]), (1024, 7, 8));
        let mut dropped = Collected::default();
        dropped.extend_from_slice(&[1; 10]);
        drop(dropped);
    }
}
