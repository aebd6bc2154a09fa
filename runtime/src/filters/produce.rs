//! `produce(producer)`, of legacy configurations (`pipy().task().produce(...)`): at the
//! stream's first event, outputs what `producer` gives (events, a Message, an array of them,
//! or a Promise of one), asking a function again and again until what it gives ends the
//! stream (a `StreamEnd`) or is no event: then `StreamEnd('production is not an event')`, as
//! Pipy's. A Promise is waited for before the next call; a rejection ends the stream with its
//! error. The input is not passed on.
//!
//! Unlike Pipy, a function that keeps giving at once lets the worker do other work every
//! [`ROUNDS`] calls (Pipy's loops without yielding, and its worker serves nothing else).

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Output, Value, host};

/// Calls in a row before the worker gets to do something else.
const ROUNDS: usize = 64;

#[derive(Clone)]
enum Producer {
    Function(Callback),
    Events(Value),
}

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let producer = match args.is_function(0) {
        true => Producer::Function(args.function(0, "a function or events")?),
        false => Producer::Events(args.value(0)),
    };
    Ok(Made::Filter(Box::new(Spec { producer })))
}

struct Spec {
    producer: Producer,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "produce"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let producer = self.producer.clone();
        Box::new(Produce { producer, env, started: false, done: false, settled: Rc::default() })
    }
}

struct Produce {
    producer: Producer,
    env: FilterEnv,
    started: bool,
    /// The stream ended, or a promise is awaited (`settled` gets its outcome).
    done: bool,
    settled: Rc<RefCell<Option<Result<Value, String>>>>,
}

impl Produce {
    /// Asks the producer until it gives a promise or ends; past [`ROUNDS`] calls, goes on
    /// after the worker had a turn.
    fn produce(&mut self, out: &mut Output<'_>) {
        let host = host();
        for _ in 0..ROUNDS {
            let value = match &self.producer {
                Producer::Function(f) => host.call(&self.env.context, f, &[]),
                Producer::Events(v) => Ok(v.clone()),
            };
            let value = match value {
                Ok(v) => v,
                Err(e) => return self.fail(e, out),
            };
            if host.is_promise(&value) {
                self.done = true;
                let (env, settled) = (self.env.clone(), self.settled.clone());
                let done = move |r| {
                    *settled.borrow_mut() = Some(r);
                    env.wake();
                };
                return host.on_settled(&value, &self.env.context, Box::new(done));
            }
            if !self.consume(&value, out) || matches!(self.producer, Producer::Events(_)) {
                return;
            }
        }
        let env = self.env.clone();
        tokio::task::spawn_local(async move { env.wake() });
    }

    /// Outputs the events `value` stands for; false once the stream ended.
    fn consume(&mut self, value: &Value, out: &mut Output<'_>) -> bool {
        if value.is_null_or_undefined() {
            return true;
        }
        let Ok(events) = host().to_events(value) else {
            self.fail("production is not an event".into(), out);
            return false;
        };
        for evt in events {
            let end = evt.is_stream_end();
            out.emit(evt);
            if end {
                self.done = true;
                return false;
            }
        }
        true
    }

    fn fail(&mut self, e: String, out: &mut Output<'_>) {
        tracing::error!(target: "pipeline", "produce: {e}");
        self.done = true;
        out.emit(runtime_error(e));
    }
}

impl Filter for Produce {
    fn process(&mut self, _: Event, out: &mut Output<'_>) {
        if !self.started {
            self.started = true;
            self.produce(out);
        }
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        let settled = self.settled.borrow_mut().take();
        match settled {
            Some(Ok(v)) => {
                self.done = false;
                if self.consume(&v, out) && matches!(self.producer, Producer::Function(_)) {
                    self.produce(out);
                }
            }
            Some(Err(e)) => self.fail(e, out),
            None if self.started && !self.done => self.produce(out),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    fn data(b: &'static [u8]) -> Event {
        Event::Data(Bytes::from_static(b))
    }

    #[test]
    fn a_function_is_asked_until_it_ends_the_stream_and_the_input_is_dropped() {
        let stub = StubHost::install();
        let given = [vec![data(b"a")], vec![], vec![data(b"b"), Event::StreamEnd(None), data(b"c")], vec![data(b"d")]];
        stub.events.borrow_mut().extend(given);
        stub.returns.borrow_mut().extend([1, 2, 3, 4].map(Value::from));
        let spec = Spec { producer: Producer::Function(StubHost::callback()) };
        let out = stub::run(vec![Box::new(spec)], vec![data(b"in"), data(b"in2")]);
        assert_eq!(out, ["Data a", "Data b", "StreamEnd"]);
        assert_eq!(stub.log.borrow().iter().filter(|l| l.starts_with("call")).count(), 3);
    }

    #[test]
    fn events_given_as_a_value_go_out_once() {
        let stub = StubHost::install();
        stub.events.borrow_mut().extend([vec![data(b"x")], vec![data(b"again")]]);
        let spec = Spec { producer: Producer::Events(Value::from(1)) };
        let out = stub::run(vec![Box::new(spec)], vec![data(b"in"), data(b"in2")]);
        assert_eq!(out, ["Data x"]);
    }
}
