//! Futures a connection's own task runs beside its pipeline: the sockets `connect` opens.
//!
//! A future that must outlive the filter that made it (an upstream socket still flushing
//! after the client's pipeline is gone) used to be a tokio task of its own. Hosted here,
//! it is polled by the inbound connection's task instead, which ends only when these have
//! ended too: one task per proxied connection, with the spawn, the task's scheduling and
//! its separate wake-ups gone (issue 24). Where no connection task hosts (a pipeline with
//! no inbound connection, or one whose connection has ended), [`spawn`] spawns a task as
//! before.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use tokio::task::AbortHandle;

pub type Boxed = Pin<Box<dyn Future<Output = ()>>>;

/// One future's waker: it marks that future woken, then wakes the connection's task. The
/// task polls only what was woken: polling all at every wake-up cost more than the task
/// switch it saves (each socket's reads, writes and idle timer polled again).
struct Slot {
    woken: AtomicBool,
    task: Waker,
}

impl Wake for Slot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Relaxed);
        self.task.wake_by_ref();
    }
}

/// A future's waker for the task `cx` wakes, made again if the task's waker changed.
#[derive(Default)]
struct SlotWaker(Option<(Arc<Slot>, Waker)>);

impl SlotWaker {
    /// Whether the future was woken since its last poll (or never polled, or the task's
    /// waker changed), and its waker; the mark is cleared.
    fn take(&mut self, cx: &Context<'_>) -> (bool, &Waker) {
        let fresh = !self.0.as_ref().is_some_and(|(s, _)| s.task.will_wake(cx.waker()));
        if fresh {
            let slot = Arc::new(Slot { woken: AtomicBool::new(false), task: cx.waker().clone() });
            self.0 = Some((slot.clone(), Waker::from(slot)));
        }
        let (slot, waker) = self.0.as_ref().expect("made above");
        (slot.woken.swap(false, Ordering::Relaxed) || fresh, waker)
    }
}

struct Hosted {
    /// `None` while it is being polled.
    future: Option<Boxed>,
    waker: SlotWaker,
    stop: Rc<Cell<bool>>,
}

/// The futures one connection's task runs besides its own.
#[derive(Default)]
pub struct Tasks {
    list: RefCell<Vec<Hosted>>,
    /// The connection task's, to be woken for a future added or stopped from elsewhere.
    waker: RefCell<Option<Waker>>,
    /// The host is polling: a future added now is polled before it waits.
    polling: Cell<bool>,
}

/// Stops a future however it runs.
#[derive(Clone)]
pub enum Handle {
    Spawned(AbortHandle),
    Hosted(Rc<Cell<bool>>, Weak<Tasks>),
}

impl Handle {
    /// The future is dropped (before its next poll), and with it what it holds.
    pub fn abort(&self) {
        match self {
            Handle::Spawned(h) => h.abort(),
            Handle::Hosted(stop, tasks) => {
                stop.set(true);
                if let Some(t) = tasks.upgrade() {
                    t.wake();
                }
            }
        }
    }
}

/// Runs `future` in the task of the connection `host` names, or as a task of its own when
/// there is none. Boxed by the caller: a future of kilobytes is then made in its box, not
/// moved there (and tokio moves a task's future as it is made and as it ends).
pub fn spawn(host: Option<Rc<Tasks>>, future: Boxed) -> Handle {
    match host {
        Some(tasks) => {
            let stop = Rc::new(Cell::new(false));
            let hosted = Hosted { future: Some(future), waker: SlotWaker::default(), stop: stop.clone() };
            tasks.list.borrow_mut().push(hosted);
            // Added while the host polls its pipeline (the usual case), it is polled in the
            // same turn; from elsewhere, the host is woken for it.
            if !tasks.polling.get() {
                tasks.wake();
            }
            Handle::Hosted(stop, Rc::downgrade(&tasks))
        }
        None => Handle::Spawned(tokio::task::spawn_local(future).abort_handle()),
    }
}

impl Tasks {
    fn wake(&self) {
        if let Some(w) = self.waker.borrow().as_ref() {
            w.wake_by_ref();
        }
    }

    /// Polls the hosted futures woken since their last poll (those added meanwhile too) and
    /// drops the stopped ones; ready when none is left. A future that panics is dropped,
    /// with a log line, and the others go on.
    fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut w = self.waker.borrow_mut();
            if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *w = Some(cx.waker().clone());
            }
        }
        let mut i = 0;
        let mut finished = false;
        loop {
            let (mut future, mut slot, stop) = {
                let mut list = self.list.borrow_mut();
                let Some(h) = list.get_mut(i) else { break };
                (h.future.take(), std::mem::take(&mut h.waker), h.stop.clone())
            };
            i += 1;
            let Some(f) = future.as_mut() else { continue };
            let (woken, waker) = slot.take(cx);
            let done = stop.get() || (woken && poll_caught(f.as_mut(), waker));
            if done || stop.get() {
                finished = true;
                // Dropped with no borrow held: what it holds may stop other hosted futures.
                drop(future);
            } else {
                let mut list = self.list.borrow_mut();
                list[i - 1].future = future;
                list[i - 1].waker = slot;
            }
        }
        if finished {
            self.list.borrow_mut().retain(|h| h.future.is_some());
        }
        if self.list.borrow().is_empty() { Poll::Ready(()) } else { Poll::Pending }
    }
}

/// Polls `f` with `waker`; a panic ends it (true), as if it were done.
fn poll_caught(f: Pin<&mut (dyn Future<Output = ()> + 'static)>, waker: &Waker) -> bool {
    let mut cx = Context::from_waker(waker);
    match std::panic::catch_unwind(AssertUnwindSafe(|| f.poll(&mut cx))) {
        Ok(p) => p.is_ready(),
        Err(panic) => {
            let what = panic.downcast_ref::<&str>().copied().unwrap_or("a panic");
            tracing::error!(target: "outbound", "a connection's task ended after an internal error: {what}");
            true
        }
    }
}

/// Runs `main` and the futures `tasks` hosts together; ends when all have. Each is polled
/// only when it was woken.
pub async fn run_with(main: impl Future<Output = ()>, tasks: &Tasks) {
    let mut main = std::pin::pin!(main);
    let mut main_done = false;
    let mut slot = SlotWaker::default();
    std::future::poll_fn(|cx| {
        tasks.polling.set(true);
        if !main_done {
            let (woken, waker) = slot.take(cx);
            if woken {
                main_done = main.as_mut().poll(&mut Context::from_waker(waker)).is_ready();
            }
        }
        let polled = tasks.poll(cx);
        tasks.polling.set(false);
        match polled {
            Poll::Ready(()) if main_done => Poll::Ready(()),
            _ => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::{Tasks, run_with, spawn};

    fn local<F: std::future::Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        tokio::task::LocalSet::new().block_on(&rt, f)
    }

    #[test]
    fn hosted_futures_run_in_the_hosts_task_and_it_waits_for_them() {
        local(async {
            let tasks = Rc::new(Tasks::default());
            let done = Rc::new(Cell::new(0));
            let (d, t) = (done.clone(), tasks.clone());
            run_with(
                async move {
                    let d2 = d.clone();
                    spawn(
                        Some(t.clone()),
                        Box::pin(async move {
                            // Outlives `main`, as a socket flushing after its pipeline went.
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            d2.set(d2.get() + 1);
                        }),
                    );
                    d.set(d.get() + 10);
                },
                &tasks,
            )
            .await;
            assert_eq!(done.get(), 11);
            assert!(tasks.list.borrow().is_empty());
        });
    }

    #[test]
    fn an_aborted_hosted_future_is_dropped_and_a_panic_ends_only_its_own() {
        local(async {
            let tasks = Rc::new(Tasks::default());
            let dropped = Rc::new(Cell::new(false));
            struct Flag(Rc<Cell<bool>>);
            impl Drop for Flag {
                fn drop(&mut self) {
                    self.0.set(true);
                }
            }
            let flag = Flag(dropped.clone());
            let h = spawn(
                Some(tasks.clone()),
                Box::pin(async move {
                    let _f = flag;
                    std::future::pending::<()>().await
                }),
            );
            spawn(Some(tasks.clone()), Box::pin(async { panic!("boom") }));
            let ran = Rc::new(Cell::new(false));
            let r = ran.clone();
            spawn(Some(tasks.clone()), Box::pin(async move { r.set(true) }));
            let t = tasks.clone();
            run_with(
                async move {
                    tokio::task::yield_now().await;
                    h.abort();
                    let _ = &t;
                },
                &tasks,
            )
            .await;
            assert!(dropped.get() && ran.get());
        });
    }

    #[test]
    fn without_a_host_a_task_is_spawned() {
        local(async {
            let ran = Rc::new(Cell::new(false));
            let r = ran.clone();
            spawn(None, Box::pin(async move { r.set(true) }));
            tokio::task::yield_now().await;
            assert!(ran.get());
        });
    }
}
