//! Worker threads. Each has its own tokio current-thread runtime, Boa context and copy of
//! the script; listeners share their ports with SO_REUSEPORT.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use boa_engine::{JsObject, Source};
use tokio::sync::watch;

use crate::engine::Context;
use crate::js;

mod serve;
mod stop;
mod udp;
use crate::net::listener::{self, ListenSpec, Transport};

pub use stop::run_exit_callbacks;

/// What the main thread tells the workers.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Command {
    Run,
    /// Stop accepting, run the `pipy.exit` callbacks, drain, finish.
    Stop,
}

pub struct Script {
    pub path: PathBuf,
    /// The source as it runs (see `js::vars::prepare`).
    pub source: String,
    pub dollar_names: Vec<String>,
    /// Whether the script had to be wrapped in a function for a top-level `return`.
    pub wrapped: bool,
    /// Whether it is an ES module (it has `import` or `export`).
    pub module: bool,
}

pub struct WorkerConfig {
    pub script: Arc<Script>,
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

/// Per-worker state that the script's native functions reach.
#[derive(Default)]
pub struct State {
    pub script_path: PathBuf,
    pub script_dir: PathBuf,
    pub thread_id: usize,
    pub concurrency: usize,
    pub argv: Vec<String>,
    pub listeners: Vec<ListenSpec>,
    pub exit_callbacks: Vec<JsObject>,
    pub started: Option<std::time::Instant>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    static ACTIVE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

pub fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
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
    let root = root();
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
            let idle_timeout = Some(spec.idle_timeout).filter(|d| !d.is_zero()).unwrap_or(crate::options::FOREVER);
            let opts = Rc::new(serve::ServeOptions { idle_timeout });
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
    udp_stops.iter().for_each(|s| s.notify_one());
    local.run_until(stop::shutdown(accept, cfg.drain_timeout)).await;
}

enum Bound {
    Tcp(tokio::net::TcpListener),
    Udp(tokio::net::UdpSocket),
}

type Opened = Vec<(Bound, Rc<ListenSpec>)>;

/// Evaluates the script and opens its listeners.
fn start(cfg: &WorkerConfig) -> Result<Opened, StartError> {
    let script = &cfg.script;
    with_state(|s| {
        s.script_path = script.path.clone();
        s.script_dir = script.path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        s.thread_id = cfg.id;
        s.concurrency = cfg.concurrency;
        s.argv = cfg.argv.clone();
        s.started = Some(std::time::Instant::now());
    });
    let name = script.path.display().to_string();
    let mut ctx = js::new_context().map_err(|e| StartError(format!("cannot set up the JS host: {e}")))?;
    js::vars::define(&script.dollar_names, &mut ctx).map_err(|e| StartError(format!("{name}: {e}")))?;
    let root = Context::root();
    let result = js::in_context(&root, || {
        if script.module {
            return js::modules::run_main(&script.path, &script.source, &mut ctx).map_err(|e| match e {
                js::modules::Failure::Load(m) => Err(m),
                js::modules::Failure::Throw(e) => Ok(js::describe(&e, &mut ctx)),
            });
        }
        let r = ctx.eval(Source::from_bytes(script.source.as_bytes()).with_path(&script.path));
        let r = r.and_then(|v| ctx.run_jobs().map(|_| v));
        r.map_err(|e| Ok(js::describe(&e, &mut ctx)))
    });
    let result = result.and_then(|v| js::configuration::check_imports().map(|_| v).map_err(Err));
    match result {
        // Already names the file and line.
        Err(Err(e)) => return Err(StartError(e)),
        Err(Ok(e)) => {
            return Err(StartError(format_script_error(&name, &e, script.wrapped, script.source.lines().count())));
        }
        Ok(v) if cfg.print_result && !v.is_undefined() => {
            let text = match v.as_string() {
                Some(s) => s.to_std_string_escaped(),
                None => js::print::format_args(&[v], &mut ctx).unwrap_or_default(),
            };
            crate::log::write_stdout(format!("{text}\n").as_bytes());
        }
        Ok(v) => js::configuration::apply(&v).map_err(|e| StartError(format!("{name}: {e}")))?,
    }
    js::install(Rc::new(RefCell::new(ctx)));
    ROOT.with(|r| *r.borrow_mut() = Some(root));

    let specs = with_state(|s| std::mem::take(&mut s.listeners));
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

thread_local! {
    static ROOT: RefCell<Option<Rc<Context>>> = const { RefCell::new(None) };
}

/// The worker's root context: what every new connection's `$` values are copied from.
pub fn root() -> Rc<Context> {
    ROOT.with(|r| r.borrow().clone()).unwrap_or_else(Context::root)
}

/// What a script with a top-level `return` is wrapped in (PipyJS allows that return).
pub const WRAP_PREFIX: &str = "(function(){";
pub const WRAP_SUFFIX: &str = "\n})()";

/// `main.js:3:7: SyntaxError: ...` from Boa's message, whose shape varies by error kind.
fn format_script_error(name: &str, message: &str, wrapped: bool, source_lines: usize) -> String {
    let re_line = |m: &str| -> Option<(usize, usize)> {
        let at = m.rfind("line ")?;
        let rest = &m[at + 5..];
        let line: usize = rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
        let col = rest.find("col").and_then(|c| {
            rest[c..]
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        });
        Some((line, col.unwrap_or(1)))
    };
    let loc = re_line(message).or_else(|| {
        // Runtime errors carry `at ... (file:line:col)` in their stack.
        let idx = message.find(&format!("{name}:"))?;
        let mut parts = message[idx + name.len() + 1..].split(|c: char| !c.is_ascii_digit());
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    });
    let first = message.lines().next().unwrap_or(message);
    // Already placed in another file (a plugin's syntax error): keep that place.
    if let Some(placed) = first.strip_prefix("Error: ").filter(|m| m.starts_with('/') && first_frame_like(m)) {
        return placed.to_string();
    }
    // Thrown in another module: its first stack frame says where.
    if let Some((file, line, col)) = first_frame(message).filter(|(file, _, _)| *file != name) {
        return format!("{file}:{line}:{col}: {first}");
    }
    // Boa gives no position for a script that ends too early: that is its last line.
    let loc = loc.or_else(|| first.contains("abrupt end").then_some((source_lines, 1)));
    match loc {
        Some((line, col)) => {
            // The wrapper `(function(){` shares the first line, so only its columns move.
            let col = if wrapped && line == 1 { col.saturating_sub(WRAP_PREFIX.len()).max(1) } else { col };
            format!("{name}:{line}:{col}: {first}")
        }
        None => format!("{name}: {first}"),
    }
}

/// `(file, line, column)` of the innermost `at f (file:line:col)` frame of a stack.
fn first_frame(message: &str) -> Option<(&str, usize, usize)> {
    message.lines().filter(|l| l.trim_start().starts_with("at ")).find_map(|l| {
        let inner = l.trim_end().strip_suffix(')')?;
        let inner = &inner[inner.rfind('(')? + 1..];
        let mut parts = inner.rsplitn(3, ':');
        let col = parts.next()?.parse().ok()?;
        let line = parts.next()?.parse().ok()?;
        Some((parts.next()?, line, col))
    })
}

/// Whether `message` starts with `path:line:col: `.
fn first_frame_like(message: &str) -> bool {
    let mut parts = message.splitn(4, ':');
    let (_, line, col) = (parts.next(), parts.next(), parts.next());
    [line, col].iter().all(|p| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        && parts.next().is_some_and(|rest| rest.starts_with(' '))
}
