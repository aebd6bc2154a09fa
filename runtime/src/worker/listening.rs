//! A worker's open listeners, across reloads. Each accept loop serves new connections with
//! what its [`Serving`] cell holds; a reload puts the new script's pipeline there for the
//! addresses both scripts listen on (the socket stays open, so no client is refused), opens
//! the addresses only the new script has, and closes the ones it dropped. Connections
//! already accepted keep the pipeline they started with.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{StartError, serve, udp};
use crate::engine::{Context, Layout};
use crate::net::listener::{self, ListenSpec, Transport};

/// What a listener serves new connections with.
pub struct Serving {
    pub layout: Rc<Layout>,
    pub root: Rc<Context>,
    pub opts: Rc<serve::ServeOptions>,
}

impl Serving {
    fn new(spec: &ListenSpec, root: &Rc<Context>) -> Serving {
        // `idleTimeout: 0` turns the timeout off, as it does for `connect`.
        let idle = spec.idle_timeout.unwrap_or(listener::TCP_IDLE);
        let idle_timeout = Some(idle).filter(|d| !d.is_zero()).unwrap_or(crate::options::FOREVER);
        let listen_label = crate::engine::metrics::listener_label(spec.addr).into();
        let opts =
            Rc::new(serve::ServeOptions { idle_timeout, listen: spec.addr, listen_label, peer_stats: spec.peer_stats });
        Serving { layout: spec.layout.clone(), root: root.clone(), opts }
    }
}

enum Task {
    Tcp(JoinHandle<()>),
    Udp(Rc<Notify>),
}

struct Open {
    addr: SocketAddr,
    protocol: Transport,
    serving: Rc<RefCell<Serving>>,
    task: Task,
}

/// A socket bound for a listener, not serving yet.
pub struct Bound {
    socket: Socket,
    spec: ListenSpec,
}

enum Socket {
    Tcp(tokio::net::TcpListener),
    Udp(tokio::net::UdpSocket),
}

#[derive(Default)]
pub struct Listening(Vec<Open>);

/// Binds a socket for each of `specs`; an error names the address that failed. The
/// "Listening on" lines come once every socket is bound, so that whoever waits for the first
/// line (a supervisor, a test) can connect to any of the ports.
pub fn bind(specs: Vec<ListenSpec>, reuse_port: bool) -> Result<Vec<Bound>, StartError> {
    let mut bound = Vec::new();
    for spec in specs {
        let socket = match spec.protocol {
            Transport::Tcp => listener::bind(&spec, reuse_port).map(Socket::Tcp),
            Transport::Udp => crate::net::udp::bind(&spec, reuse_port).map(Socket::Udp),
        };
        let socket = socket.map_err(|e| StartError(format!("unable to listen on {}: {e}", spec.addr)))?;
        bound.push(Bound { socket, spec });
    }
    for Bound { spec, .. } in &bound {
        let proto = spec.protocol.name();
        tracing::info!(target: "listener", "Listening on {proto} port {} at {}", spec.addr.port(), spec.addr.ip());
    }
    Ok(bound)
}

impl Listening {
    /// Starts serving `bound` sockets from `root` (inside the worker's task set).
    pub fn start(&mut self, bound: Vec<Bound>, root: &Rc<Context>) {
        for Bound { socket, spec } in bound {
            let serving = Rc::new(RefCell::new(Serving::new(&spec, root)));
            let (addr, protocol) = (spec.addr, spec.protocol);
            let spec = Rc::new(spec);
            let task = match socket {
                Socket::Udp(s) => {
                    let stop = Rc::new(Notify::new());
                    tokio::task::spawn_local(udp::listen(s, spec, serving.clone(), stop.clone()));
                    Task::Udp(stop)
                }
                Socket::Tcp(l) => {
                    let cell = serving.clone();
                    let serve = move |stream, peer| {
                        let s = cell.borrow();
                        serve::serve(stream, peer, s.layout.clone(), s.root.clone(), s.opts.clone())
                    };
                    Task::Tcp(tokio::task::spawn_local(listener::run(l, spec, serve)))
                }
            };
            self.0.push(Open { addr, protocol, serving, task });
        }
    }

    /// Which of `specs` need a socket of their own: those no open listener has.
    pub fn unopened(&self, specs: Vec<ListenSpec>) -> (Vec<ListenSpec>, Vec<ListenSpec>) {
        specs.into_iter().partition(|s| !self.0.iter().any(|o| o.addr == s.addr && o.protocol == s.protocol))
    }

    /// Serves the new script: `kept` (addresses open already) from their open sockets,
    /// `bound` from new ones; every other listener closes. All from `root`.
    pub fn replace(&mut self, kept: Vec<ListenSpec>, bound: Vec<Bound>, root: &Rc<Context>) {
        let mut open = Vec::new();
        for o in std::mem::take(&mut self.0) {
            match kept.iter().find(|s| s.addr == o.addr && s.protocol == o.protocol) {
                Some(spec) => {
                    *o.serving.borrow_mut() = Serving::new(spec, root);
                    open.push(o);
                }
                None => {
                    let proto = o.protocol.name();
                    tracing::info!(target: "listener", "Stopped listening on {proto} port {} at {}", o.addr.port(), o.addr.ip());
                    close_task(o.task);
                }
            }
        }
        self.0 = open;
        self.start(bound, root);
    }

    /// What the script changed since it started (`pipy.listen` in a callback, a
    /// `ListenerArray`): closes `close`, serves the addresses of `open` that are open with
    /// their new pipelines and opens the others. One that cannot be opened is logged.
    pub fn change(
        &mut self,
        close: Vec<(SocketAddr, Transport)>,
        open: Vec<ListenSpec>,
        reuse_port: bool,
        root: &Rc<Context>,
    ) {
        for (addr, protocol) in close {
            if let Some(i) = self.0.iter().position(|o| o.addr == addr && o.protocol == protocol) {
                let o = self.0.remove(i);
                let proto = o.protocol.name();
                tracing::info!(target: "listener", "Stopped listening on {proto} port {} at {}", o.addr.port(), o.addr.ip());
                close_task(o.task);
            }
        }
        let (new, kept) = self.unopened(open);
        for spec in kept {
            if let Some(o) = self.0.iter().find(|o| o.addr == spec.addr && o.protocol == spec.protocol) {
                *o.serving.borrow_mut() = Serving::new(&spec, root);
            }
        }
        for spec in new {
            match bind(vec![spec], reuse_port) {
                Ok(bound) => self.start(bound, root),
                Err(StartError(e)) => tracing::error!(target: "listener", "{e}"),
            }
        }
    }

    /// The accept tasks and UDP stops, for the worker's shutdown.
    pub fn into_parts(self) -> (Vec<JoinHandle<()>>, Vec<Rc<Notify>>) {
        let (mut accept, mut udp) = (Vec::new(), Vec::new());
        for o in self.0 {
            match o.task {
                Task::Tcp(h) => accept.push(h),
                Task::Udp(n) => udp.push(n),
            }
        }
        (accept, udp)
    }
}

/// Stops accepting; what was accepted goes on. The socket closes as its task is dropped.
fn close_task(task: Task) {
    match task {
        Task::Tcp(h) => h.abort(),
        Task::Udp(n) => n.notify_one(),
    }
}
