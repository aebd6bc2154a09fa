//! `pipeNext(args?)`: the input goes into the next pipeline of the chain this filter's
//! pipeline is in (a `pipe([a, b, c])`), whose output is this filter's output; with no chain
//! the input passes on. `args` (a value, or a function returning one) is what that pipeline
//! starts with and hands down the chain; without it the chain's own arguments go on.

use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use super::pipe::spread;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::pipeline::Chain;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output, Pass, Sub, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let args = (!args.is_absent(0)).then(|| args.value(0));
    Ok(Made::Filter(Box::new(Spec { args })))
}

pub struct Spec {
    pub args: Option<Value>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "pipeNext"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(PipeNext { args: self.args.clone(), env, next: None, ended: false })
    }
}

struct PipeNext {
    args: Option<Value>,
    env: FilterEnv,
    next: Option<Sub>,
    ended: bool,
}

impl PipeNext {
    /// The arguments the next pipeline starts with.
    fn next_args(&self) -> Result<Vec<Value>, String> {
        match &self.args {
            None => Ok(self.env.chain.args.clone()),
            Some(v) => match v.as_callable() {
                Some(f) => host().call(&self.env.context, &f, &[]).map(spread),
                None => Ok(spread(v.clone())),
            },
        }
    }

    fn start(&mut self, out: &mut Output<'_>) -> Result<(), String> {
        let Some((layout, rest)) = self.env.chain.next.split_first() else { return Ok(()) };
        let args = self.next_args()?;
        let chain = Rc::new(Chain { next: rest.to_vec(), args: args.clone() });
        self.next = Some(Sub::start_chained(layout.clone(), chain, &args, &self.env, out));
        Ok(())
    }
}

impl Filter for PipeNext {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if self.next.is_none()
            && let Err(e) = self.start(out)
        {
            tracing::error!(target: "pipeline", "pipeNext: {e}");
            self.ended = true;
            return out.emit(runtime_error(e));
        }
        match &self.next {
            Some(next) => next.input(evt, out),
            None => out.emit(evt),
        }
    }

    fn pass(&self) -> Pass {
        match (&self.next, self.env.chain.next.is_empty()) {
            (_, true) => Pass::Through(u64::MAX),
            (next, false) => Sub::pass(next.as_ref().filter(|_| !self.ended)),
        }
    }

    /// With no chain the bytes went by as through any filter that lets them: the pipeline
    /// tells the filters after this one.
    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        Sub::passed(self.next.as_ref(), n, out);
    }
}
