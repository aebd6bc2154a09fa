//! `branch(cond1, sub1, cond2, sub2, ..., default?)` and its `branchMessageStart` and
//! `branchMessage` forms (legacy).
//!
//! The conditions are tried once per pipeline instance, at the first event (`branch`), at each
//! `MessageStart` (`branchMessageStart`, which gets the event) or at each complete message
//! (`branchMessage`, which gets the `Message`), until one is truthy. Events wait until then;
//! afterwards all of them go into the chosen sub-pipeline, which shares this context and
//! whose output is this filter's output.

use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use super::select::{Family, Pick, Select, Selector};
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Output, Pass, Sub, SubRef, Value, host};

/// Splits `cond1, sub1, ..., default?` into (condition, sub-pipeline) pairs; the default
/// has no condition.
pub fn make(select: Select, args: &mut Args<'_>) -> JsResult<Made> {
    if args.len() < 2 {
        return Err(args.takes("at least 2 arguments"));
    }
    let mut branches = Vec::new();
    for pair in args.values().chunks(2) {
        let (cond, sub) = match pair {
            [cond, sub] => {
                let f = cond
                    .as_object()
                    .filter(|o| o.is_callable())
                    .ok_or_else(|| args.error(format!("conditions must be functions, got {}", cond.display())))?;
                (Some(f.clone()), sub)
            }
            [sub] => (None, sub),
            _ => unreachable!("chunks(2) yields one or two items"),
        };
        if !sub.is_string() && !sub.as_object().is_some_and(|o| o.is_callable()) {
            let got = sub.display();
            return Err(args.error(format!("a sub-pipeline must be a pipeline name or a builder function, got {got}")));
        }
        branches.push((cond, args.sub(sub)?));
    }
    Ok(Made::Filter(Box::new(Spec { select, branches: Rc::new(branches) })))
}

type Branches = Rc<Vec<(Option<Callback>, SubRef)>>;

struct Spec {
    select: Select,
    branches: Branches,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        self.select.name(Family::Branch)
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Branch {
            // Pipy's branchMessage takes no options: only the default limit applies.
            selector: Selector::new(self.select, false, crate::options::MESSAGE_LIMIT),
            name: self.name(),
            branches: self.branches.clone(),
            env,
            held: Vec::new(),
            sub: None,
            ended: false,
        })
    }
}

struct Branch {
    selector: Selector,
    name: &'static str,
    branches: Branches,
    env: FilterEnv,
    held: Vec<Event>,
    sub: Option<Sub>,
    ended: bool,
}

impl Branch {
    /// The arguments the conditions get for this event, or `None` when this event is not
    /// one where a choice is made. Plain `branch` decides at any event, with no argument.
    fn arguments(&mut self, evt: &Event, pick: Pick) -> Option<Result<Vec<Value>, String>> {
        if pick != Pick::Chosen {
            return None;
        }
        if self.name == "branch" {
            return Some(Ok(Vec::new()));
        }
        Some(self.selector.argument(evt, &*host()).map(|v| vec![v]))
    }

    /// The first branch whose condition holds, or the default.
    fn choose(&self, args: &[Value]) -> Result<Option<SubRef>, String> {
        for (cond, sub) in self.branches.iter() {
            let hit = match cond {
                None => true,
                Some(f) => host().call(&self.env.context, f, args)?.to_boolean(),
            };
            if hit {
                return Ok(Some(sub.clone()));
            }
        }
        Ok(None)
    }

    fn fail(&mut self, e: String, out: &mut Output<'_>) {
        tracing::error!(target: "pipeline", "{}: {e}", self.name);
        self.ended = true;
        self.held.clear();
        out.emit(runtime_error(e));
    }
}

impl Filter for Branch {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if let Some(sub) = &self.sub {
            return sub.input(evt, out);
        }
        let pick = self.selector.pick(&evt);
        if pick == Pick::Overflow {
            self.ended = true;
            self.held.clear();
            return out.emit(self.selector.overflow(self.name));
        }
        let chosen = match self.arguments(&evt, pick) {
            None => Ok(None),
            Some(Err(e)) => Err(e),
            Some(Ok(args)) => self.choose(&args).and_then(|s| s.map(|s| s.resolve()).transpose()),
        };
        match chosen {
            Err(e) => self.fail(e, out),
            Ok(None) => self.held.push(evt),
            Ok(Some(layout)) => {
                let sub = Sub::start(layout, &self.env, out);
                for e in std::mem::take(&mut self.held) {
                    sub.input(e, out);
                }
                sub.input(evt, out);
                self.sub = Some(sub);
            }
        }
    }

    /// Once a branch is chosen, its pipeline answers for the bytes.
    fn pass(&self) -> Pass {
        Sub::pass(self.sub.as_ref().filter(|_| !self.ended))
    }

    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        Sub::passed(self.sub.as_ref(), n, out);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use bytes::Bytes;

    use super::*;
    use crate::engine::Head;
    use crate::engine::host::stub::{self, Record, StubHost};

    type Seen = Rc<RefCell<Vec<String>>>;

    /// `branchX(cond, A, B)` (B the default when `default`), each sub-pipeline recording
    /// what it got into the list returned.
    fn spec(select: Select, default: bool) -> (Vec<Box<dyn FilterSpec>>, Seen) {
        let seen = Seen::default();
        let sub = |mark| SubRef::Layout(stub::layout(vec![Box::new(Record(mark, seen.clone()))]));
        let mut branches = vec![(Some(StubHost::callback()), sub("A"))];
        if default {
            branches.push((None, sub("B")));
        }
        (vec![Box::new(Spec { select, branches: Rc::new(branches) })], seen)
    }

    fn input() -> Vec<Event> {
        vec![
            Event::Data(Bytes::from_static(b"x")),
            Event::MessageStart(Head::None),
            Event::Data(Bytes::from_static(b"y")),
            Event::MessageEnd(Value::undefined()),
        ]
    }

    #[test]
    fn branch_sends_every_event_to_the_first_branch_whose_condition_holds() {
        let stub = StubHost::install();
        stub.returns.borrow_mut().push_back(Value::from(true));
        let (spec, seen) = spec(Select::All, true);
        let out = stub::run(spec, input());
        assert_eq!(out, ["Data x", "MessageStart", "Data y", "MessageEnd"]);
        assert_eq!(*seen.borrow(), ["A: Data x", "A: MessageStart", "A: Data y", "A: MessageEnd"]);
        assert_eq!(*stub.log.borrow(), ["call/0"]);
    }

    #[test]
    fn branch_takes_the_default_when_no_condition_holds() {
        let stub = StubHost::install();
        stub.returns.borrow_mut().push_back(Value::from(false));
        let (spec, seen) = spec(Select::All, true);
        stub::run(spec, input());
        assert_eq!(seen.borrow()[0], "B: Data x");
        assert!(seen.borrow().iter().all(|s| s.starts_with("B:")));
    }

    #[test]
    fn branch_message_start_holds_events_until_a_message_start_chooses() {
        let stub = StubHost::install();
        stub.returns.borrow_mut().push_back(Value::from(true));
        let (spec, seen) = spec(Select::MessageStart, true);
        let out = stub::run(spec, input());
        assert_eq!(out, ["Data x", "MessageStart", "Data y", "MessageEnd"]);
        assert_eq!(seen.borrow()[0], "A: Data x");
        assert_eq!(*stub.log.borrow(), ["event MessageStart", "call/1"]);
    }

    #[test]
    fn branch_with_no_condition_holding_and_no_default_holds_everything() {
        let stub = StubHost::install();
        stub.returns.borrow_mut().extend([Value::from(false), Value::from(false)]);
        let (spec, seen) = spec(Select::All, false);
        let out = stub::run(spec, input());
        assert!(out.is_empty(), "{out:?}");
        assert!(seen.borrow().is_empty());
    }
}
