//! What `throttleMessageRate`, `throttleDataRate` and `throttleConcurrency` share: events pass while their
//! `algo.Quota` has tokens; the first that finds it empty is held with everything after it,
//! in order, until the quota refills.
//!
//! While it holds events, the filter holds both of its connection's gauges, so the socket
//! readers feeding the pipeline stop reading: what waits here is one read, not a flood
//! (Pipy only pauses its input with `blockInput: true` and otherwise buffers without bound).
//! Holding both directions cannot deadlock: the hold ends by the quota's timer alone.

use std::cell::Cell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::quota::{Bucket, Consumer};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Output, ReaderHold, host};

/// How one throttle filter spends its quota.
pub trait Meter: 'static {
    const NAME: &'static str;
    /// What one filter instance remembers between events.
    type State: Default;
    /// Emits what the quota lets through of `evt`; returns what has to wait.
    fn pass(state: &mut Self::State, evt: Event, quota: &Bucket, out: &mut Output<'_>) -> Option<Event>;
    /// The filter is going: gives back what it holds of the quota.
    fn release(_state: &mut Self::State, _quota: &Bucket) {}
}

/// The quota, or a function called once per pipeline, at its first event, for its quota.
pub type Source = Given<Rc<Bucket>>;

pub fn make<M: Meter>(args: &mut Args<'_>) -> JsResult<Made> {
    let source = args.given(0, "an algo.Quota", |v, args| Ok(args.quota(v)))?;
    Ok(Made::Filter(spec::<M>(source)))
}

/// The spec of a throttle of kind `M` on `source`.
pub fn spec<M: Meter>(source: Source) -> Box<dyn FilterSpec> {
    Box::new(Spec::<M> { source, meter: PhantomData })
}

struct Spec<M> {
    source: Source,
    meter: PhantomData<M>,
}

impl<M: Meter> FilterSpec for Spec<M> {
    fn name(&self) -> &'static str {
        M::NAME
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let waiter = Rc::new(Waiter { env: env.clone(), stalled: Cell::new(false) });
        Box::new(Throttle::<M> {
            source: self.source.clone(),
            quota: None,
            held: VecDeque::new(),
            readers: ReaderHold::new(env.context.clone()),
            waiter,
            ended: false,
            state: M::State::default(),
        })
    }
}

/// The filter's place in its quota's queue.
struct Waiter {
    env: FilterEnv,
    stalled: Cell<bool>,
}

impl Consumer for Waiter {
    fn resume(&self) -> bool {
        if !self.env.is_alive() {
            return true;
        }
        self.env.wake();
        !self.stalled.get()
    }
}

struct Throttle<M: Meter> {
    source: Source,
    /// The source's quota, once known.
    quota: Option<Rc<Bucket>>,
    held: VecDeque<Event>,
    waiter: Rc<Waiter>,
    /// Both readers pause while the quota holds events back: the filter does not know
    /// which side its input comes from.
    readers: ReaderHold,
    ended: bool,
    state: M::State,
}

impl<M: Meter> Throttle<M> {
    fn quota(&mut self, out: &mut Output<'_>) -> Option<Rc<Bucket>> {
        if let Some(q) = &self.quota {
            return Some(q.clone());
        }
        let env = &self.waiter.env;
        let found = self.source.get(&env.context, &[], |v| {
            host().quota_of(&v).ok_or_else(|| "function did not return an object of type algo.Quota".to_string())
        });
        match found {
            Ok(q) => {
                self.quota = Some(q.clone());
                Some(q)
            }
            Err(e) => {
                tracing::error!(target: "pipeline", "{}: {e}", M::NAME);
                self.ended = true;
                out.emit(runtime_error(e));
                None
            }
        }
    }

    /// Lets through what the quota allows, in order; true if everything went.
    fn drain(&mut self, quota: &Bucket, out: &mut Output<'_>) -> bool {
        while let Some(evt) = self.held.pop_front() {
            if let Some(rest) = M::pass(&mut self.state, evt, quota, out) {
                self.held.push_front(rest);
                return false;
            }
        }
        true
    }

    fn settle(&mut self, quota: &Rc<Bucket>, done: bool) {
        self.waiter.stalled.set(!done);
        self.readers.set(!done);
        if !done {
            quota.wait(self.waiter.clone());
        }
    }
}

impl<M: Meter> Filter for Throttle<M> {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        let Some(quota) = self.quota(out) else { return };
        let waiting = !self.held.is_empty();
        self.held.push_back(evt);
        if !waiting {
            let done = self.drain(&quota, out);
            self.settle(&quota, done);
        }
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        let Some(quota) = self.quota.clone() else { return };
        let done = self.drain(&quota, out);
        self.waiter.stalled.set(!done);
        self.readers.set(!done);
    }
}

impl<M: Meter> Drop for Throttle<M> {
    fn drop(&mut self) {
        if let Some(quota) = &self.quota {
            M::release(&mut self.state, quota);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{StubHost, describe};
    use crate::engine::quota::Tokens;
    use crate::engine::{Context, Head, Pipeline, Value};

    /// A pipeline of one throttle on `quota` (no refill: tests add tokens themselves),
    /// what reached its end, and its context.
    fn throttle<M: Meter>(quota: &Rc<Bucket>) -> (Pipeline, Rc<RefCell<Vec<String>>>, Rc<Context>) {
        StubHost::install();
        let spec = Spec::<M> { source: Given::Fixed(quota.clone()), meter: PhantomData };
        let out = Rc::new(RefCell::new(Vec::new()));
        let sink = out.clone();
        let context = Context::root();
        let layout = crate::engine::host::stub::layout(vec![Box::new(spec)]);
        let p = Pipeline::new(layout, context.clone(), Rc::new(move |e: Event| sink.borrow_mut().push(describe(&e))));
        p.start(&[]);
        (p, out, context)
    }

    fn data(s: &'static str) -> Event {
        Event::Data(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn throttle_data_rate_splits_data_at_the_tokens_and_holds_the_rest_in_order() {
        let quota = Bucket::new(Tokens::new(5.0), None);
        let (p, out, context) = throttle::<super::super::throttle_data_rate::Bytes>(&quota);
        [data("abc"), data("defgh"), Event::end()].into_iter().for_each(|e| p.input(e));
        assert_eq!(*out.borrow(), ["Data abc", "Data de"]);
        assert!(context.upstream.held() && context.downstream.held(), "both readers pause while events wait");
        quota.produce(2.0);
        assert_eq!(*out.borrow(), ["Data abc", "Data de", "Data fg"]);
        quota.produce(10.0);
        assert_eq!(*out.borrow(), ["Data abc", "Data de", "Data fg", "Data h", "StreamEnd"]);
        assert!(!context.upstream.held() && !context.downstream.held());
    }

    #[test]
    fn throttle_message_rate_lets_one_message_through_per_token() {
        let quota = Bucket::new(Tokens::new(1.0), None);
        let (p, out, context) = throttle::<super::super::throttle_message_rate::Messages>(&quota);
        for _ in 0..2 {
            p.input(Event::MessageStart(Head::None));
            p.input(data("x"));
            p.input(Event::MessageEnd(Value::undefined()));
        }
        assert_eq!(*out.borrow(), ["MessageStart", "Data x", "MessageEnd"]);
        assert!(context.upstream.held());
        quota.produce(1.0);
        assert_eq!(out.borrow().len(), 6);
        assert!(!context.upstream.held());
    }
}
