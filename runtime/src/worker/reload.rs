//! How a worker loads its script again: evaluate it beside the running one, open what it
//! listens on, and only then let it serve; the old script's exit callbacks run after, while
//! its open connections finish on its pipelines. A script that fails, or whose listeners
//! cannot be opened, leaves the old one serving as if nothing had happened. The log lines
//! are Pipy's.

use std::time::Duration;

use super::WorkerConfig;
use super::listening::{self, Listening};
use crate::js;
use crate::js::script::Script;

/// How long the new script has to start before the old one's exit callbacks run.
const HANDOVER: Duration = Duration::from_millis(20);

pub async fn run(script: &Script, listening: &mut Listening, cfg: &WorkerConfig) {
    tracing::info!(target: "restart", "Reloading codebase on thread {}...", cfg.id);
    let (specs, pending) = match js::reload::evaluate(script) {
        Ok(loaded) => loaded,
        Err(e) => return failed(cfg.id, &e),
    };
    let (new, kept) = listening.unopened(specs);
    let bound = match listening::bind(new, cfg.reuse_port) {
        Ok(bound) => bound,
        Err(e) => {
            js::reload::rollback(pending);
            return failed(cfg.id, &e.0);
        }
    };
    let retired = js::reload::commit(pending);
    listening.replace(kept, bound, &js::state::root());
    tracing::info!(target: "restart", "Codebase reloaded on thread {}", cfg.id);
    // Scripts start what needs their listeners open in a `new Timeout(0)` (the eBPF samples
    // attach their programs there): that runs first, so that what the old script's exit
    // callbacks withdraw has been taken over already (a program attached by both is
    // counted, and stays attached).
    tokio::time::sleep(HANDOVER).await;
    js::state::run_callbacks(retired.exit_callbacks, retired.root).await;
}

fn failed(thread: usize, why: &str) {
    tracing::error!(target: "restart", "{why}");
    tracing::error!(target: "restart", "Failed reloading codebase {thread}");
}
