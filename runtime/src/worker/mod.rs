//! Worker threads. Each has its own tokio current-thread runtime, Boa context and copy of
//! the script; listeners share their ports with SO_REUSEPORT.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::js;

mod serve;
mod stop;
mod udp;
use crate::net::listener::{self, ListenSpec, Transport};

/// What the main thread tells the workers.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Command {
    Run,
    /// Stop accepting, run the `pipy.exit` callbacks, drain, finish.
    Stop,
}

pub struct WorkerConfig {
    pub script: Arc<js::script::Script>,
    pub id: usize,
    pub concurrency: usize,
    pub reuse_port: bool,
    pub argv: Vec<String>,
    pub commands: watch::Receiver<Command>,
    /// How long a graceful stop waits for open connections.
    pub drain_timeout: Duration,
    /// `-e`: print the script's value, as Pipy does for a single expression.
    pub print_result: bool,
}

thread_local! {
    static ACTIVE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts a connection as open while the guard lives, for the drain at stop.
#[derive(Default)]
pub struct ActiveGuard(());

impl ActiveGuard {
    pub fn new() -> ActiveGuard {
        ACTIVE.with(|a| a.set(a.get() + 1));
        ActiveGuard(())
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(a.get() - 1));
    }
}

/// Where a worker says that it started, or why it could not.
pub type Ready = tokio::sync::mpsc::UnboundedSender<Result<(), StartError>>;

/// Why a worker could not start: already formatted for the user.
pub struct StartError(pub String);

/// Runs one worker to completion: until everything its script started has ended by itself,
/// or a stop (see [`stop::shutdown`]). `ready` is told once the script ran and the listeners
/// are open (or why that failed).
pub fn run(cfg: WorkerConfig, ready: Ready) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(StartError(format!("cannot start worker: {e}"))));
            return;
        }
    };
    let mut local = tokio::task::LocalSet::new();
    rt.block_on(lifecycle(cfg, ready, &mut local));
    // The tasks go first, with the runtime still there for their timers and sockets: they
    // hold script values, which must be gone before the script engine is.
    {
        let _rt = rt.enter();
        drop(local);
    }
    stop::clear_thread_state();
}

async fn lifecycle(cfg: WorkerConfig, ready: Ready, local: &mut tokio::task::LocalSet) {
    let opened = match local.run_until(async { start(&cfg) }).await {
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
        Ok(opened) => opened,
    };
    let _ = ready.send(Ok(()));
    tracing::debug!(target: "thread", "Thread {} started", cfg.id);
    let root = js::state::root();
    // UDP listeners end their sessions themselves when told (each its own permit, so a stop
    // sent before the listener waits is not missed); TCP accept loops are aborted.
    let mut udp_stops = Vec::new();
    let accept: Vec<_> = opened
        .into_iter()
        .filter_map(|(l, spec)| {
            let l = match l {
                Bound::Tcp(l) => l,
                Bound::Udp(s) => {
                    let stop = Rc::new(tokio::sync::Notify::new());
                    udp_stops.push(stop.clone());
                    local.spawn_local(udp::listen(s, spec, root.clone(), stop));
                    return None;
                }
            };
            // `idleTimeout: 0` turns the timeout off, as it does for `connect`.
            let idle = spec.idle_timeout.unwrap_or(listener::TCP_IDLE);
            let idle_timeout = Some(idle).filter(|d| !d.is_zero()).unwrap_or(crate::options::FOREVER);
            let listen_label = crate::engine::metrics::listener_label(spec.addr);
            let opts = Rc::new(serve::ServeOptions { idle_timeout, listen_label });
            let (layout, root) = (spec.layout.clone(), root.clone());
            let serve = move |stream| serve::serve(stream, layout.clone(), root.clone(), opts.clone());
            Some(local.spawn_local(listener::run(l, spec, serve)))
        })
        .collect();
    drop(root);
    let mut commands = cfg.commands.clone();
    tokio::select! {
        // Nothing is left to run: no listener, task or timer.
        _ = &mut *local => return,
        // A stop, or the main thread is gone.
        _ = commands.wait_for(|c| *c == Command::Stop) => {}
    }
    local.run_until(stop::shutdown(accept, udp_stops, cfg.drain_timeout)).await;
}

enum Bound {
    Tcp(tokio::net::TcpListener),
    Udp(tokio::net::UdpSocket),
}

type Opened = Vec<(Bound, Rc<ListenSpec>)>;

/// Evaluates the script and opens its listeners.
fn start(cfg: &WorkerConfig) -> Result<Opened, StartError> {
    let script = &cfg.script;
    let thread = js::state::Thread {
        script_path: &script.path,
        id: cfg.id,
        concurrency: cfg.concurrency,
        argv: cfg.argv.clone(),
    };
    js::state::start(thread);
    js::script::run(script, cfg.print_result).map_err(StartError)?;
    let specs = js::state::take_listeners();
    let mut opened = Vec::new();
    for spec in specs {
        let (l, proto) = match spec.protocol {
            Transport::Tcp => (listener::bind(spec.addr, cfg.reuse_port).map(Bound::Tcp), "TCP"),
            Transport::Udp => (crate::net::udp::bind(spec.addr, cfg.reuse_port).map(Bound::Udp), "UDP"),
        };
        let l = l.map_err(|e| StartError(format!("unable to listen on {}: {e}", spec.addr)))?;
        tracing::info!(target: "listener", "Listening on {proto} port {} at {}", spec.addr.port(), spec.addr.ip());
        opened.push((l, Rc::new(spec)));
    }
    Ok(opened)
}
