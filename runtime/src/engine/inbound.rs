//! What a pipeline knows about the inbound connection it serves.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::rc::Rc;

use super::live::Live;
use crate::codec::http1::RequestInfo;

/// Requests decoded on a connection and not yet matched with a response, at most: a
/// response decoder takes them as its responses arrive, so only a client far ahead of its
/// answers (or a script with no response decoder) reaches it.
const MAX_REQUESTS: usize = 1024;

/// An accepted connection as scripts see it. The socket fd is cleared when the connection
/// is gone, so a kept reference cannot reach a reused fd.
pub struct Inbound {
    pub id: u64,
    /// The local address, or the listener's until the kernel is asked (see [`Inbound::local`]).
    local: Cell<SocketAddr>,
    /// Whether `local` is the socket's own address.
    local_known: Cell<bool>,
    pub remote: SocketAddr,
    fd: Cell<Option<RawFd>>,
    closers: RefCell<Vec<Box<dyn FnOnce()>>>,
    /// What `decodeHTTPRequest` read on this connection, for the `decodeHTTPResponse` that
    /// frames the answers (a HEAD's response has no body whatever its headers say).
    requests: RefCell<VecDeque<RequestInfo>>,
    /// The same requests for the `encodeHTTPResponse` that writes their answers, which
    /// takes one per final response: a HEAD's answer keeps its `content-length` and has no
    /// body, though none came with it.
    answered: RefCell<VecDeque<RequestInfo>>,
    /// The destination the client connected to before NAT sent it here, read from the kernel
    /// on first use (`None` until then; `Some(None)` when the kernel has none).
    original: Cell<Option<Option<SocketAddr>>>,
}

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
    /// This thread's connections, for `pipy.inbound`.
    static LIVE: Live<Inbound> = const { Live::new() };
}

/// Open: its socket is.
fn open(i: &Inbound) -> bool {
    i.fd().is_some()
}

/// Lists `inbound` among this thread's open connections (see [`live`]).
pub fn track(inbound: &Rc<Inbound>) {
    LIVE.with(|l| l.track(inbound, open))
}

/// This thread's open connections, oldest first.
pub fn live() -> Vec<Rc<Inbound>> {
    LIVE.with(|l| l.list(open))
}

impl Inbound {
    pub fn new(local: SocketAddr, remote: SocketAddr, fd: RawFd) -> Inbound {
        let id = NEXT_ID.with(|n| n.replace(n.get() + 1));
        Inbound {
            id,
            local: Cell::new(local),
            local_known: Cell::new(true),
            remote,
            fd: Cell::new(Some(fd)),
            closers: RefCell::new(Vec::new()),
            requests: RefCell::default(),
            answered: RefCell::default(),
            original: Cell::new(None),
        }
    }

    /// An accepted connection whose local address is asked from the kernel only when a
    /// script wants it (a `getsockname` per connection otherwise, issue 24): a wildcard or
    /// transparent listener does not say which address the client reached. Asked only once
    /// the socket is closed, it is `listen`, the listener's address.
    pub fn accepted(listen: SocketAddr, remote: SocketAddr, fd: RawFd) -> Inbound {
        let inbound = Inbound::new(listen, remote, fd);
        inbound.local_known.set(false);
        inbound
    }

    /// The address the client reached.
    pub fn local(&self) -> SocketAddr {
        if !self.local_known.get()
            && let Some(fd) = self.fd()
        {
            // The fd is the open socket's: it is cleared as the connection closes.
            if let Some(a) = local_address(fd) {
                self.local.set(a);
            }
            self.local_known.set(true);
        }
        self.local.get()
    }

    pub fn fd(&self) -> Option<RawFd> {
        self.fd.get()
    }

    /// Runs `f` when the connection is closed (for things that live only as long as it).
    pub fn on_close(&self, f: Box<dyn FnOnce()>) {
        self.closers.borrow_mut().push(f);
    }

    /// A request decoded from this connection's bytes, for the response decoder and encoder.
    /// Dropped past [`MAX_REQUESTS`]: its response is then framed by its own headers.
    pub fn push_request(&self, info: RequestInfo) {
        for q in [&self.requests, &self.answered] {
            let mut q = q.borrow_mut();
            if q.len() < MAX_REQUESTS {
                q.push_back(info);
            }
        }
    }

    /// The oldest request the response encoder has not answered yet; a `last` response (not
    /// a 1xx) answers it, so the next call gives the one after.
    pub fn request_answered(&self, last: bool) -> Option<RequestInfo> {
        let mut q = self.answered.borrow_mut();
        if last { q.pop_front() } else { q.front().copied() }
    }

    /// The requests pushed since the last call, oldest first.
    pub fn take_requests(&self) -> VecDeque<RequestInfo> {
        self.requests.take()
    }

    /// Where the client meant to connect before an iptables/nftables `REDIRECT` or `DNAT`
    /// (or an eBPF program answering the same socket option) sent the connection here:
    /// `SO_ORIGINAL_DST`, `IP6T_SO_ORIGINAL_DST` for IPv6. `None` when the kernel has no
    /// such record (no NAT on this connection's path, or the socket is closed). Asked once.
    pub fn original_destination(&self) -> Option<SocketAddr> {
        if let Some(known) = self.original.get() {
            return known;
        }
        // A closed socket has nothing to tell (and nothing is kept for it).
        let fd = self.fd()?;
        let found = original_destination(fd, self.remote.is_ipv6());
        self.original.set(Some(found));
        found
    }

    /// The connection is gone: forget its fd and run the `on_close` functions.
    pub fn closed(&self) {
        self.fd.set(None);
        let closers = self.closers.take();
        closers.into_iter().for_each(|f| f());
    }
}

/// The local address of the open socket `fd` (`getsockname`), for [`Inbound::local`] and
/// `Outbound::local`, which ask it only when a script wants it.
pub(super) fn local_address(fd: RawFd) -> Option<SocketAddr> {
    // SAFETY: callers hold `fd` only while its socket is open.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    socket2::SockRef::from(&fd).local_addr().ok()?.as_socket()
}

/// `SO_ORIGINAL_DST` (IPv4) and `IP6T_SO_ORIGINAL_DST` (IPv6) share the number 80, at the
/// levels `SOL_IP` and `SOL_IPV6`.
const SO_ORIGINAL_DST: libc::c_int = 80;

fn original_destination(fd: RawFd, v6: bool) -> Option<SocketAddr> {
    let level = if v6 { libc::SOL_IPV6 } else { libc::SOL_IP };
    // SAFETY: socket2 hands a zeroed storage and its size; the kernel writes at most `len`
    // bytes of a sockaddr of the connection's family there.
    let asked = unsafe {
        socket2::SockAddr::try_init(|addr, len| match libc::getsockopt(fd, level, SO_ORIGINAL_DST, addr.cast(), len) {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        })
    };
    asked.ok()?.1.as_socket()
}
