//! What a pipeline knows about the inbound connection it serves.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::RawFd;

/// An accepted connection as scripts see it. The socket fd is cleared when the connection
/// is gone, so a kept reference cannot reach a reused fd.
pub struct Inbound {
    pub id: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    fd: Cell<Option<RawFd>>,
    closers: RefCell<Vec<Box<dyn FnOnce()>>>,
}

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

impl Inbound {
    pub fn new(local: SocketAddr, remote: SocketAddr, fd: RawFd) -> Inbound {
        let id = NEXT_ID.with(|n| n.replace(n.get() + 1));
        Inbound { id, local, remote, fd: Cell::new(Some(fd)), closers: RefCell::new(Vec::new()) }
    }

    pub fn fd(&self) -> Option<RawFd> {
        self.fd.get()
    }

    /// Runs `f` when the connection is closed (for things that live only as long as it).
    pub fn on_close(&self, f: Box<dyn FnOnce()>) {
        self.closers.borrow_mut().push(f);
    }

    /// The connection is gone: forget its fd and run the `on_close` functions.
    pub fn closed(&self) {
        self.fd.set(None);
        let closers = self.closers.take();
        closers.into_iter().for_each(|f| f());
    }
}
