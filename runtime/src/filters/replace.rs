//! The `replace*` family: `replaceStreamStart`, `replaceMessageStart`, `replaceData`,
//! `replaceMessageEnd`, `replaceStreamEnd`, `replaceMessage`, `replaceMessageBody` and
//! `replace` (any event).
//!
//! Each replaces the events of its kind with a replacement: static events (the same value
//! every time), or what `fn(event, index)` returns (`replaceMessage` gets the whole
//! `Message`, `replaceMessageBody` the body as one `Data`, its head and end passing on), or
//! nothing at all when no replacement is given. A returned Promise holds the
//! events that follow until it resolves (past 1 MiB of them the connection's readers pause,
//! see [`Held`]). Other events pass unchanged.
//!
//! A filter that can change a body (`replaceData`, `replaceMessage`, `replace`) drops the
//! `content-length` of the heads it passes or emits: the old length no longer describes
//! the body, and the encoder frames the new one itself.

use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use super::content_encoding::drop_length;
use super::held::Held;
use super::select::{Family, Pick, Select, Selector, message_options};
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Output, Value, host};

/// Events given once for all, or a function returning them; nothing at all for `None`.
type Replacement = Option<Given<Value>>;

pub fn make(select: Select, args: &mut Args<'_>) -> JsResult<Made> {
    let (first, limit) = match select {
        Select::Message | Select::Body => message_options(args)?,
        _ => (args.value(0), 0),
    };
    let replacement = match first.as_object().filter(|o| o.is_callable()) {
        _ if first.is_undefined() => None,
        Some(f) => Some(Given::Dynamic(f)),
        None => {
            args.check_events(&first)?;
            Some(Given::Fixed(first))
        }
    };
    Ok(Made::Filter(Box::new(Spec { select, replacement, limit })))
}

struct Spec {
    select: Select,
    replacement: Replacement,
    /// The most body bytes `replaceMessage` holds.
    limit: usize,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        self.select.name(Family::Replace)
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Replace {
            // A stream ending inside a message completes it, and that end is consumed.
            selector: Selector::new(self.select, true, self.limit),
            name: self.name(),
            replacement: self.replacement.clone(),
            index: 0,
            ended: false,
            changes_bodies: matches!(self.select, Select::Data | Select::Message | Select::All | Select::Body),
            keeps_end: self.select == Select::Body,
            held: Held::new(env.context.clone()),
            env,
        })
    }
}

struct Replace {
    selector: Selector,
    name: &'static str,
    replacement: Replacement,
    env: FilterEnv,
    index: u32,
    ended: bool,
    /// Whether the replacements can change a body: heads lose their `content-length`.
    changes_bodies: bool,
    /// Whether the event that completes a body goes on after its replacement.
    keeps_end: bool,
    /// Events waiting for a returned Promise to settle.
    held: Rc<Held>,
}

impl Replace {
    /// `evt` with its head's `content-length` dropped when this filter can change bodies.
    fn reframe(&self, evt: Event) -> Event {
        match evt {
            Event::MessageStart(head) if self.changes_bodies => Event::MessageStart(drop_length(head)),
            evt => evt,
        }
    }

    fn emit_all(&self, events: Vec<Event>, out: &mut Output<'_>) {
        events.into_iter().for_each(|e| out.emit(self.reframe(e)));
    }

    fn fail(&mut self, e: String, out: &mut Output<'_>) {
        tracing::error!(target: "pipeline", "{}: {e}", self.name);
        self.ended = true;
        out.emit(runtime_error(e));
    }
}

fn not_events(e: String) -> String {
    format!("{e}: not an event or Message or an array of those")
}

impl Filter for Replace {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if self.held.waiting() {
            return self.held.push(evt);
        }
        match self.selector.pick(&evt) {
            Pick::Other => return out.emit(self.reframe(evt)),
            Pick::Collected => return,
            Pick::Overflow => {
                self.ended = true;
                return out.emit(self.selector.overflow(self.name));
            }
            Pick::Chosen => {}
        }
        let end = self.keeps_end.then(|| evt.clone());
        self.replace_chosen(evt, out);
        if let Some(end) = end.filter(|_| !self.ended && !self.held.waiting()) {
            out.emit(end);
        }
    }
}

impl Replace {
    /// Replaces the event the selector chose (with what `replacement` makes of it).
    fn replace_chosen(&mut self, evt: Event, out: &mut Output<'_>) {
        let host = host();
        let f = match &self.replacement {
            None => return self.selector.discard(),
            Some(Given::Fixed(v)) => {
                self.selector.discard();
                return match host.to_events(v) {
                    Ok(events) => self.emit_all(events, out),
                    Err(e) => self.fail(not_events(e), out),
                };
            }
            Some(Given::Dynamic(f)) => f.clone(),
        };
        let index = self.index;
        self.index += 1;
        let result = self
            .selector
            .argument(&evt, &*host)
            .and_then(|arg| host.call(&self.env.context, &f, &[arg, Value::from(index)]));
        match result {
            Ok(v) if host.is_promise(&v) => {
                // A body's end waits with what follows, and goes on after the replacement.
                self.held.wait(self.keeps_end.then_some(evt));
                // A filter gone before its promise settles (its connection closed) has
                // nothing to pass on.
                let (held, env, changes_bodies) = (Rc::downgrade(&self.held), self.env.clone(), self.changes_bodies);
                let settled = move |r: Result<Value, String>| {
                    let Some(held) = held.upgrade() else { return };
                    let events = r.and_then(|v| crate::engine::host().to_events(&v).map_err(not_events));
                    let waiting = held.take();
                    match events {
                        Ok(events) => {
                            events.into_iter().for_each(|e| match e {
                                Event::MessageStart(h) if changes_bodies => {
                                    env.emit(Event::MessageStart(drop_length(h)))
                                }
                                e => env.emit(e),
                            });
                            waiting.into_iter().for_each(|e| env.feed(e));
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
            Ok(v) => match host.to_events(&v) {
                Ok(events) => self.emit_all(events, out),
                Err(e) => self.fail(not_events(e), out),
            },
            Err(e) => self.fail(e, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use bytes::Bytes;

    use super::*;
    use crate::codec::http1::{Header, RequestHead};
    use crate::engine::Head;
    use crate::engine::host::stub::{self, StubHost};

    fn spec(select: Select, replacement: Replacement) -> Vec<Box<dyn FilterSpec>> {
        vec![Box::new(Spec { select, replacement, limit: crate::options::MESSAGE_LIMIT })]
    }

    fn request(body: &'static str) -> Vec<Event> {
        let head = RequestHead { headers: vec![Header::new("content-length", "2")], ..RequestHead::default() };
        vec![
            Event::MessageStart(Head::Request(Rc::new(head))),
            Event::Data(Bytes::from_static(body.as_bytes())),
            Event::MessageEnd(Value::undefined()),
        ]
    }

    /// The head that reached the sink still says how long the body is.
    fn length_of(input: Vec<Event>, select: Select, replacement: Replacement) -> Option<String> {
        let seen = Rc::new(std::cell::RefCell::new(None));
        let sink = seen.clone();
        let p = crate::engine::Pipeline::new(
            stub::layout(spec(select, replacement)),
            crate::engine::Context::root(),
            Rc::new(move |e: Event| {
                if let Event::MessageStart(Head::Request(r)) = e {
                    *sink.borrow_mut() =
                        r.headers.iter().find(|h| &*h.name == "content-length").map(|h| h.value.to_string());
                }
            }),
        );
        p.start(&[]);
        input.into_iter().for_each(|e| p.input(e));
        seen.take()
    }

    #[test]
    fn replace_data_with_fixed_events_swaps_each_data_and_drops_the_length() {
        let stub = StubHost::install();
        stub.events.borrow_mut().extend([vec![Event::Data(Bytes::from_static(b"XYZ"))]]);
        let out = stub::run(spec(Select::Data, Some(Given::Fixed(Value::undefined()))), request("ab"));
        assert_eq!(out, ["MessageStart", "Data XYZ", "MessageEnd"]);
        StubHost::install();
        assert_eq!(length_of(request("ab"), Select::Data, Some(Given::Fixed(Value::undefined()))), None);
        assert_eq!(length_of(request("ab"), Select::MessageEnd, None).as_deref(), Some("2"));
    }

    #[test]
    fn replace_with_no_replacement_removes_the_events_chosen() {
        StubHost::install();
        let input = [request("ab"), vec![Event::end()]].concat();
        let out = stub::run(spec(Select::MessageStart, None), input);
        assert_eq!(out, ["Data ab", "MessageEnd", "StreamEnd"]);
    }

    #[test]
    fn replace_data_with_a_function_calls_it_once_per_event_with_two_arguments() {
        let stub = StubHost::install();
        let first = vec![Event::Data(Bytes::from_static(b"1"))];
        let second = vec![Event::Data(Bytes::from_static(b"2")), Event::Data(Bytes::from_static(b"2"))];
        stub.events.borrow_mut().extend([first, second]);
        let input = [request("ab"), request("cd")].concat();
        let out = stub::run(spec(Select::Data, Some(Given::Dynamic(StubHost::callback()))), input);
        assert_eq!(out, ["MessageStart", "Data 1", "MessageEnd", "MessageStart", "Data 2", "Data 2", "MessageEnd"]);
        assert_eq!(*stub.log.borrow(), ["event Data", "call/2", "event Data", "call/2"]);
    }

    #[test]
    fn replace_message_ends_the_stream_past_its_limit() {
        StubHost::install();
        let spec: Vec<Box<dyn FilterSpec>> =
            vec![Box::new(Spec { select: Select::Message, replacement: None, limit: 1 })];
        let out = stub::run(spec, request("ab"));
        assert_eq!(out, ["StreamEnd error"]);
    }
}
