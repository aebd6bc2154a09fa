//! Sub-pipelines that filters start at traffic time: [`SubRef`], a layout given directly or
//! by the name of a legacy `.pipeline(name)` (resolved when used, since scripts may name
//! pipelines defined further down, in the configuration's [`Registry`]), and [`Sub`], a
//! running sub-pipeline that shares its owner's context and whose output is the owner's
//! (`link`, `branch*`, the tunnels).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use super::pipeline::Chain;
use super::{Event, EventSink, FilterEnv, Layout, Output, Pass, Pipeline, Value};

/// The named pipelines of one configuration, filled in as their definitions complete.
#[derive(Default)]
pub struct Registry {
    named: RefCell<HashMap<String, Rc<Layout>>>,
}

impl Registry {
    pub fn get(&self, name: &str) -> Option<Rc<Layout>> {
        self.named.borrow().get(name).cloned()
    }

    pub fn insert(&self, name: String, layout: Rc<Layout>) {
        self.named.borrow_mut().insert(name, layout);
    }
}

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

/// What reached a [`Sub`]'s end while its owner was feeding it, in order.
enum Collected {
    Event(Event),
    /// Bytes that went by the whole sub-pipeline unseen: the filters after the owner must
    /// be told, or a decoder there loses its framing.
    Passed(u64),
}

/// Where a [`Sub`]'s output goes: collected while the owning filter is feeding it (the
/// owner's pipeline is busy then), emitted after this filter otherwise.
struct SubSink {
    env: FilterEnv,
    feeding: RefCell<bool>,
    collected: RefCell<VecDeque<Collected>>,
}

impl EventSink for SubSink {
    fn on_event(&self, evt: Event) {
        if *self.feeding.borrow() {
            self.collected.borrow_mut().push_back(Collected::Event(evt));
        } else {
            self.env.emit(evt);
        }
    }

    /// Output that would go on unseen after the owner (a `connect` in a tunnel answering,
    /// or the owner's input going through a sub-pipeline with no socket in it).
    fn pass(self: Rc<Self>) -> Pass {
        if *self.feeding.borrow() { Pass::No } else { self.env.pass_after() }
    }

    fn passed(&self, n: u64) {
        if *self.feeding.borrow() {
            self.collected.borrow_mut().push_back(Collected::Passed(n));
        } else {
            self.env.passed_after(n);
        }
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
    pub fn start_in(layout: Rc<Layout>, context: Rc<super::Context>, env: &FilterEnv, out: &mut Output<'_>) -> Sub {
        Sub::begin(layout, context, env.chain.clone(), &[], env, out)
    }

    /// As [`Sub::start`], in `chain`, its `onStart` given `args` (`pipe`, `pipeNext`).
    pub fn start_chained(
        layout: Rc<Layout>,
        chain: Rc<Chain>,
        args: &[Value],
        env: &FilterEnv,
        out: &mut Output<'_>,
    ) -> Sub {
        Sub::begin(layout, env.context.clone(), chain, args, env, out)
    }

    fn begin(
        layout: Rc<Layout>,
        context: Rc<super::Context>,
        chain: Rc<Chain>,
        args: &[Value],
        env: &FilterEnv,
        out: &mut Output<'_>,
    ) -> Sub {
        let sink = Rc::new(SubSink {
            env: env.clone(),
            feeding: RefCell::new(true),
            collected: RefCell::new(VecDeque::new()),
        });
        let pipeline = Pipeline::chained(layout, context, sink.clone(), chain);
        pipeline.start(args);
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
                Some(Collected::Event(evt)) => out.emit(evt),
                Some(Collected::Passed(n)) => out.passed(n),
                None => break,
            }
        }
    }
}
