//! `wait(condition, { timeout })`: holds the stream until `condition()` is truthy (or a
//! Promise it returned resolves), asking again at each event that arrives while it holds,
//! or until `timeout` passed. Then the held events and all after them pass on. A rejected
//! Promise ends the stream with its error. What waits counts on the gauge the readers
//! pause at.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use boa_engine::JsResult;
use tokio::task::AbortHandle;

use super::Made;
use super::held::Held;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Output, Pass, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let condition = args.function(0, "a condition function")?;
    let timeout = args.options(1).duration("timeout")?.filter(|t| !t.is_zero());
    Ok(Made::Filter(Box::new(Spec { condition, timeout })))
}

struct Spec {
    condition: Callback,
    timeout: Option<Duration>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "wait"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Wait {
            condition: self.condition.clone(),
            timeout: self.timeout,
            held: Held::new(env.context.clone()),
            env,
            state: Rc::new(Cell::new(State::Asking)),
            timer: None,
        })
    }
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Asking,
    /// A Promise from `condition` is pending.
    Promised,
    /// The Promise resolved or the timeout passed: `wake` lets the stream go.
    Due,
    Fulfilled,
    Failed,
}

struct Wait {
    condition: Callback,
    timeout: Option<Duration>,
    env: FilterEnv,
    held: Rc<Held>,
    state: Rc<Cell<State>>,
    timer: Option<AbortHandle>,
}

impl Wait {
    /// Asks `condition`: `Some(true)` to go on now, `Some(false)` to hold, `None` when it
    /// failed (the stream ended).
    fn ask(&mut self, out: &mut Output<'_>) -> Option<bool> {
        let host = host();
        match host.call(&self.env.context, &self.condition, &[]) {
            Ok(v) if host.is_promise(&v) => {
                self.state.set(State::Promised);
                let (state, env) = (self.state.clone(), self.env.clone());
                let settled = move |r: Result<Value, String>| match r {
                    Ok(_) => {
                        if state.get() == State::Promised {
                            state.set(State::Due);
                            env.wake();
                        }
                    }
                    Err(e) => {
                        tracing::error!(target: "pipeline", "wait: {e}");
                        state.set(State::Failed);
                        env.emit(runtime_error(e));
                    }
                };
                host.on_settled(&v, &self.env.context, Box::new(settled));
                Some(self.state.get() == State::Due)
            }
            Ok(v) => Some(v.to_boolean()),
            Err(e) => {
                tracing::error!(target: "pipeline", "wait: {e}");
                self.state.set(State::Failed);
                out.emit(runtime_error(e));
                None
            }
        }
    }

    fn start_timer(&mut self, timeout: Duration) {
        let (env, state) = (self.env.clone(), self.state.clone());
        let task = tokio::task::spawn_local(async move {
            tokio::time::sleep(timeout).await;
            if matches!(state.get(), State::Asking | State::Promised) {
                state.set(State::Due);
                env.wake();
            }
        });
        self.timer = Some(task.abort_handle());
    }

    fn fulfill(&mut self, out: &mut Output<'_>) {
        self.state.set(State::Fulfilled);
        if let Some(t) = self.timer.take() {
            t.abort();
        }
        self.held.take().into_iter().for_each(|e| out.emit(e));
        self.held.resume();
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        if let Some(t) = self.timer.take() {
            t.abort();
        }
    }
}

impl Filter for Wait {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match self.state.get() {
            State::Fulfilled => return out.emit(evt),
            State::Failed => return,
            State::Asking => match self.ask(out) {
                Some(true) => {
                    self.fulfill(out);
                    return out.emit(evt);
                }
                Some(false) => {}
                None => return,
            },
            State::Promised | State::Due => {}
        }
        if !self.held.waiting() {
            self.held.wait(None);
            if let (Some(t), None) = (self.timeout, &self.timer) {
                self.start_timer(t);
            }
        }
        self.held.push(evt);
        if self.state.get() == State::Due {
            self.fulfill(out);
        }
    }

    fn pass(&self) -> Pass {
        if self.state.get() == State::Fulfilled { Pass::Through(u64::MAX) } else { Pass::No }
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        if self.state.get() == State::Due {
            self.fulfill(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    #[test]
    fn the_stream_waits_until_the_condition_holds_asked_at_each_event() {
        let stub = StubHost::install();
        stub.returns.borrow_mut().extend([Value::from(false), Value::from(false), Value::from(true)]);
        let spec = Spec { condition: StubHost::callback(), timeout: None };
        let input = [&b"a"[..], b"b", b"c", b"d"].map(|b| Event::Data(Bytes::from_static(b)));
        let out = stub::run(vec![Box::new(spec)], input.into());
        assert_eq!(out, ["Data a", "Data b", "Data c", "Data d"]);
        assert_eq!(*stub.log.borrow(), ["call/0", "call/0", "call/0"]);
    }

    #[test]
    fn a_condition_never_true_holds_everything() {
        StubHost::install();
        let spec = Spec { condition: StubHost::callback(), timeout: None };
        let out = stub::run(vec![Box::new(spec)], vec![Event::Data(Bytes::from_static(b"a")), Event::end()]);
        assert!(out.is_empty(), "{out:?}");
    }
}
