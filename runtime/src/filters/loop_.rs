//! `loop($=>$...)`: the input goes into a sub-pipeline sharing this context, and every event
//! that sub-pipeline outputs is both this filter's output and fed back into the
//! sub-pipeline's input, as Pipy's `loop` does. What comes back is fed from a task of its
//! own, never inside the sub-pipeline's own processing, so a loop that never ends keeps
//! the worker turning instead of blocking it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::{Event, EventSink, Filter, FilterEnv, FilterSpec, Output, Pipeline, SubRef};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    if args.is_absent(0) {
        return Err(args.takes("a pipeline builder function"));
    }
    let sub = args.sub(&args.value(0))?;
    Ok(Made::Filter(Box::new(Spec { sub })))
}

struct Spec {
    sub: SubRef,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "loop"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let state = State {
            sub: self.sub.clone(),
            env,
            pipeline: RefCell::new(None),
            feeding: Cell::new(false),
            collected: RefCell::default(),
            back: RefCell::default(),
            scheduled: Cell::new(false),
        };
        Box::new(Loop(Rc::new(state)))
    }
}

struct State {
    sub: SubRef,
    env: FilterEnv,
    pipeline: RefCell<Option<Pipeline>>,
    /// The filter is feeding the sub-pipeline: its output waits in `collected` to go out
    /// after the input.
    feeding: Cell<bool>,
    collected: RefCell<VecDeque<Event>>,
    /// Output still to be fed back in.
    back: RefCell<VecDeque<Event>>,
    scheduled: Cell<bool>,
}

struct LoopSink(Weak<State>);

impl EventSink for LoopSink {
    fn on_event(&self, evt: Event) {
        let Some(state) = self.0.upgrade() else { return };
        state.back.borrow_mut().push_back(evt.clone());
        if state.feeding.get() {
            state.collected.borrow_mut().push_back(evt);
        } else {
            state.env.emit(evt);
        }
        state.schedule();
    }
}

impl State {
    fn start(self: &Rc<Self>) -> Result<(), String> {
        let layout = self.sub.resolve()?;
        let sink = Rc::new(LoopSink(Rc::downgrade(self)));
        let p = Pipeline::chained(layout, self.env.context.clone(), sink, self.env.chain.clone());
        *self.pipeline.borrow_mut() = Some(p);
        self.feed(None);
        Ok(())
    }

    /// Feeds `evt` (none: just starts the pipeline); the output is left in `collected`.
    fn feed(&self, evt: Option<Event>) {
        self.feeding.set(true);
        if let Some(p) = self.pipeline.borrow().as_ref() {
            match evt {
                Some(evt) => p.input(evt),
                None => p.start(&[]),
            }
        }
        self.feeding.set(false);
    }

    fn schedule(self: &Rc<Self>) {
        if !self.scheduled.replace(true) {
            let weak = Rc::downgrade(self);
            tokio::task::spawn_local(async move {
                if let Some(state) = weak.upgrade() {
                    state.feed_back();
                }
            });
        }
    }

    /// Feeds the output that came so far back in; what that makes comes back next time.
    fn feed_back(self: &Rc<Self>) {
        self.scheduled.set(false);
        let back: Vec<Event> = self.back.borrow_mut().drain(..).collect();
        for evt in back {
            self.feed(Some(evt));
            let out: Vec<Event> = self.collected.borrow_mut().drain(..).collect();
            out.into_iter().for_each(|e| self.env.emit(e));
        }
    }
}

struct Loop(Rc<State>);

impl Filter for Loop {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let state = &self.0;
        if state.pipeline.borrow().is_none()
            && let Err(e) = state.start()
        {
            tracing::error!(target: "pipeline", "loop: {e}");
            return out.emit(crate::engine::host::runtime_error(e));
        }
        state.feed(Some(evt));
        let collected: Vec<Event> = state.collected.borrow_mut().drain(..).collect();
        collected.into_iter().for_each(|e| out.emit(e));
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use bytes::Bytes;

    use super::*;
    use crate::engine::Context;
    use crate::engine::host::stub::{self, Record, StubHost, describe};

    #[tokio::test(flavor = "current_thread")]
    async fn loop_outputs_what_its_pipeline_outputs_and_feeds_it_back_in() {
        StubHost::install();
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let seen = Rc::new(RefCell::new(Vec::new()));
                let sub = SubRef::Layout(stub::layout(vec![Box::new(Record("sub", seen.clone()))]));
                let out = Rc::new(RefCell::new(Vec::new()));
                let sink = out.clone();
                let layout = stub::layout(vec![Box::new(Spec { sub })]);
                let p = Pipeline::new(
                    layout,
                    Context::root(),
                    Rc::new(move |e: Event| sink.borrow_mut().push(describe(&e))),
                );
                p.start(&[]);
                p.input(Event::Data(Bytes::from_static(b"a")));
                assert_eq!(*out.borrow(), ["Data a"]);
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                // What came out went back in, came out again, and so on, a round per turn.
                assert!(out.borrow().len() >= 2, "{:?}", out.borrow());
                assert!(seen.borrow().len() >= 2, "{:?}", seen.borrow());
                assert!(seen.borrow().iter().all(|s| s == "sub: Data a"));
            })
            .await;
    }
}
