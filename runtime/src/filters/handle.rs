//! The `handle*` family: `handleMessageStart(fn)`, `handleData(fn)`, `handleMessageEnd(fn)`,
//! `handleStreamEnd(fn)`, `handleStreamStart(fn)`, `handleMessage(fn)`,
//! `handleMessageBody(fn)` (the body as one `Data`) and `handle(fn)`.
//!
//! Each calls `fn(event, index)` for the events of its kind and passes every event on
//! unchanged. If `fn` returns a Promise, that event and all that follow are held until it
//! settles (past 1 MiB of them the connection's readers pause, see [`Held`]); a rejection
//! ends the stream with the error.

use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use super::held::Held;
use super::select::{Family, Pick, Select, Selector, message_options};
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Output, Pass, Value, host};

pub fn make(select: Select, args: &mut Args<'_>) -> JsResult<Made> {
    let (f, limit) = match select {
        Select::Message | Select::Body => message_options(args)?,
        _ => (args.value(0), 0),
    };
    let f = f.as_object().filter(|o| o.is_callable()).ok_or_else(|| args.takes("a function"))?;
    Ok(Made::Filter(Box::new(Spec { select, f, limit })))
}

pub struct Spec {
    pub select: Select,
    pub f: Callback,
    /// The most body bytes `handleMessage` holds.
    pub limit: usize,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        self.select.name(Family::Handle)
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Handle {
            selector: Selector::new(self.select, false, self.limit),
            name: self.name(),
            f: self.f.clone(),
            index: 0,
            ended: false,
            held: Held::new(env.context.clone()),
            env,
        })
    }
}

struct Handle {
    selector: Selector,
    name: &'static str,
    f: Callback,
    env: FilterEnv,
    index: u32,
    ended: bool,
    /// Events waiting for a returned Promise to settle.
    held: Rc<Held>,
}

impl Filter for Handle {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if self.held.waiting() {
            return self.held.push(evt);
        }
        match self.selector.pick(&evt) {
            Pick::Chosen => {}
            Pick::Overflow => {
                self.ended = true;
                return out.emit(self.selector.overflow(self.name));
            }
            Pick::Other | Pick::Collected => return out.emit(evt),
        }
        let index = self.index;
        self.index += 1;
        let host = host();
        let mut arg = Value::undefined();
        let result = self.selector.argument(&evt, &*host).and_then(|a| {
            arg = a;
            host.call(&self.env.context, &self.f, &[arg.clone(), Value::from(index)])
        });
        // The script may have changed the head it was given: pass on what it sees.
        let evt = match evt {
            Event::MessageStart(_) => host.head_of(&arg).map_or(evt, Event::MessageStart),
            evt => evt,
        };
        host.recycle(arg);
        match result {
            Ok(v) if host.is_promise(&v) => {
                self.held.wait(Some(evt));
                // A filter gone before its promise settles (its connection closed) has
                // nothing to pass on.
                let (held, env) = (Rc::downgrade(&self.held), self.env.clone());
                let settled = move |r: Result<Value, String>| {
                    let Some(held) = held.upgrade() else { return };
                    let mut events = held.take().into_iter();
                    match r {
                        Ok(_) => {
                            if let Some(first) = events.next() {
                                env.emit(first);
                            }
                            events.for_each(|e| env.feed(e));
                            held.resume();
                        }
                        Err(e) => {
                            tracing::error!(target: "pipeline", "{e}");
                            held.resume();
                            env.emit(runtime_error(e));
                        }
                    }
                };
                host.on_settled(&v, &self.env.context, Box::new(settled));
            }
            Ok(_) => out.emit(evt),
            Err(e) => {
                tracing::error!(target: "pipeline", "{}: {e}", self.name);
                self.ended = true;
                out.emit(runtime_error(e));
            }
        }
    }

    /// Bytes a callback never sees go by, unless events wait behind a pending promise.
    fn pass(&self) -> Pass {
        if self.ended {
            Pass::Absorb(u64::MAX)
        } else if !self.held.waiting() && self.selector.ignores_data() {
            Pass::Through(u64::MAX)
        } else {
            Pass::No
        }
    }
}

/// The pattern for testing a filter without a script engine: a stub host, a layout with the
/// filter's spec, and a sink that collects what comes out.
#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::StubHost;
    use crate::engine::{Context, Head, Layout, Pipeline};

    fn run(select: Select, input: Vec<Event>) -> (Vec<&'static str>, Vec<String>) {
        run_limited(select, input, crate::options::MESSAGE_LIMIT)
    }

    fn run_limited(select: Select, input: Vec<Event>, limit: usize) -> (Vec<&'static str>, Vec<String>) {
        let stub = StubHost::install();
        let spec = Spec { select, f: StubHost::callback(), limit };
        let layout = Layout { name: "test".into(), filters: vec![Box::new(spec)], ..Default::default() };
        let out = Rc::new(RefCell::new(Vec::new()));
        let sink = out.clone();
        let p = Pipeline::new(Rc::new(layout), Context::root(), Rc::new(move |e: Event| sink.borrow_mut().push(e)));
        p.start(&[]);
        input.into_iter().for_each(|e| p.input(e));
        let kinds = out.borrow().iter().map(Event::type_name).collect();
        let log = stub.log.borrow().clone();
        (kinds, log)
    }

    fn message(body: &'static [u8]) -> Vec<Event> {
        vec![
            Event::MessageStart(Head::None),
            Event::Data(Bytes::from_static(body)),
            Event::MessageEnd(Value::undefined()),
        ]
    }

    #[test]
    fn handle_message_start_calls_once_per_message_and_passes_everything_on() {
        let input = [message(b"ab"), message(b"cde"), vec![Event::end()]].concat();
        let (out, log) = run(Select::MessageStart, input);
        assert_eq!(out, ["MessageStart", "Data", "MessageEnd", "MessageStart", "Data", "MessageEnd", "StreamEnd"]);
        assert_eq!(log, ["event MessageStart", "call/2", "event MessageStart", "call/2"]);
    }

    #[test]
    fn handle_message_collects_whole_bodies() {
        let input = [message(b"ab"), message(b"cde")].concat();
        let (out, log) = run(Select::Message, input);
        assert_eq!(out.len(), 6);
        assert_eq!(log, ["message 2", "call/2", "message 3", "call/2"]);
    }

    #[test]
    fn handle_message_ends_the_stream_past_its_limit() {
        let input = [message(b"ab"), message(b"cdef"), message(b"g")].concat();
        let (out, log) = run_limited(Select::Message, input, 3);
        assert_eq!(out, ["MessageStart", "Data", "MessageEnd", "MessageStart", "StreamEnd"]);
        assert_eq!(log, ["message 2", "call/2"]);
    }
}
