use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
use weir::cli::{self, Target};
use weir::js::script::Script;
use weir::worker::{self, Command, WorkerConfig};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let opts = match cli::parse(&args[1..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("weir: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(255);
        }
    };
    if opts.help {
        print!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    if opts.version {
        println!("weir {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let log_file = match open_log_file(&opts) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("weir: {e}");
            return ExitCode::FAILURE;
        }
    };
    weir::log::init(opts.log_level.clone(), log_file);
    // One log line per panic, with where it happened; the task or connection it hit is ended
    // by whoever caught it.
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        tracing::error!(target: "panic", "{} {info}", thread.name().unwrap_or("main"));
    }));
    match weir::open_files::raise(opts.max_open_files) {
        Ok(r) if r.now != r.was => {
            tracing::info!(target: "limits", "open files: soft limit {} -> {} (hard {})", r.was, r.now, r.hard)
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(target: "limits", "open files: cannot set the soft limit: {e}"),
    }
    let budget = match opts.max_buffer {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => weir::engine::budget::default_max(),
    };
    weir::engine::budget::BUDGET.set_max(budget);
    if budget != usize::MAX {
        tracing::info!(target: "limits", "buffer budget: {} MiB", budget >> 20);
    }
    let (path, source) = match &opts.target {
        Some(Target::File(f)) => match std::fs::read_to_string(f) {
            Ok(s) => (std::path::absolute(f).unwrap_or_else(|_| f.into()), s),
            Err(e) => {
                eprintln!("weir: cannot read script {f}: {e}");
                return ExitCode::from(255);
            }
        },
        Some(Target::Eval(e)) => (std::env::current_dir().unwrap_or_default().join("<eval>"), e.clone()),
        None => {
            eprintln!("weir: no script given\n\n{}", cli::USAGE);
            return ExitCode::from(255);
        }
    };
    if let Some(addr) = opts.admin_port {
        match weir::admin::start(addr, path.display().to_string()) {
            Ok(bound) => tracing::info!(target: "admin", "Admin service started on {bound}"),
            Err(e) => {
                eprintln!("weir: cannot listen on the admin port {addr}: {e}");
                return ExitCode::from(255);
            }
        }
    }
    let script = Arc::new(weir::js::script::prepare(path, &source));
    let mut argv = vec![args[0].clone()];
    argv.extend(opts.script_args.iter().cloned());

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let eval = matches!(opts.target, Some(Target::Eval(_)));
    let run_opts = RunOptions { threads: opts.threads, reuse_port: opts.reuse_port, drain_timeout: opts.drain_timeout };
    rt.block_on(run(run_opts, script, argv, eval, opts.watch))
}

/// What the workers are started with, besides the script.
struct RunOptions {
    threads: usize,
    reuse_port: bool,
    drain_timeout: Duration,
}

async fn run(o: RunOptions, script: Arc<Script>, argv: Vec<String>, eval: bool, watch: bool) -> ExitCode {
    let (Ok(mut sigint), Ok(mut sigterm)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        eprintln!("weir: cannot install signal handlers");
        return ExitCode::from(255);
    };
    let Ok(mut reloads) = weir::reloads::Reloads::new(Some(script.path.clone()).filter(|_| !eval), watch) else {
        eprintln!("weir: cannot install signal handlers");
        return ExitCode::from(255);
    };
    let (exit_tx, mut exit_rx) = tokio::sync::mpsc::unbounded_channel();
    weir::set_exit_channel(exit_tx);
    let (cmd_tx, cmd_rx) = watch::channel(Command::Run);
    let threads = o.threads;
    let config = |id| worker_config(&o, &script, &argv, &cmd_rx, id, eval && id == 0);
    let Workers { handles: workers, mut done_rx, mut ready_rx } = spawn_workers(threads, config);

    // Signals are heard while the workers still load the script, too: a script that never
    // finishes loading can still be stopped by a second signal.
    let (mut stopping, mut start_failed, mut failed) = (false, false, false);
    // Workers still running, and still loading the script.
    let (mut running, mut starting) = (threads, threads);
    loop {
        tokio::select! {
            // In this order: a worker says why it could not start before it says it is done,
            // and that reason must be heard before the last one done decides the exit code.
            biased;
            // SIGTERM stops gracefully too, unlike Pipy, so that exit callbacks (which
            // detach eBPF programs in the samples) run under service managers.
            _ = async { tokio::select! { _ = sigint.recv() => {}, _ = sigterm.recv() => {} } } => {
                if stopping {
                    force_stop();
                }
                stopping = true;
                weir::admin::set_ready(false);
                tracing::info!(target: "shutdown", "Shutting down...");
                let _ = cmd_tx.send(Command::Stop);
            }
            Some(code) = exit_rx.recv() => force_exit(code),
            script = reloads.next(), if !stopping => {
                let _ = cmd_tx.send(Command::Reload(script));
            }
            Some(started) = ready_rx.recv() => match started {
                Ok(()) => {
                    starting -= 1;
                    weir::admin::set_ready(starting == 0 && !stopping);
                }
                Err(e) => {
                    eprintln!("{}", e.0);
                    // Workers that did start run their exit callbacks (they may have
                    // attached something); all of them must be gone before the exit.
                    start_failed = true;
                    let _ = cmd_tx.send(Command::Stop);
                }
            },
            d = done_rx.recv() => {
                if d == Some(false) && !failed {
                    // The others stop too: a process that lost a worker should be seen,
                    // and restarted, rather than serve on with less.
                    failed = true;
                    tracing::error!(target: "shutdown", "a worker thread died: shutting down");
                    let _ = cmd_tx.send(Command::Stop);
                }
                if d.is_some() { running -= 1; }
                if running == 0 || d.is_none() {
                    join(workers).await;
                    return exit_code(start_failed, failed);
                }
            }
        }
    }
}

fn worker_config(
    o: &RunOptions,
    script: &Arc<Script>,
    argv: &[String],
    commands: &watch::Receiver<Command>,
    id: usize,
    print_result: bool,
) -> WorkerConfig {
    WorkerConfig {
        script: script.clone(),
        id,
        concurrency: o.threads,
        reuse_port: o.reuse_port || o.threads > 1,
        argv: argv.to_vec(),
        commands: commands.clone(),
        drain_timeout: o.drain_timeout,
        print_result,
    }
}

/// 255 when the script could not start (as for a script error), 1 when a worker died.
fn exit_code(start_failed: bool, failed: bool) -> ExitCode {
    match (start_failed, failed) {
        (true, _) => ExitCode::from(255),
        (_, true) => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    }
}

/// The worker threads, what each says once it started (or could not), and whether each
/// ended normally.
struct Workers {
    handles: Vec<std::thread::JoinHandle<()>>,
    done_rx: UnboundedReceiver<bool>,
    ready_rx: UnboundedReceiver<Result<(), worker::StartError>>,
}

fn spawn_workers(threads: usize, config: impl Fn(usize) -> WorkerConfig) -> Workers {
    // Each worker says whether it ended normally: a panic that killed one is a failure.
    let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let (ready_tx, ready_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut handles = Vec::new();
    for id in 0..threads {
        let tx = ready_tx.clone();
        let cfg = config(id);
        let done = done_tx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("weir-worker-{id}"))
            .spawn(move || {
                let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker::run(cfg, tx))).is_ok();
                let _ = done.send(ok);
            })
            .expect("spawn worker thread");
        handles.push(handle);
    }
    Workers { handles, done_rx, ready_rx }
}

/// Waits until every worker thread is gone, thread-local destructors included: exiting
/// while a worker still tears down its JS heap corrupts memory at exit.
async fn join(workers: Vec<std::thread::JoinHandle<()>>) {
    let _ = tokio::task::spawn_blocking(move || workers.into_iter().for_each(|w| drop(w.join()))).await;
}

/// A second signal: exits at once, exit callbacks not awaited.
fn force_stop() -> ! {
    tracing::info!(target: "shutdown", "Forcing to shut down...");
    force_exit(0)
}

/// Exits now, with workers still running: `_exit` skips the process-wide destructors that
/// would race with them.
fn force_exit(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit ends the process at once; nothing runs after it.
    unsafe { libc::_exit(code) }
}

/// `--log-file`, opened before anything runs: a path that cannot be written stops the start.
fn open_log_file(opts: &cli::Options) -> Result<Option<weir::log_file::LogFile>, String> {
    match &opts.log_file {
        None => Ok(None),
        Some((path, _)) if path.is_empty() => Err("--log-file-* options need --log-file".into()),
        Some((path, rotation)) => weir::log_file::LogFile::open(std::path::Path::new(path), rotation.clone())
            .map(Some)
            .map_err(|e| format!("--log-file {path}: {e}")),
    }
}
