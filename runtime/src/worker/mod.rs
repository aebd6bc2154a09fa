//! Worker threads. Each has its own tokio current-thread runtime, Boa context and copy of
//! the script; listeners share their ports with SO_REUSEPORT.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::js;

mod listening;
mod reload;
mod serve;
mod stop;
mod udp;

/// What the main thread tells the workers.
#[derive(Clone)]
pub enum Command {
    Run,
    /// Load this script in place of the running one (SIGHUP, `--watch`, `pipy.restart()`).
    Reload(Arc<js::script::Script>),
    /// Stop accepting, run the `pipy.exit` callbacks, drain, finish.
    Stop,
}

impl PartialEq for Command {
    fn eq(&self, other: &Command) -> bool {
        match (self, other) {
            (Command::Reload(a), Command::Reload(b)) => Arc::ptr_eq(a, b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
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
    let bound = match local.run_until(async { start(&cfg) }).await {
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
        Ok(bound) => bound,
    };
    let mut listening = listening::Listening::default();
    local.run_until(async { listening.start(bound, &js::state::root()) }).await;
    // Asked to collect from before the port reads ready.
    let mut collect = crate::engine::collect::register();
    let _ = ready.send(Ok(()));
    tracing::debug!(target: "thread", "Thread {} started", cfg.id);
    let mut commands = cfg.commands.clone();
    loop {
        tokio::select! {
            // Nothing is left to run: no listener, task or timer.
            _ = &mut *local => return,
            Some(done) = collect.next() => {
                local.run_until(async { crate::engine::series::collect_here() }).await;
                let _ = done.send(());
            }
            _ = js::state::listeners_changed() => {
                let (close, open) = js::state::take_changes();
                let root = js::state::root();
                local.run_until(async { listening.change(close, open, cfg.reuse_port, &root) }).await;
            }
            changed = commands.changed() => {
                // A stop, or the main thread is gone.
                let command = if changed.is_ok() { commands.borrow_and_update().clone() } else { Command::Stop };
                match command {
                    Command::Stop => break,
                    Command::Reload(script) => {
                        local.run_until(reload::run(&script, &mut listening, &cfg)).await;
                    }
                    Command::Run => {}
                }
            }
        }
    }
    let (accept, udp_stops) = listening.into_parts();
    local.run_until(stop::shutdown(accept, udp_stops, cfg.drain_timeout)).await;
}

/// Evaluates the script and binds its listeners.
fn start(cfg: &WorkerConfig) -> Result<Vec<listening::Bound>, StartError> {
    let script = &cfg.script;
    let thread = js::state::Thread {
        script_path: &script.path,
        id: cfg.id,
        concurrency: cfg.concurrency,
        argv: cfg.argv.clone(),
    };
    js::state::start(thread);
    js::script::run(script, cfg.print_result).map_err(StartError)?;
    listening::bind(js::state::take_listeners(), cfg.reuse_port)
}
