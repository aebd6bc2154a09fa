//! `linkAsync(name | fn)` (legacy): as `link`, but the events reach the linked pipeline
//! from a task of their own, after the filter returned, as Pipy posts them; the events
//! before `fn` names a pipeline wait for it (`link` drops them). Pipy may run the linked
//! pipeline on another worker thread; Weir runs it on this one.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{
    Event, EventSink, Filter, FilterEnv, FilterSpec, Given, Layout, Output, Pipeline, Registry, SubRef, host,
};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let target = args.given(0, "a pipeline name", |v, args| match v.is_string() {
        true => args.sub(v).map(Some),
        false => Ok(None),
    })?;
    Ok(Made::Filter(Box::new(Rc::new(Spec { target, registry: args.registry() }))))
}

struct Spec {
    target: Given<SubRef>,
    registry: Option<Rc<Registry>>,
}

impl FilterSpec for Rc<Spec> {
    fn name(&self) -> &'static str {
        "linkAsync"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let state = State { env, pipeline: RefCell::new(None), queue: RefCell::default() };
        Box::new(LinkAsync { spec: self.clone(), state: Rc::new(state), ended: false })
    }
}

struct State {
    env: FilterEnv,
    pipeline: RefCell<Option<Pipeline>>,
    /// Events not yet handed to the pipeline.
    queue: RefCell<VecDeque<Event>>,
}

struct Reply(FilterEnv);

impl EventSink for Reply {
    fn on_event(&self, evt: Event) {
        self.0.emit(evt);
    }
}

impl State {
    fn flush(weak: Weak<State>) {
        tokio::task::spawn_local(async move {
            let Some(state) = weak.upgrade() else { return };
            loop {
                let next = state.queue.borrow_mut().pop_front();
                let Some(evt) = next else { break };
                if let Some(p) = state.pipeline.borrow().as_ref() {
                    p.input(evt);
                }
            }
        });
    }
}

struct LinkAsync {
    spec: Rc<Spec>,
    state: Rc<State>,
    ended: bool,
}

impl LinkAsync {
    /// The layout to link to; `Ok(None)` while the callback names none.
    fn choose(&self) -> Result<Option<Rc<Layout>>, String> {
        match &self.spec.target {
            Given::Fixed(sub) => sub.resolve().map(Some),
            Given::Dynamic(f) => {
                let v = host().call(&self.state.env.context, f, &[])?;
                if v.is_null_or_undefined() {
                    return Ok(None);
                }
                let name = v.as_string().ok_or("callback did not return a string")?.to_std_string_escaped();
                let registry = self.spec.registry.as_ref().ok_or("pipeline names need a pipy() configuration")?;
                SubRef::Named(registry.clone(), name).resolve().map(Some)
            }
        }
    }
}

impl Filter for LinkAsync {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        let state = &self.state;
        state.queue.borrow_mut().push_back(evt);
        if state.pipeline.borrow().is_none() {
            match self.choose() {
                Ok(Some(layout)) => {
                    let env = &state.env;
                    let sink = Rc::new(Reply(env.clone()));
                    let p = Pipeline::chained(layout, env.context.clone(), sink, env.chain.clone());
                    *state.pipeline.borrow_mut() = Some(p);
                    let weak = Rc::downgrade(state);
                    tokio::task::spawn_local(async move {
                        if let Some(state) = weak.upgrade()
                            && let Some(p) = state.pipeline.borrow().as_ref()
                        {
                            p.start(&[]);
                        }
                    });
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(target: "pipeline", "linkAsync: {e}");
                    self.ended = true;
                    return out.emit(runtime_error(e));
                }
            }
        }
        State::flush(Rc::downgrade(state));
    }
}
