//! Layouts and pipelines.
//!
//! A [`Layout`] is what a builder (`$=>$.onStart(...).connect(...)`) produced at configuration
//! time: an immutable list of filter specs. A [`Pipeline`] is one instance of a layout bound
//! to a [`Context`], a chain of Rust filter state machines that events are pushed through.
//!
//! Events move synchronously: a filter hands its output to the rest of the chain through
//! [`Output`], so one input event runs to completion before anything else happens on the
//! worker thread. Filters that produce events later (a socket read, a timer) hold a
//! [`FilterEnv`] and re-enter the chain just after themselves.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use super::context::at_work_for;
use super::host::{Callback, Value, host, runtime_error};
use super::pass::Pass;
use super::{Context, Event};

/// Where a pipeline's output goes: a socket, a parent filter, or nowhere.
pub trait EventSink {
    fn on_event(&self, evt: Event);

    /// Where output bytes would go unseen (see [`Pass`]); a socket's queue says so.
    fn pass(self: Rc<Self>) -> Pass {
        Pass::No
    }

    /// `n` output bytes went by as the last [`EventSink::pass`] allowed (a sink that hands
    /// its events on to more filters tells them).
    fn passed(&self, _n: u64) {}
}

/// A sink that drops everything (the output of `fork` branches).
pub struct Discard;

impl EventSink for Discard {
    fn on_event(&self, _evt: Event) {}

    fn pass(self: Rc<Self>) -> Pass {
        Pass::Absorb(u64::MAX)
    }
}

impl<F: Fn(Event)> EventSink for F {
    fn on_event(&self, evt: Event) {
        self(evt)
    }
}

/// How a pipeline starts: `onStart(events)` or `onStart(fn)`.
pub enum StartSpec {
    Events(Value),
    Function(Callback),
}

/// A pipeline layout: the result of running a builder once.
#[derive(Default)]
pub struct Layout {
    pub name: String,
    /// The script file that built it, as `pipy_pipeline_count` labels it (`/main.js`).
    pub module: String,
    pub on_start: Option<StartSpec>,
    pub on_end: Option<Callback>,
    pub filters: Vec<Box<dyn FilterSpec>>,
    /// Its pipelines running now, on this thread (see `series::pipeline_started`).
    pub active: Cell<usize>,
    pub listed: Cell<bool>,
}

/// The configuration of one filter; makes a fresh [`Filter`] for each pipeline.
pub trait FilterSpec {
    fn name(&self) -> &'static str;
    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter>;
}

/// One stage of a running pipeline.
pub trait Filter {
    /// Called once, after `onStart` ran, before the first event.
    fn start(&mut self) {}
    fn process(&mut self, evt: Event, out: &mut Output<'_>);
    /// Called by [`FilterEnv::wake`]: output has become ready outside of `process`, e.g. a
    /// sub-pipeline answered.
    fn wake(&mut self, _out: &mut Output<'_>) {}

    /// What this filter would do with the next input bytes if nobody looked at them (see
    /// [`Pass`]). Asked before socket reads; the default keeps every byte in user space.
    fn pass(&self) -> Pass {
        Pass::No
    }

    /// `n` bytes that the last [`Filter::pass`] promised to let by went by unseen.
    fn passed(&mut self, _n: u64, _out: &mut Output<'_>) {}
}

/// The rest of the chain after the current filter.
pub struct Output<'a> {
    rest: &'a mut [Box<dyn Filter>],
    sink: &'a dyn EventSink,
}

impl Output<'_> {
    pub fn emit(&mut self, evt: Event) {
        match self.rest.split_first_mut() {
            Some((next, rest)) => next.process(evt, &mut Output { rest, sink: self.sink }),
            None => self.sink.on_event(evt),
        }
    }

    /// Tells the rest of the chain that `n` bytes went by, as far as their
    /// [`Filter::pass`] let them.
    pub fn passed(&mut self, n: u64) {
        let sink = self.sink;
        let mut rest = &mut *self.rest;
        while let Some((f, after)) = rest.split_first_mut() {
            let through = matches!(f.pass(), Pass::Through(_));
            f.passed(n, &mut Output { rest: &mut *after, sink });
            if !through {
                return;
            }
            rest = after;
        }
        sink.passed(n);
    }
}

/// The pipelines a `pipeNext` goes on to, in order (Pipy's pipeline chain, made by
/// `pipe([a, b, c])`), and the arguments they start with. Sub-pipelines inherit their
/// owner's, as in Pipy.
#[derive(Default)]
pub struct Chain {
    pub next: Vec<Rc<Layout>>,
    pub args: Vec<Value>,
}

/// What a filter instance knows about where it sits.
#[derive(Clone)]
pub struct FilterEnv {
    pipeline: Weak<RefCell<PipelineInner>>,
    index: usize,
    pub context: Rc<Context>,
    /// The chain the filter's pipeline is in.
    pub chain: Rc<Chain>,
}

impl FilterEnv {
    /// Emits an event produced outside of `process` (from a task or a timer) into the chain
    /// just after this filter. Does nothing if the pipeline is gone.
    pub fn emit(&self, evt: Event) {
        at_work_for(&self.context, || self.emit_now(evt))
    }

    fn emit_now(&self, evt: Event) {
        let Some(p) = self.pipeline.upgrade() else { return };
        // Busy means this pipeline is on the stack further up: deliver once it is done.
        let Ok(mut inner) = p.try_borrow_mut() else { return self.emit_later(evt) };
        let inner = &mut *inner;
        let (_, rest) = inner.filters.split_at_mut(self.index + 1);
        Output { rest, sink: &*inner.sink }.emit(evt);
    }

    /// Asks this filter to produce the output that became ready (see [`Filter::wake`]).
    pub fn wake(&self) {
        at_work_for(&self.context, || self.wake_now())
    }

    fn wake_now(&self) {
        let Some(p) = self.pipeline.upgrade() else { return };
        let Ok(mut inner) = p.try_borrow_mut() else {
            let env = self.clone();
            tokio::task::spawn_local(async move { env.wake() });
            return;
        };
        let inner = &mut *inner;
        let (before, rest) = inner.filters.split_at_mut(self.index + 1);
        before[self.index].wake(&mut Output { rest, sink: &*inner.sink });
    }

    /// Like [`FilterEnv::emit`], but from inside this very pipeline's processing, where the
    /// pipeline is already borrowed: the event is delivered from a fresh task instead.
    pub fn emit_later(&self, evt: Event) {
        let env = self.clone();
        tokio::task::spawn_local(async move { env.emit(evt) });
    }

    pub fn is_alive(&self) -> bool {
        self.pipeline.strong_count() > 0
    }

    /// Where this filter's output bytes would go unseen (see [`Pass`]).
    pub fn pass_after(&self) -> Pass {
        let Some(p) = self.pipeline.upgrade() else { return Pass::No };
        p.try_borrow().map_or(Pass::No, |p| p.pass(self.index + 1))
    }

    /// `n` of this filter's output bytes went by as the last [`FilterEnv::pass_after`]
    /// allowed.
    pub fn passed_after(&self, n: u64) {
        if let Some(p) = self.pipeline.upgrade()
            && let Ok(mut p) = p.try_borrow_mut()
        {
            p.passed(self.index + 1, n);
        }
    }
}

pub struct PipelineInner {
    filters: Vec<Box<dyn Filter>>,
    sink: Rc<dyn EventSink>,
    /// Input that arrived while `onStart` was still pending.
    held: Option<Vec<Event>>,
    /// A stream ends once: input after its `StreamEnd` (a client still sending to a
    /// pipeline that `onStart` ended) must not reach filters that were reset by that end.
    ended: bool,
}

impl PipelineInner {
    /// Where the input bytes of filter `from` would go unseen (see [`Pass`]).
    fn pass(&self, from: usize) -> Pass {
        // Held and ended concern the pipeline's input; a filter's output (a `connect`'s
        // answer) goes on after the input ended.
        if from == 0 && self.held.is_some() {
            return Pass::No;
        }
        if from == 0 && self.ended {
            return Pass::Absorb(u64::MAX);
        }
        let mut limit = u64::MAX;
        for f in &self.filters[from.min(self.filters.len())..] {
            match f.pass() {
                Pass::Through(n) => limit = limit.min(n),
                other => return other.min(limit),
            }
            if limit == 0 {
                return Pass::No;
            }
        }
        self.sink.clone().pass().min(limit)
    }

    /// Tells the filters from `from` on that `n` bytes went by, as far as [`Self::pass`]
    /// let them.
    fn passed(&mut self, from: usize, n: u64) {
        if from == 0 && (self.held.is_some() || self.ended) {
            return;
        }
        let from = from.min(self.filters.len());
        Output { rest: &mut self.filters[from..], sink: &*self.sink }.passed(n);
    }

    fn input(&mut self, evt: Event) {
        if let Some(held) = &mut self.held {
            held.push(evt);
            return;
        }
        if self.ended {
            return;
        }
        self.ended = evt.is_stream_end();
        Output { rest: &mut self.filters, sink: &*self.sink }.emit(evt);
    }
}

/// A running pipeline. Dropping it destroys the filters (closing their connections and
/// sub-pipelines) and runs the layout's `onEnd`.
pub struct Pipeline {
    inner: Rc<RefCell<PipelineInner>>,
    layout: Rc<Layout>,
    context: Rc<Context>,
}

impl Pipeline {
    pub fn new(layout: Rc<Layout>, context: Rc<Context>, sink: Rc<dyn EventSink>) -> Pipeline {
        Pipeline::chained(layout, context, sink, Rc::default())
    }

    /// A pipeline in `chain` (see [`Chain`]).
    pub fn chained(layout: Rc<Layout>, context: Rc<Context>, sink: Rc<dyn EventSink>, chain: Rc<Chain>) -> Pipeline {
        let inner = Rc::new_cyclic(|weak: &Weak<RefCell<PipelineInner>>| {
            let filters = layout
                .filters
                .iter()
                .enumerate()
                .map(|(index, spec)| {
                    let env =
                        FilterEnv { pipeline: weak.clone(), index, context: context.clone(), chain: chain.clone() };
                    spec.instantiate(env)
                })
                .collect();
            RefCell::new(PipelineInner { filters, sink, held: None, ended: false })
        });
        super::series::pipeline_started(&layout);
        Pipeline { inner, layout, context }
    }

    /// Runs `onStart` with `args`, starts the filters, then feeds the start events.
    pub fn start(&self, args: &[Value]) {
        at_work_for(&self.context, || self.start_now(args));
    }

    fn start_now(&self, args: &[Value]) {
        let h = host();
        let initial = match &self.layout.on_start {
            None => Ok(Vec::new()),
            Some(StartSpec::Events(v)) => h.to_events(v),
            Some(StartSpec::Function(f)) => match h.call(&self.context, f, args) {
                Ok(v) if h.is_promise(&v) => {
                    self.inner.borrow_mut().held = Some(Vec::new());
                    self.start_filters();
                    let weak = Rc::downgrade(&self.inner);
                    let context = self.context.clone();
                    let done = move |result: Result<Value, String>| {
                        let Some(p) = weak.upgrade() else { return };
                        at_work_for(&context, || {
                            let held = p.borrow_mut().held.take().unwrap_or_default();
                            let first = result.and_then(|v| host().to_events(&v));
                            let mut inner = p.borrow_mut();
                            match first {
                                Ok(events) => events.into_iter().for_each(|e| inner.input(e)),
                                Err(e) => inner.input(runtime_error(e)),
                            }
                            held.into_iter().for_each(|e| inner.input(e));
                        })
                    };
                    h.on_settled(&v, &self.context, Box::new(done));
                    return;
                }
                Ok(v) => h.to_events(&v),
                Err(e) => Err(e),
            },
        };
        // A pipeline whose first event is its end never starts its filters, so a `connect`
        // in it opens no connection (`onStart(new StreamEnd)` closes a client at once).
        if !matches!(initial.as_ref().map(|e| e.first()), Ok(Some(Event::StreamEnd(_)))) {
            self.start_filters();
        }
        match initial {
            Ok(events) => events.into_iter().for_each(|e| self.input(e)),
            Err(e) => {
                tracing::error!(target: "pipeline", "{e}");
                self.input(runtime_error(e));
            }
        }
    }

    fn start_filters(&self) {
        for f in self.inner.borrow_mut().filters.iter_mut() {
            f.start();
        }
    }

    pub fn input(&self, evt: Event) {
        at_work_for(&self.context, || self.inner.borrow_mut().input(evt));
    }

    /// Where the next input bytes would go unseen (see [`Pass`]); `No` while the pipeline is
    /// busy further up the stack.
    pub fn pass(&self) -> Pass {
        self.inner.try_borrow().map_or(Pass::No, |p| p.pass(0))
    }

    /// `n` input bytes went by as the last [`Pipeline::pass`] allowed.
    pub fn passed(&self, n: u64) {
        self.inner.borrow_mut().passed(0, n);
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        super::series::pipeline_ended(&self.layout);
        if let Some(f) = &self.layout.on_end {
            let f = f.clone();
            let context = self.context.clone();
            host().when_free(Box::new(move || {
                if let Err(e) = host().call(&context, &f, &[]) {
                    tracing::error!(target: "pipeline", "onEnd: {e}");
                }
            }));
        }
    }
}

impl FilterEnv {
    /// Feeds an event into this filter itself, as if it came from upstream (used to replay
    /// events a filter held while it waited).
    pub fn feed(&self, evt: Event) {
        at_work_for(&self.context, || self.feed_now(evt));
    }

    fn feed_now(&self, evt: Event) {
        if let Some(p) = self.pipeline.upgrade() {
            let mut inner = p.borrow_mut();
            let inner = &mut *inner;
            let (_, rest) = inner.filters.split_at_mut(self.index);
            Output { rest, sink: &*inner.sink }.emit(evt);
        }
    }
}

impl FilterEnv {
    /// Whether two envs name the same filter of the same pipeline.
    pub fn same(&self, other: &FilterEnv) -> bool {
        self.index == other.index && Weak::ptr_eq(&self.pipeline, &other.pipeline)
    }
}
