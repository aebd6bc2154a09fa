//! How a worker stops: close the listeners, run the `pipy.exit` callbacks, let open
//! connections finish within the drain limit, and then clear the thread's script state in an
//! order that never leaves a script value behind the engine that owns it.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{ACTIVE, ROOT, STATE, State, root, with_state};
use crate::js;

/// Stops accepting, runs the exit callbacks and waits for open connections, all within
/// `drain` from now. What is still open or pending after that (connections, tasks, timers)
/// is cancelled when the worker drops its task set.
pub async fn shutdown(accept: Vec<JoinHandle<()>>, drain: Duration) {
    let deadline = Instant::now().checked_add(drain).unwrap_or_else(|| Instant::now() + crate::options::FOREVER);
    // Aborting cannot be missed the way a notification sent before anyone waits can; the
    // listening sockets close as the accept tasks are dropped.
    for a in &accept {
        a.abort();
    }
    for a in accept {
        let _ = a.await;
    }
    if tokio::time::timeout_at(deadline, run_exit_callbacks()).await.is_err() {
        tracing::warn!(target: "shutdown", "exit callbacks still pending after the drain limit ({drain:?})");
    }
    while open() > 0 && Instant::now() < deadline {
        tokio::time::sleep_until(deadline.min(Instant::now() + Duration::from_millis(10))).await;
    }
    if open() > 0 {
        tracing::info!(target: "shutdown", "closing {} connection(s) still open after the drain limit", open());
    }
}

fn open() -> usize {
    ACTIVE.with(|a| a.get())
}

/// Runs the `pipy.exit` callbacks in order, each in a fresh context, waiting for any
/// Promise they return. A throwing callback ends the sequence, as in Pipy.
pub async fn run_exit_callbacks() {
    let callbacks = with_state(|s| std::mem::take(&mut s.exit_callbacks));
    let mut pending = Vec::new();
    for f in callbacks {
        let context = root().copy(None);
        match js::call(&context, &f, &[]) {
            Ok(v) if js::promise::is_promise(&v) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                js::promise::on_settled(
                    &v,
                    &context,
                    Box::new(move |r| {
                        let _ = tx.send(r);
                    }),
                );
                pending.push(rx);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(target: "script", "exit callback: {e}");
                break;
            }
        }
    }
    for rx in pending {
        if let Ok(Err(e)) = rx.await {
            tracing::error!(target: "script", "exit callback: {e}");
        }
    }
}

/// Drops every script value this thread still holds, then the script engine, then what is
/// left of its heap. Thread-local destructors run in no defined order, so none of them may
/// be the one that drops a script value.
pub fn clear_thread_state() {
    crate::engine::host::uninstall();
    ROOT.with(|r| r.borrow_mut().take());
    let state = STATE.with(|s| std::mem::take(&mut *s.borrow_mut()));
    drop::<State>(state);
    js::uninstall();
}
