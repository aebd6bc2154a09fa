//! How a worker stops: run the `pipy.exit` callbacks while the listeners still accept, close
//! the listeners, let open connections finish within the drain limit, and then clear the
//! thread's script state in an order that never leaves a script value behind the engine that
//! owns it.

use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::ACTIVE;
use crate::engine::busy;
use crate::js;

/// Runs the exit callbacks, stops accepting (TCP accept loops in `accept`, UDP listeners told
/// through `udp`) and waits for open connections, all within `drain` from now. What is still
/// open or pending after that (connections, tasks, timers) is cancelled when the worker drops
/// its task set.
pub async fn shutdown(accept: Vec<JoinHandle<()>>, udp: Vec<Rc<Notify>>, drain: Duration) {
    let deadline = Instant::now().checked_add(drain).unwrap_or_else(|| Instant::now() + crate::options::FOREVER);
    // The callbacks run first, while the listeners still accept: a script that sends traffic
    // here (a cgroup program redirecting connects, a registration elsewhere) withdraws it
    // before the port closes, and what was already on its way is still accepted.
    if tokio::time::timeout_at(deadline, js::state::run_exit_callbacks()).await.is_err() {
        tracing::warn!(target: "shutdown", "exit callbacks still pending after the drain limit ({drain:?})");
    }
    settle(deadline).await;
    udp.iter().for_each(|s| s.notify_one());
    // Aborting cannot be missed the way a notification sent before anyone waits can; the
    // listening sockets close as the accept tasks are dropped.
    for a in &accept {
        a.abort();
    }
    for a in accept {
        let _ = a.await;
    }
    while open() > 0 && Instant::now() < deadline {
        tokio::time::sleep_until(deadline.min(Instant::now() + Duration::from_millis(10))).await;
    }
    if open() > 0 {
        tracing::info!(target: "shutdown", "closing {} connection(s) still open after the drain limit", open());
    }
}

/// Lets what the exit callbacks set going run (a promise they resolved for a pipeline that
/// sends a netlink request, as Pipy's load-balancer sample detaches XDP), until nothing is
/// under way (`engine::busy`) or `deadline`.
async fn settle(deadline: Instant) {
    loop {
        // Other tasks on this thread run first.
        tokio::task::yield_now().await;
        if busy::count() == 0 {
            return;
        }
        if Instant::now() >= deadline {
            return tracing::warn!(target: "shutdown", "work the exit callbacks started still under way at the drain limit");
        }
        tokio::time::sleep_until(deadline.min(Instant::now() + Duration::from_millis(1))).await;
    }
}

fn open() -> usize {
    ACTIVE.with(|a| a.get())
}

/// Drops every script value this thread still holds, then the script engine, then what is
/// left of its heap. Thread-local destructors run in no defined order, so none of them may
/// be the one that drops a script value.
pub fn clear_thread_state() {
    crate::engine::host::uninstall();
    js::state::clear();
    js::uninstall();
}
