//! `replay({ delay }).to(sub)` (Pipy's legacy configuration): the input goes into the
//! sub-pipeline, whose output is this filter's output, and is kept. When the sub-pipeline
//! outputs `StreamEnd('Replay')`, that end goes no further: after `delay` (seconds or a
//! string with a unit, or a function returning one; none by default) a new sub-pipeline is
//! fed all the input so far, then what follows. The old sub-pipeline's later output is
//! dropped.
//!
//! The input is kept for the next replay; more than [`LIMIT`] bytes of it ends the
//! stream with `StreamEnd('BufferOverflow')` (Pipy keeps it all).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use boa_engine::JsResult;

use super::Made;
use super::kept_input::{KeptInput, LIMIT};
use crate::args::Args;
use crate::engine::event::StreamError;
use crate::engine::{Callback, Event, EventSink, Filter, FilterEnv, FilterSpec, Layout, Output, Pipeline, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let mut options = args.options(0);
    let delay = match options.value("delay")?.and_then(|v| v.as_callable()) {
        Some(f) => Delay::Dynamic(f),
        None => Delay::Fixed(options.duration("delay")?.unwrap_or_default()),
    };
    Ok(Made::Joint(Box::new(move |sub| Box::new(Spec { delay, sub }))))
}

#[derive(Clone)]
enum Delay {
    Fixed(Duration),
    Dynamic(Callback),
}

struct Spec {
    delay: Delay,
    sub: Rc<Layout>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let state = State {
            delay: self.delay.clone(),
            layout: self.sub.clone(),
            env,
            input: KeptInput::default(),
            run: RefCell::new(None),
            runs: Cell::new(0),
            scheduled: Cell::new(false),
            ended: Cell::new(false),
        };
        Box::new(Replay(Rc::new(state)))
    }
}

struct State {
    delay: Delay,
    layout: Rc<Layout>,
    env: FilterEnv,
    /// Every input event so far, for the next run.
    input: KeptInput,
    run: RefCell<Option<Pipeline>>,
    /// Which run is current: output of an older one is dropped.
    runs: Cell<u64>,
    scheduled: Cell<bool>,
    ended: Cell<bool>,
}

/// Where run number `.1`'s output goes.
struct RunSink(Weak<State>, u64);

impl EventSink for RunSink {
    fn on_event(&self, evt: Event) {
        let Some(state) = self.0.upgrade() else { return };
        if state.ended.get() || state.runs.get() != self.1 || state.scheduled.get() {
            return;
        }
        if let Event::StreamEnd(Some(StreamError::Code("Replay"))) = evt {
            return state.schedule();
        }
        state.env.emit(evt);
    }
}

impl State {
    fn start_run(self: &Rc<Self>) {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let sink = Rc::new(RunSink(Rc::downgrade(self), n));
        let p = Pipeline::chained(self.layout.clone(), self.env.context.clone(), sink, self.env.chain.clone());
        p.start(&[]);
        *self.run.borrow_mut() = Some(p);
    }

    fn delay(&self) -> Result<Duration, String> {
        match &self.delay {
            Delay::Fixed(d) => Ok(*d),
            Delay::Dynamic(f) => {
                let v = host().call(&self.env.context, f, &[])?;
                let d = match (v.as_number(), v.as_string()) {
                    (Some(n), _) => Some(crate::options::seconds(n.max(0.0))),
                    (_, Some(s)) => crate::options::parse_duration(&s.to_std_string_escaped()),
                    _ => None,
                };
                d.ok_or_else(|| format!("delay is not a duration: {}", v.display()))
            }
        }
    }

    /// The run asked for a replay: a new run gets the input after the delay, from a timer
    /// of its own (never inside the run that asked).
    fn schedule(self: &Rc<Self>) {
        self.scheduled.set(true);
        let delay = match self.delay() {
            Ok(d) => d,
            Err(e) => return self.fail(e),
        };
        let weak = Rc::downgrade(self);
        tokio::task::spawn_local(async move {
            tokio::time::sleep(delay).await;
            if let Some(state) = weak.upgrade() {
                state.replay();
            }
        });
    }

    fn replay(self: &Rc<Self>) {
        self.scheduled.set(false);
        if self.ended.get() {
            return;
        }
        // The old run goes (its onEnd runs) before the new one starts.
        self.run.borrow_mut().take();
        self.start_run();
        self.input.feed(&self.run);
    }

    fn fail(&self, e: String) {
        tracing::error!(target: "pipeline", "replay: {e}");
        self.end(crate::engine::host::runtime_error(e));
    }

    fn end(&self, evt: Event) {
        self.ended.set(true);
        self.input.clear();
        self.run.borrow_mut().take();
        self.env.emit(evt);
    }
}

struct Replay(Rc<State>);

impl Filter for Replay {
    fn process(&mut self, evt: Event, _out: &mut Output<'_>) {
        let state = &self.0;
        if state.ended.get() {
            return;
        }
        if !state.input.keep(&evt) {
            tracing::error!(target: "pipeline", "replay: input over {LIMIT} bytes");
            return state.end(Event::error("BufferOverflow"));
        }
        if state.run.borrow().is_none() {
            state.start_run();
        }
        // While a replay waits for its delay, the new input waits with the rest.
        if !state.scheduled.get()
            && let Some(p) = state.run.borrow().as_ref()
        {
            p.input(evt);
        }
    }
}
