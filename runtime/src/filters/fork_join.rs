//! `forkJoin(initArg?).to(sub)` and `forkRace(initArg?).to(sub)`: every event goes into
//! one branch (or one per element when `initArg`, or what it returns, is an array, each
//! started with `(element, index)`), each branch in a copy of this context.
//!
//! `forkJoin` holds the stream until every branch has ended, then passes it on (the
//! branches' own output is dropped); what waits counts on the gauge the readers pause at.
//! `forkRace` passes on nothing of its input: the output of the first branch to output
//! anything is this filter's.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use super::held::Held;
use crate::args::Args;
use crate::engine::{Event, EventSink, Filter, FilterEnv, FilterSpec, Layout, Output, Pipeline, Value, host};

pub fn make_join(args: &mut Args<'_>) -> JsResult<Made> {
    make(args, Mode::Join)
}

pub fn make_race(args: &mut Args<'_>) -> JsResult<Made> {
    make(args, Mode::Race)
}

fn make(args: &mut Args<'_>, mode: Mode) -> JsResult<Made> {
    let init = args.value(0);
    Ok(Made::Joint(Box::new(move |sub| Box::new(Spec { mode, init, sub }))))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Join,
    Race,
}

struct Spec {
    mode: Mode,
    init: Value,
    sub: Rc<Layout>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        match self.mode {
            Mode::Join => "forkJoin",
            Mode::Race => "forkRace",
        }
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let shared = Rc::new(Shared {
            mode: self.mode,
            held: Held::new(env.context.clone()),
            env,
            feeding: Cell::new(false),
            branches: Cell::new(0),
            ended: Cell::new(0),
            winner: Cell::new(None),
            raced: RefCell::new(VecDeque::new()),
        });
        Box::new(ForkJoin { init: self.init.clone(), sub: self.sub.clone(), shared, branches: None })
    }
}

/// What the filter and its branches' sinks share.
struct Shared {
    mode: Mode,
    env: FilterEnv,
    /// The stream held until the branches end (`forkJoin`).
    held: Rc<Held>,
    /// The filter is feeding its branches: their output waits for it to finish.
    feeding: Cell<bool>,
    branches: Cell<usize>,
    ended: Cell<usize>,
    winner: Cell<Option<usize>>,
    /// The winner's output while the filter was feeding (`forkRace`).
    raced: RefCell<VecDeque<Event>>,
}

impl Shared {
    /// Once every branch ended, the held stream goes on.
    fn release(&self, out: Option<&mut Output<'_>>) {
        if self.ended.get() < self.branches.get() || !self.held.waiting() {
            return;
        }
        let events = self.held.take();
        match out {
            Some(out) => events.into_iter().for_each(|e| out.emit(e)),
            None => events.into_iter().for_each(|e| self.env.emit(e)),
        }
        self.held.resume();
    }
}

struct BranchSink {
    shared: Rc<Shared>,
    index: usize,
}

impl EventSink for BranchSink {
    fn on_event(&self, evt: Event) {
        let s = &self.shared;
        match s.mode {
            Mode::Join if evt.is_stream_end() => {
                s.ended.set(s.ended.get() + 1);
                if !s.feeding.get() {
                    s.release(None);
                }
            }
            Mode::Join => {}
            Mode::Race => {
                if *s.winner.get().get_or_insert(self.index) != self.index {
                    return;
                }
                s.winner.set(Some(self.index));
                match s.feeding.get() {
                    true => s.raced.borrow_mut().push_back(evt),
                    false => s.env.emit(evt),
                }
            }
        }
    }
}

struct ForkJoin {
    init: Value,
    sub: Rc<Layout>,
    shared: Rc<Shared>,
    branches: Option<Vec<Pipeline>>,
}

impl ForkJoin {
    fn open(&self) -> Vec<Pipeline> {
        let context = &self.shared.env.context;
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
        let starts: Vec<Vec<Value>> = match host().to_list(&init) {
            Some(items) => items.into_iter().enumerate().map(|(i, item)| vec![item, Value::from(i as u32)]).collect(),
            None if init.is_undefined() => vec![vec![]],
            None => vec![vec![init]],
        };
        self.shared.branches.set(starts.len());
        if self.shared.mode == Mode::Join && !starts.is_empty() {
            self.shared.held.wait(None);
        }
        let start = |(index, args): (usize, Vec<Value>)| {
            let sink = Rc::new(BranchSink { shared: self.shared.clone(), index });
            let p = Pipeline::chained(self.sub.clone(), context.copy(None), sink, self.shared.env.chain.clone());
            p.start(&args);
            p
        };
        starts.into_iter().enumerate().map(start).collect()
    }
}

impl Filter for ForkJoin {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let s = self.shared.clone();
        s.feeding.set(true);
        if self.branches.is_none() {
            self.branches = Some(self.open());
        }
        for b in self.branches.iter().flatten() {
            b.input(evt.clone());
        }
        s.feeding.set(false);
        match s.mode {
            Mode::Join => {
                s.release(Some(&mut *out));
                if s.held.waiting() { s.held.push(evt) } else { out.emit(evt) }
            }
            Mode::Race => {
                let raced = std::mem::take(&mut *s.raced.borrow_mut());
                raced.into_iter().for_each(|e| out.emit(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::Head;
    use crate::engine::host::stub::{self, StubHost};

    /// A branch that ends its stream at the first `Data` and answers it with `Data won`.
    struct EndAtData;

    impl FilterSpec for EndAtData {
        fn name(&self) -> &'static str {
            "endAtData"
        }
        fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
            Box::new(EndAtData)
        }
    }

    impl Filter for EndAtData {
        fn process(&mut self, evt: Event, out: &mut Output<'_>) {
            if let Event::Data(_) = evt {
                out.emit(Event::Data(Bytes::from_static(b"won")));
                out.emit(Event::end());
            }
        }
    }

    fn run(mode: Mode) -> Vec<String> {
        StubHost::install();
        let sub = stub::layout(vec![Box::new(EndAtData)]);
        let spec = Spec { mode, init: Value::undefined(), sub };
        let input = vec![
            Event::MessageStart(Head::None),
            Event::Data(Bytes::from_static(b"ab")),
            Event::MessageEnd(Value::undefined()),
            Event::end(),
        ];
        stub::run(vec![Box::new(spec)], input)
    }

    #[test]
    fn fork_join_holds_the_stream_until_its_branch_ends_and_drops_the_branch_output() {
        assert_eq!(run(Mode::Join), ["MessageStart", "Data ab", "MessageEnd", "StreamEnd"]);
    }

    #[test]
    fn fork_race_outputs_the_winning_branch_and_none_of_its_input() {
        assert_eq!(run(Mode::Race), ["Data won", "StreamEnd"]);
    }
}
