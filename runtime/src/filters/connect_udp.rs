//! `connect(target, { protocol: 'udp' })`: a connected UDP socket upstream. Each input `Data`
//! is sent as one datagram; each datagram received is one output `Data`.
//!
//! As in Pipy, an input `StreamEnd` is passed straight back downstream (UDP has nothing to
//! close towards the peer), and the socket lives as long as the pipeline. No datagram for
//! `idleTimeout` either way ends the output with `StreamEnd('IdleTimeout')`. Unlike Pipy, a
//! refused datagram (ICMP port unreachable) ends it with `StreamEnd('ConnectionRefused')`.
//! As with TCP `connect`, the socket opens when the pipeline starts.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use boa_engine::JsResult;
use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::Made;
use crate::args::Args;
use crate::engine::outbound::{self, Outbound, State};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Output, metrics};
use crate::net::udp::SendQueue;

/// Whether `connect`'s options ask for UDP.
pub fn wanted(args: &mut Args<'_>) -> JsResult<bool> {
    match args.options(1).string("protocol")?.as_deref() {
        None | Some("tcp") => Ok(false),
        Some("udp") => Ok(true),
        Some(other) => Err(args.error(format!("unknown protocol: {other}"))),
    }
}

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let target = args.given_text(0, "a target 'host:port'")?;
    let idle = args.options(1).timeout("idleTimeout")?.unwrap_or(Some(Duration::from_secs(60)));
    Ok(Made::Filter(Box::new(Spec { target, idle })))
}

struct Spec {
    target: Given<String>,
    idle: Option<Duration>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "connect"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(ConnectUdp {
            target: self.target.clone(),
            idle: self.idle,
            env,
            link: None,
            task: None,
            outbound: None,
        })
    }
}

/// The socket's side that the filter writes to.
#[derive(Default)]
struct Link {
    socket: RefCell<Option<Rc<UdpSocket>>>,
    /// Datagrams given before the socket was connected.
    early: RefCell<VecDeque<Bytes>>,
    queue: SendQueue,
    last: Cell<Option<Instant>>,
    /// The output ended: later input goes nowhere.
    closed: Cell<bool>,
    /// Bytes of the datagrams received and sent, for the runtime's series.
    received: Cell<u64>,
    sent: Cell<u64>,
}

impl metrics::Flow for Link {
    fn bytes(&self) -> (u64, u64) {
        (self.received.get(), self.sent.get())
    }
}

/// Datagrams kept while resolving; more are dropped, as a full socket buffer would.
const EARLY_LIMIT: usize = 256;

impl Link {
    fn send(&self, data: Bytes) {
        if self.closed.get() {
            return;
        }
        match self.socket.borrow().as_ref() {
            Some(s) => {
                self.last.set(Some(Instant::now()));
                self.sent.set(self.sent.get() + data.len() as u64);
                self.queue.send(s, data, None);
            }
            None if self.early.borrow().len() < EARLY_LIMIT => self.early.borrow_mut().push_back(data),
            None => {}
        }
    }
}

struct ConnectUdp {
    target: Given<String>,
    idle: Option<Duration>,
    env: FilterEnv,
    link: Option<Rc<Link>>,
    task: Option<AbortHandle>,
    /// What `pipy.outbound` lists, for as long as this filter lives.
    outbound: Option<Rc<Outbound>>,
}

impl ConnectUdp {
    fn open(&mut self) -> Rc<Link> {
        let link = Rc::new(Link::default());
        self.link = Some(link.clone());
        let target = self.target.text(&self.env.context);
        match target {
            Ok(target) => {
                let ob = outbound::track("UDP");
                let task = tokio::task::spawn_local(run(target, self.idle, link.clone(), self.env.clone(), ob.clone()));
                let l = link.clone();
                super::connect::close_with(&ob, task.abort_handle(), &self.env, move || {
                    l.closed.set(true);
                    l.socket.borrow_mut().take();
                });
                self.task = Some(task.abort_handle());
                self.outbound = Some(ob);
            }
            Err(e) => {
                tracing::error!(target: "outbound", "connect: {e}");
                self.env.emit_later(crate::engine::host::runtime_error(e));
            }
        }
        link
    }
}

impl Filter for ConnectUdp {
    fn start(&mut self) {
        self.open();
    }

    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let link = match &self.link {
            Some(l) => l.clone(),
            None if evt.is_stream_end() => return out.emit(evt),
            None => self.open(),
        };
        match evt {
            Event::Data(b) => link.send(b),
            Event::StreamEnd(_) => out.emit(evt),
            _ => {}
        }
    }
}

impl Drop for ConnectUdp {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

async fn open_socket(target: &str) -> Result<UdpSocket, &'static str> {
    let addrs = super::connect::resolve(target).await?;
    let addr = addrs[0];
    let any: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = UdpSocket::bind(any).await.map_err(|_| "ConnectionRefused")?;
    socket.connect(addr).await.map_err(|_| "ConnectionRefused")?;
    Ok(socket)
}

async fn run(target: String, idle: Option<Duration>, link: Rc<Link>, env: FilterEnv, ob: Rc<Outbound>) {
    let started = std::time::Instant::now();
    ob.set_state(State::Connecting);
    let socket = match open_socket(&target).await {
        Ok(s) => Rc::new(s),
        Err(code) => {
            link.closed.set(true);
            ob.set_state(State::Closed);
            tracing::warn!(target: "outbound", "connect to udp {target}: {code}");
            return env.emit(Event::error(code));
        }
    };
    tracing::debug!(target: "outbound", "udp socket to {target} open");
    // As Pipy: a UDP socket counts as connected once connect(2) took its peer.
    if let (Ok(l), Ok(r)) = (socket.local_addr(), socket.peer_addr()) {
        ob.connected(l, r);
    }
    let counted = metrics::Connection::outbound("UDP", Rc::from(target.as_str()), link.clone());
    counted.connected_in(started.elapsed());
    *link.socket.borrow_mut() = Some(socket.clone());
    let early: Vec<_> = link.early.borrow_mut().drain(..).collect();
    early.into_iter().for_each(|d| link.send(d));
    let last_read = Cell::new(Instant::now());
    let reader = async {
        let mut buf = vec![0u8; 65536];
        loop {
            let last = link.last.get().map_or(last_read.get(), |w| w.max(last_read.get()));
            let idle_out = async {
                match idle {
                    Some(i) => tokio::time::sleep_until(last + i).await,
                    None => std::future::pending().await,
                }
            };
            let received = tokio::select! {
                r = socket.recv(&mut buf) => r,
                _ = idle_out => {
                    let last = link.last.get().map_or(last_read.get(), |w| w.max(last_read.get()));
                    if idle.is_some_and(|i| last + i <= Instant::now()) {
                        return env.emit(Event::error("IdleTimeout"));
                    }
                    continue;
                }
            };
            match received {
                Ok(n) => {
                    last_read.set(Instant::now());
                    link.received.set(link.received.get() + n as u64);
                    if n > 0 {
                        env.emit(Event::Data(Bytes::copy_from_slice(&buf[..n])));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return env.emit(Event::error("ConnectionRefused"));
                }
                Err(_) => return env.emit(Event::error("ReadError")),
            }
            if !env.is_alive() {
                return;
            }
        }
    };
    tokio::select! {
        _ = reader => {}
        _ = link.queue.run(&socket) => {}
    }
    link.closed.set(true);
    link.socket.borrow_mut().take();
    ob.set_state(State::Closed);
}
