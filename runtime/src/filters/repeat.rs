//! `repeat(condition).to(sub)`: the input goes into the sub-pipeline, whose output is this
//! filter's output, until the sub-pipeline's output ends. Then `condition(streamEnd)` (or
//! the promise it returns) decides: truthy runs a new sub-pipeline on the same input again
//! (what came so far at once, then what follows), falsy passes the `StreamEnd` on and ends.
//!
//! The input is kept for the next run; more than [`LIMIT`] bytes of it ends the stream
//! with `StreamEnd('BufferOverflow')` (Pipy keeps it all). A new run starts from its own task,
//! as Pipy's does, never inside the run that just ended.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use boa_engine::JsResult;

use super::Made;
use super::kept_input::{KeptInput, LIMIT};
use crate::args::Args;
use crate::engine::{Callback, Event, EventSink, Filter, FilterEnv, FilterSpec, Layout, Output, Pipeline, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let condition = args.function(0, "a condition function")?;
    Ok(Made::Joint(Box::new(move |sub| Box::new(Spec { condition, sub }))))
}

struct Spec {
    condition: Callback,
    sub: Rc<Layout>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "repeat"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let state = State {
            condition: self.condition.clone(),
            layout: self.sub.clone(),
            env,
            input: KeptInput::default(),
            run: RefCell::new(None),
            feeding: Cell::new(false),
            collected: RefCell::default(),
            ended: Cell::new(false),
        };
        Box::new(Repeat(Rc::new(state)))
    }
}

struct State {
    condition: Callback,
    layout: Rc<Layout>,
    env: FilterEnv,
    /// Every input event so far, for the next run.
    input: KeptInput,
    run: RefCell<Option<Pipeline>>,
    /// The filter is feeding the run: its output is collected, to go out after the input.
    feeding: Cell<bool>,
    collected: RefCell<VecDeque<Event>>,
    ended: Cell<bool>,
}

/// Where a run's output goes.
struct RunSink(Weak<State>);

impl EventSink for RunSink {
    fn on_event(&self, evt: Event) {
        let Some(state) = self.0.upgrade() else { return };
        if state.ended.get() {
            return;
        }
        if evt.is_stream_end() {
            let weak = self.0.clone();
            tokio::task::spawn_local(async move { decide(weak, evt) });
        } else if state.feeding.get() {
            state.collected.borrow_mut().push_back(evt);
        } else {
            state.env.emit(evt);
        }
    }
}

impl State {
    fn start_run(self: &Rc<Self>) {
        let p = Pipeline::new(self.layout.clone(), self.env.context.clone(), Rc::new(RunSink(Rc::downgrade(self))));
        p.start(&[]);
        *self.run.borrow_mut() = Some(p);
    }

    fn end(&self, evt: Event) {
        self.ended.set(true);
        self.input.clear();
        self.run.borrow_mut().take();
        self.env.emit(evt);
    }
}

/// A run ended with `evt`: asks the condition whether to run again.
fn decide(weak: Weak<State>, evt: Event) {
    let Some(state) = weak.upgrade() else { return };
    let h = host();
    let answer = h.event_value(&evt).and_then(|v| h.call(&state.env.context, &state.condition, &[v]));
    match answer {
        Ok(v) if h.is_promise(&v) => {
            let done = move |r: Result<crate::engine::Value, String>| match r {
                Ok(v) => again(&weak, v.to_boolean(), evt),
                Err(e) => fail(&weak, e),
            };
            h.on_settled(&v, &state.env.context, Box::new(done));
        }
        Ok(v) => again(&weak, v.to_boolean(), evt),
        Err(e) => fail(&weak, e),
    }
}

fn fail(weak: &Weak<State>, e: String) {
    tracing::error!(target: "pipeline", "repeat: {e}");
    if let Some(state) = weak.upgrade() {
        state.end(crate::engine::host::runtime_error(e));
    }
}

/// Runs the sub-pipeline again on the input so far, or passes its end on.
fn again(weak: &Weak<State>, yes: bool, evt: Event) {
    let Some(state) = weak.upgrade() else { return };
    if state.ended.get() {
        return;
    }
    if !yes {
        return state.end(evt);
    }
    state.start_run();
    state.input.feed(&state.run);
}

struct Repeat(Rc<State>);

impl Filter for Repeat {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let state = &self.0;
        if state.ended.get() {
            return;
        }
        if !state.input.keep(&evt) {
            tracing::error!(target: "pipeline", "repeat: input over {LIMIT} bytes");
            state.ended.set(true);
            state.run.borrow_mut().take();
            return out.emit(Event::error("BufferOverflow"));
        }
        state.feeding.set(true);
        if state.run.borrow().is_none() {
            state.start_run();
        }
        if let Some(p) = state.run.borrow().as_ref() {
            p.input(evt);
        }
        state.feeding.set(false);
        let collected: Vec<Event> = state.collected.borrow_mut().drain(..).collect();
        collected.into_iter().for_each(|e| out.emit(e));
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    #[test]
    fn input_over_the_limit_ends_the_stream() {
        StubHost::install();
        let spec = Spec { condition: StubHost::callback(), sub: stub::layout(vec![]) };
        let input = vec![Event::Data(Bytes::from(vec![b'x'; LIMIT])), Event::Data(Bytes::from_static(b"y"))];
        let out = stub::run(vec![Box::new(spec)], input);
        // The first piece went through the (empty) sub-pipeline; the one past the limit ended it.
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], "StreamEnd error");
    }
}
