//! `link(name)` / `link(fn)` (legacy): every event goes into a new instance of a named
//! pipeline that shares this context, and that pipeline's output is this filter's output.
//!
//! Also home of [`Sub`], the shared-context sub-pipeline that `branch*` uses the same way,
//! and of [`SubRef`], a sub-pipeline given by a layout or by a name resolved when used
//! (legacy scripts may name pipelines defined further down).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use boa_engine::{Context, JsObject, JsResult, JsValue};

use super::Made;
use crate::engine::{Event, EventSink, Filter, FilterEnv, FilterSpec, Layout, Output, Pass, Pipeline, host};
use crate::js::{self, configuration::Registry};

/// A sub-pipeline layout, or the name of a legacy `.pipeline(name)`.
#[derive(Clone)]
pub enum SubRef {
    Layout(Rc<Layout>),
    Named(Rc<Registry>, String),
}

impl SubRef {
    pub fn resolve(&self) -> Result<Rc<Layout>, String> {
        match self {
            SubRef::Layout(l) => Ok(l.clone()),
            SubRef::Named(r, name) => r.get(name).ok_or_else(|| format!("unknown pipeline layout name: {name}")),
        }
    }
}

/// Where a [`Sub`]'s output goes: collected while the owning filter is feeding it (the
/// owner's pipeline is busy then), emitted after this filter otherwise.
struct SubSink {
    env: FilterEnv,
    feeding: RefCell<bool>,
    collected: RefCell<VecDeque<Event>>,
}

impl EventSink for SubSink {
    fn on_event(&self, evt: Event) {
        if *self.feeding.borrow() {
            self.collected.borrow_mut().push_back(evt);
        } else {
            self.env.emit(evt);
        }
    }

    /// Output that would go on unseen after the owner (a `connect` in a tunnel answering).
    fn pass(self: Rc<Self>) -> Pass {
        if *self.feeding.borrow() { Pass::No } else { self.env.pass_after() }
    }

    fn passed(&self, n: u64) {
        self.env.passed_after(n);
    }
}

/// A running sub-pipeline sharing the owner's context, whose output is the owner's output.
pub struct Sub {
    pipeline: Pipeline,
    sink: Rc<SubSink>,
}

impl Sub {
    /// Instantiates `layout` and runs its `onStart` with no arguments.
    pub fn start(layout: Rc<Layout>, env: &FilterEnv, out: &mut Output<'_>) -> Sub {
        Sub::start_in(layout, env.context.clone(), env, out)
    }

    /// As [`Sub::start`], in `context` (a copy, for filters whose sub-pipeline gets its own).
    pub fn start_in(
        layout: Rc<Layout>,
        context: Rc<crate::engine::Context>,
        env: &FilterEnv,
        out: &mut Output<'_>,
    ) -> Sub {
        let sink = Rc::new(SubSink {
            env: env.clone(),
            feeding: RefCell::new(true),
            collected: RefCell::new(VecDeque::new()),
        });
        let pipeline = Pipeline::new(layout, context, sink.clone());
        pipeline.start(&[]);
        let sub = Sub { pipeline, sink };
        sub.flush(out);
        sub
    }

    pub fn input(&self, evt: Event, out: &mut Output<'_>) {
        *self.sink.feeding.borrow_mut() = true;
        self.pipeline.input(evt);
        self.flush(out);
    }

    /// Where the next input bytes of a filter that feeds them all to `sub` (when it has one
    /// and is still feeding) would go unseen: where the sub-pipeline sends them.
    pub fn pass(sub: Option<&Sub>) -> Pass {
        sub.map_or(Pass::No, |s| s.pipeline.pass())
    }

    /// `n` input bytes went by as the last [`Sub::pass`] allowed.
    pub fn passed(sub: Option<&Sub>, n: u64, out: &mut Output<'_>) {
        if let Some(s) = sub {
            *s.sink.feeding.borrow_mut() = true;
            s.pipeline.passed(n);
            s.flush(out);
        }
    }

    fn flush(&self, out: &mut Output<'_>) {
        *self.sink.feeding.borrow_mut() = false;
        loop {
            let next = self.sink.collected.borrow_mut().pop_front();
            match next {
                Some(evt) => out.emit(evt),
                None => break,
            }
        }
    }
}

pub fn make(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    let target = match args.first() {
        Some(v) if v.as_object().is_some_and(|o| o.is_callable()) => Target::Dynamic(v.as_object().unwrap().clone()),
        Some(v) if v.is_string() => Target::Fixed(js::configuration::sub_ref(v, ctx)?),
        _ => return Err(js::type_error("link() takes a pipeline name or a function returning one")),
    };
    let registry = js::configuration::active_registry();
    Ok(Made::Filter(Box::new(Spec { target, registry })))
}

#[derive(Clone)]
enum Target {
    Fixed(SubRef),
    Dynamic(JsObject),
}

struct Spec {
    target: Target,
    registry: Option<Rc<Registry>>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "link"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Link { target: self.target.clone(), registry: self.registry.clone(), env, sub: None, ended: false })
    }
}

struct Link {
    target: Target,
    registry: Option<Rc<Registry>>,
    env: FilterEnv,
    sub: Option<Sub>,
    ended: bool,
}

impl Link {
    /// The layout to link to; `Ok(None)` when the callback named none yet.
    fn choose(&self) -> Result<Option<Rc<Layout>>, String> {
        match &self.target {
            Target::Fixed(sub) => sub.resolve().map(Some),
            Target::Dynamic(f) => {
                let v = host().call(&self.env.context, f, &[])?;
                if v.is_null_or_undefined() {
                    return Ok(None);
                }
                let name = v.as_string().ok_or("link(): callback did not return a string")?.to_std_string_escaped();
                let registry = self.registry.as_ref().ok_or("link(): pipeline names need a pipy() configuration")?;
                SubRef::Named(registry.clone(), name).resolve().map(Some)
            }
        }
    }
}

impl Filter for Link {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if self.sub.is_none() {
            match self.choose() {
                Ok(Some(layout)) => self.sub = Some(Sub::start(layout, &self.env, out)),
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(target: "pipeline", "link: {e}");
                    self.ended = true;
                    return out.emit(crate::engine::host::runtime_error(e));
                }
            }
        }
        if let Some(sub) = &self.sub {
            sub.input(evt, out);
        }
    }

    /// Once linked, the bytes go wherever the linked pipeline sends them.
    fn pass(&self) -> Pass {
        Sub::pass(self.sub.as_ref().filter(|_| !self.ended))
    }

    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        Sub::passed(self.sub.as_ref(), n, out);
    }
}
