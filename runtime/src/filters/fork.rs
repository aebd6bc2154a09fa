//! `fork(initArg?).to(sub)`: every event goes into a branch too; the branch's output is
//! dropped and the original events pass on unchanged.

use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::host;
use crate::engine::pipeline::Discard;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Layout, Output, Pass, Pipeline, Value};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let init = args.value(0);
    Ok(Made::Joint(Box::new(move |sub| Box::new(Spec { init, sub }))))
}

struct Spec {
    init: Value,
    sub: Rc<Layout>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "fork"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Fork { init: self.init.clone(), sub: self.sub.clone(), env, branches: None })
    }
}

struct Fork {
    init: Value,
    sub: Rc<Layout>,
    env: FilterEnv,
    branches: Option<Vec<Pipeline>>,
}

impl Fork {
    /// A non-array init value makes one branch sharing this context; an array makes one
    /// branch per element, each with a copy of the context.
    fn open(&self) -> Vec<Pipeline> {
        let context = &self.env.context;
        let init = match self.init.as_object().filter(|o| o.is_callable()) {
            Some(f) => match host().call(context, &f, &[]) {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(target: "pipeline", "fork: {e}");
                    return Vec::new();
                }
            },
            None => self.init.clone(),
        };
        let elements = host().to_list(&init);
        match elements {
            None => {
                let p = Pipeline::chained(self.sub.clone(), context.clone(), Rc::new(Discard), self.env.chain.clone());
                let args = if init.is_undefined() { vec![] } else { vec![init] };
                p.start(&args);
                vec![p]
            }
            Some(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let p = Pipeline::chained(
                        self.sub.clone(),
                        context.copy(None),
                        Rc::new(Discard),
                        self.env.chain.clone(),
                    );
                    p.start(&[item, Value::from(i as u32)]);
                    p
                })
                .collect(),
        }
    }
}

impl Filter for Fork {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.branches.is_none() {
            self.branches = Some(self.open());
        }
        for b in self.branches.iter().flatten() {
            b.input(evt.clone());
        }
        out.emit(evt);
    }

    /// Bytes go by when every branch would take them unseen (a decoder in a body nobody
    /// reads); the branches' output is dropped anyway.
    fn pass(&self) -> Pass {
        let Some(branches) = &self.branches else { return Pass::No };
        let mut limit = u64::MAX;
        for b in branches {
            match b.pass() {
                Pass::Absorb(n) => limit = limit.min(n),
                _ => return Pass::No,
            }
        }
        Pass::Through(limit)
    }

    fn passed(&mut self, n: u64, _: &mut Output<'_>) {
        for b in self.branches.iter().flatten() {
            b.passed(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use bytes::Bytes;

    use super::*;
    use crate::engine::Head;
    use crate::engine::host::stub::{self, Record, StubHost};

    fn input() -> Vec<Event> {
        vec![
            Event::MessageStart(Head::None),
            Event::Data(Bytes::from_static(b"ab")),
            Event::MessageEnd(Value::undefined()),
            Event::end(),
        ]
    }

    /// `fork(init).to(sub)`, the sub-pipeline recording what it got and passing it on: had
    /// its output not been dropped, every event would reach the sink twice.
    fn run(init: Value) -> (Vec<String>, Vec<String>) {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sub = stub::layout(vec![Box::new(Record("fork", seen.clone()))]);
        let out = stub::run(vec![Box::new(Spec { init, sub })], input());
        let seen = seen.borrow().clone();
        (out, seen)
    }

    #[test]
    fn fork_copies_every_event_into_its_branch_and_passes_the_originals_on() {
        StubHost::install();
        let (out, seen) = run(Value::undefined());
        assert_eq!(out, ["MessageStart", "Data ab", "MessageEnd", "StreamEnd"]);
        assert_eq!(seen, ["fork: MessageStart", "fork: Data ab", "fork: MessageEnd", "fork: StreamEnd"]);
    }
}
