//! UDP sockets: a listening socket shared by one session per peer, and the send queue that
//! both listening and connected sockets write datagrams through.
//!
//! Datagrams keep their boundaries: each one received is one `Data` event, each `Data`
//! event sent is one datagram. UDP has no flow control, so nothing here pauses a reader;
//! what cannot be sent at once waits in a bounded queue and the excess is dropped, as the
//! network would drop it.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use socket2::{Protocol, Type};

use super::listener::ListenSpec;
use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::engine::charge::{self, Charge};
use crate::engine::{Event, EventSink};

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65536;

/// Bytes of datagrams a socket may have waiting to be sent before new ones are dropped.
const QUEUE_LIMIT: usize = 1 << 20;

/// Binds with SO_REUSEADDR, and SO_REUSEPORT when several workers share the port (the
/// kernel then keeps each peer on one worker, so its session stays in one place).
pub fn bind(spec: &ListenSpec, reuse_port: bool) -> io::Result<UdpSocket> {
    let socket = super::listener::socket(spec, Type::DGRAM, Protocol::UDP, reuse_port)?;
    UdpSocket::from_std(socket.into())
}

/// Datagrams on their way to one socket: sent at once when the socket takes them, else
/// queued (up to [`QUEUE_LIMIT`]) for [`SendQueue::run`].
#[derive(Default)]
pub struct SendQueue {
    queue: RefCell<VecDeque<(Bytes, Option<SocketAddr>)>>,
    queued: Cell<usize>,
    notify: Notify,
    dropped: Cell<u64>,
}

impl SendQueue {
    /// Sends `data` as one datagram, to `to` or (a connected socket) to its peer.
    pub fn send(&self, socket: &UdpSocket, data: Bytes, to: Option<SocketAddr>) {
        if data.is_empty() {
            return;
        }
        if self.queue.borrow().is_empty() {
            let sent = match to {
                Some(to) => socket.try_send_to(&data, to),
                None => socket.try_send(&data),
            };
            match sent {
                Ok(_) => return,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // A datagram the kernel refuses (too big, no route) is lost, as on the wire.
                Err(e) => return tracing::debug!(target: "udp", "send {} bytes: {e}", data.len()),
            }
        }
        if self.queued.get() + data.len() > QUEUE_LIMIT {
            let n = self.dropped.get() + 1;
            self.dropped.set(n);
            if n.is_power_of_two() {
                tracing::warn!(target: "udp", "send queue full: {n} datagrams dropped");
            }
            return;
        }
        self.queued.set(self.queued.get() + data.len());
        self.queue.borrow_mut().push_back((data, to));
        self.notify.notify_one();
    }

    /// Sends what was queued, for as long as the socket lives.
    pub async fn run(&self, socket: &UdpSocket) {
        loop {
            let next = self.queue.borrow().front().cloned();
            let Some((data, to)) = next else {
                self.notify.notified().await;
                continue;
            };
            let sent = match to {
                Some(to) => socket.send_to(&data, to).await,
                None => socket.send(&data).await,
            };
            if let Err(e) = sent {
                tracing::debug!(target: "udp", "send {} bytes: {e}", data.len());
            }
            self.queue.borrow_mut().pop_front();
            self.queued.set(self.queued.get() - data.len());
        }
    }
}

/// One peer of a listening socket: where its session's output goes.
pub struct PeerLink {
    pub peer: SocketAddr,
    socket: Rc<UdpSocket>,
    queue: Rc<SendQueue>,
    /// Last datagram either way, for the idle timeout.
    last: Cell<Instant>,
    ended: Cell<bool>,
    end: Notify,
}

impl PeerLink {
    fn touch(&self) {
        self.last.set(Instant::now());
    }

    fn close(&self) {
        self.ended.set(true);
        self.end.notify_one();
    }
}

impl EventSink for PeerLink {
    fn on_event(&self, evt: Event) {
        if self.ended.get() {
            return;
        }
        match evt {
            Event::Data(b) => {
                self.touch();
                self.queue.send(&self.socket, b, Some(self.peer));
            }
            // The session ended itself: forget the peer, as Pipy does.
            Event::StreamEnd(_) => self.close(),
            _ => {}
        }
    }
}

/// A peer's session, made by the caller of [`run`]: it takes the peer's events, and
/// dropping it ends the session.
pub type Session = Box<dyn Fn(Event)>;

struct Entry {
    link: Rc<PeerLink>,
    session: Session,
    /// What the session keeps counts in the buffer budget while it lives.
    _kept: Charge,
}

type Peers = Rc<RefCell<HashMap<SocketAddr, Rc<Entry>>>>;

/// Sessions a listening socket keeps when the script gives no `maxConnections`. Each may
/// hold a pipeline, a task and an upstream socket, so a flood of one-datagram peers must
/// not open one each (Pipy has no bound).
pub const DEFAULT_SESSIONS: usize = 256;

/// A session's idle timeout when the script gives none (Pipy: 60 s, as for TCP). A UDP
/// peer never says it is done, so idle sessions are the ones that pile up.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(10);

/// How a listening socket treats its peers.
pub struct PeerOptions {
    /// Sessions open at once.
    pub max: Option<usize>,
    /// At `max`, the session idle longest ends to make way for a new peer; otherwise the
    /// new peer's datagrams are dropped (a bound the script asked for, as Pipy keeps it).
    pub shed: bool,
    /// A session with no datagram either way for this long gets `StreamEnd(IdleTimeout)`.
    pub idle: Option<Duration>,
}

impl PeerOptions {
    /// From the listener's `maxConnections` and `idleTimeout` as the script gave them
    /// (`None`: not given; `Some(None)`: no bound; a zero timeout: none).
    pub fn new(max: Option<Option<usize>>, idle: Option<Duration>) -> PeerOptions {
        let idle = Some(idle.unwrap_or(DEFAULT_IDLE)).filter(|d| !d.is_zero());
        match max {
            Some(max) => PeerOptions { max, shed: false, idle },
            None => PeerOptions { max: Some(DEFAULT_SESSIONS), shed: true, idle },
        }
    }
}

/// Receives on `socket` until `stop` fires. A datagram from a new peer opens a session with
/// `open`; every datagram is one `Data` event for its peer's session.
pub async fn run<F>(socket: UdpSocket, options: PeerOptions, stop: Rc<Notify>, open: F)
where
    F: Fn(Rc<PeerLink>) -> Session,
{
    let socket = Rc::new(socket);
    let queue = Rc::new(SendQueue::default());
    let peers: Peers = Rc::default();
    let writer = {
        let (socket, queue) = (socket.clone(), queue.clone());
        tokio::task::spawn_local(async move { queue.run(&socket).await })
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut refused: u64 = 0;
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = stop.notified() => break,
        };
        let (n, from) = match received {
            Ok(r) => r,
            // An ICMP error for an earlier send to some peer: not this socket's failure.
            Err(e) => {
                tracing::debug!(target: "udp", "receive: {e}");
                continue;
            }
        };
        // An empty datagram makes no event, as in Pipy.
        if n == 0 {
            continue;
        }
        let data = Bytes::copy_from_slice(&buf[..n]);
        let existing = peers.borrow().get(&from).cloned();
        // A session that ended itself is replaced by a new one for the same peer.
        let entry = match existing.filter(|e| !e.link.ended.get()) {
            Some(e) => e,
            None if !make_room(&peers, &options) => {
                refused += 1;
                if refused.is_power_of_two() {
                    tracing::warn!(target: "udp", "maxConnections reached: {refused} datagrams from new peers dropped");
                }
                continue;
            }
            None => {
                let link = Rc::new(PeerLink {
                    peer: from,
                    socket: socket.clone(),
                    queue: queue.clone(),
                    last: Cell::new(Instant::now()),
                    ended: Cell::new(false),
                    end: Notify::new(),
                });
                let session = open(link.clone());
                // A session that ended as it started takes nothing.
                if link.ended.get() {
                    continue;
                }
                let entry = Rc::new(Entry { link: link.clone(), session, _kept: Charge::new(charge::SOCKET) });
                peers.borrow_mut().insert(from, entry.clone());
                tokio::task::spawn_local(watch(link, peers.clone(), options.idle));
                entry
            }
        };
        entry.link.touch();
        (entry.session)(Event::Data(data));
    }
    writer.abort();
    let all: Vec<_> = peers.borrow_mut().drain().map(|(_, e)| e).collect();
    for e in all {
        (e.session)(Event::end());
        e.link.close();
    }
}

/// Whether a new peer may open a session: under the bound, or (shedding) once the session
/// idle longest has ended for it. A session that ended itself but is not yet forgotten goes
/// first, and gets no event.
fn make_room(peers: &Peers, options: &PeerOptions) -> bool {
    let Some(max) = options.max else { return true };
    if peers.borrow().len() < max {
        return true;
    }
    if !options.shed {
        return false;
    }
    let oldest = peers.borrow().values().min_by_key(|e| (!e.link.ended.get(), e.link.last.get())).cloned();
    let Some(entry) = oldest else { return false };
    remove(peers, &entry.link);
    if !entry.link.ended.get() {
        tracing::debug!(target: "udp", "session of {} shed for a new peer", entry.link.peer);
        (entry.session)(Event::error("IdleTimeout"));
        entry.link.close();
    }
    true
}

/// Ends a peer's session when it goes idle or ends itself. The entry it removes holds the
/// session, so the session is dropped here, outside of any event it was processing.
async fn watch(link: Rc<PeerLink>, peers: Peers, idle: Option<Duration>) {
    loop {
        let idle_out = async {
            match idle {
                Some(i) => tokio::time::sleep_until(link.last.get() + i).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = link.end.notified() => {}
            _ = idle_out => {}
        }
        if link.ended.get() {
            break;
        }
        if idle.is_some_and(|i| link.last.get() + i <= Instant::now()) {
            let entry = remove(&peers, &link);
            if let Some(e) = &entry {
                (e.session)(Event::error("IdleTimeout"));
            }
            link.close();
            return;
        }
    }
    remove(&peers, &link);
}

/// Takes `link`'s entry out of `peers` (not a newer session of the same peer) and drops it.
fn remove(peers: &Peers, link: &Rc<PeerLink>) -> Option<Rc<Entry>> {
    let mut map = peers.borrow_mut();
    let ours = map.get(&link.peer).is_some_and(|e| Rc::ptr_eq(&e.link, link));
    if ours { map.remove(&link.peer) } else { None }
}
