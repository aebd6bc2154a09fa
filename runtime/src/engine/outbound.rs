//! What `pipy.outbound` lists: the connections `connect` opens (TCP and UDP), each from the
//! moment its filter asks for it until both the filter and the socket's task are gone, as
//! Pipy lists an outbound for as long as its filter holds it.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::rc::Rc;

use super::live::Live;

/// Pipy's outbound states, in the order a connection goes through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Idle,
    Connecting,
    Connected,
    Closed,
}

impl State {
    /// The name Pipy gives the state.
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Connecting => "connecting",
            State::Connected => "connected",
            State::Closed => "closed",
        }
    }
}

/// An outbound connection as scripts see it.
pub struct Outbound {
    /// `"TCP"` or `"UDP"`.
    pub protocol: &'static str,
    state: Cell<State>,
    local: Cell<Option<SocketAddr>>,
    remote: Cell<Option<SocketAddr>>,
    /// The connected socket, while it is open and its local address not asked yet.
    fd: Cell<Option<RawFd>>,
    /// What `close()` does: abort the socket's task and end the stream with an error.
    closer: RefCell<Option<Box<dyn FnOnce()>>>,
}

thread_local! {
    /// This thread's outbounds, listed while anyone holds them.
    static LIVE: Live<Outbound> = const { Live::new() };
}

/// A new outbound, listed among this thread's (see [`live`]).
pub fn track(protocol: &'static str) -> Rc<Outbound> {
    let ob = Rc::new(Outbound {
        protocol,
        state: Cell::new(State::Idle),
        local: Cell::new(None),
        remote: Cell::new(None),
        fd: Cell::new(None),
        closer: RefCell::new(None),
    });
    LIVE.with(|l| l.track(&ob, |_| true));
    ob
}

/// This thread's outbounds, oldest first.
pub fn live() -> Vec<Rc<Outbound>> {
    LIVE.with(|l| l.list(|_| true))
}

impl Outbound {
    pub fn state(&self) -> State {
        self.state.get()
    }

    pub fn set_state(&self, state: State) {
        self.state.set(state);
        if state == State::Closed {
            self.fd.set(None);
            self.closer.take();
        }
    }

    /// Connected: the local and the peer's address.
    pub fn connected(&self, local: SocketAddr, remote: SocketAddr) {
        self.local.set(Some(local));
        self.remote.set(Some(remote));
        self.set_state(State::Connected);
    }

    /// Connected to `remote` by the socket `fd`, whose local address is asked from the
    /// kernel only when a script wants it (a `getsockname` per connection otherwise, issue
    /// 24). Whoever closes the socket says [`Outbound::forget_fd`] first (or closes this).
    pub fn connected_by(&self, remote: SocketAddr, fd: RawFd) {
        self.remote.set(Some(remote));
        self.fd.set(Some(fd));
        self.set_state(State::Connected);
    }

    /// The socket is closing: its fd may soon be another's.
    pub fn forget_fd(&self) {
        self.fd.set(None);
    }

    /// The local address; `None` before connecting, and for a socket closed before anyone
    /// asked.
    pub fn local(&self) -> Option<SocketAddr> {
        if let Some(fd) = self.fd.take() {
            // The fd is the open socket's: it is forgotten before the socket closes.
            self.local.set(super::inbound::local_address(fd));
        }
        self.local.get()
    }

    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote.get()
    }

    /// What `close()` will do, until the connection is closed.
    pub fn on_close(&self, f: Box<dyn FnOnce()>) {
        if self.state.get() != State::Closed {
            *self.closer.borrow_mut() = Some(f);
        }
    }

    /// Closes the connection now (`close()` in a script); once closed, nothing.
    pub fn close(&self) {
        let f = self.closer.take();
        self.fd.set(None);
        self.state.set(State::Closed);
        if let Some(f) = f {
            f();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_while_held_and_closed_once() {
        let before = live().len();
        let a = track("TCP");
        let b = track("UDP");
        assert_eq!(live().len(), before + 2);
        let closes = Rc::new(Cell::new(0));
        let c = closes.clone();
        a.on_close(Box::new(move || c.set(c.get() + 1)));
        a.close();
        a.close();
        assert_eq!((closes.get(), a.state()), (1, State::Closed));
        drop(b);
        assert_eq!(live().len(), before + 1);
        assert_eq!(live().last().unwrap().protocol, "TCP");
    }
}
