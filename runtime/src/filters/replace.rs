//! The `replace*` family: `replaceStreamStart`, `replaceMessageStart`, `replaceData`,
//! `replaceMessageEnd`, `replaceStreamEnd`, `replaceMessage` and `replace` (any event).
//!
//! Each replaces the events of its kind with a replacement: static events (the same value
//! every time), or what `fn(event, index)` returns (`replaceMessage` gets the whole
//! `Message`), or nothing at all when no replacement is given. A returned Promise holds the
//! events that follow until it resolves. Other events pass unchanged.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use boa_engine::{Context, JsObject, JsResult, JsValue};
use bytes::BytesMut;

use super::Made;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output};
use crate::js;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    All,
    StreamStart,
    MessageStart,
    Data,
    MessageEnd,
    StreamEnd,
    Message,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::All => "replace",
            Kind::StreamStart => "replaceStreamStart",
            Kind::MessageStart => "replaceMessageStart",
            Kind::Data => "replaceData",
            Kind::MessageEnd => "replaceMessageEnd",
            Kind::StreamEnd => "replaceStreamEnd",
            Kind::Message => "replaceMessage",
        }
    }
}

#[derive(Clone)]
enum Replacement {
    Nothing,
    Static(JsValue),
    Function(JsObject),
}

fn make(kind: Kind, args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    let replacement = match args.first() {
        None => Replacement::Nothing,
        Some(v) if v.is_undefined() => Replacement::Nothing,
        Some(v) => match v.as_object().filter(|o| o.is_callable()) {
            Some(f) => Replacement::Function(f.clone()),
            None => {
                js::events::from_value(v, ctx).map_err(|e| js::type_error(format!("{}(): {e}", kind.name())))?;
                Replacement::Static(v.clone())
            }
        },
    };
    Ok(Made::Filter(Box::new(Spec { kind, replacement })))
}

pub fn make_replace(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    make(Kind::All, args, ctx)
}
pub fn make_stream_start(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    make(Kind::StreamStart, args, ctx)
}
pub fn make_message_start(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    make(Kind::MessageStart, args, ctx)
}
pub fn make_data(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    make(Kind::Data, args, ctx)
}
pub fn make_message_end(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    make(Kind::MessageEnd, args, ctx)
}
pub fn make_stream_end(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    make(Kind::StreamEnd, args, ctx)
}
pub fn make_message(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    make(Kind::Message, args, ctx)
}

struct Spec {
    kind: Kind,
    replacement: Replacement,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Replace {
            kind: self.kind,
            replacement: self.replacement.clone(),
            env,
            index: 0,
            started: false,
            ended: false,
            held: Rc::new(RefCell::new(None)),
            message: None,
        })
    }
}

struct Replace {
    kind: Kind,
    replacement: Replacement,
    env: FilterEnv,
    index: u32,
    started: bool,
    ended: bool,
    /// Events waiting for a returned Promise to settle.
    held: Rc<RefCell<Option<VecDeque<Event>>>>,
    /// The message being collected for `replaceMessage`.
    message: Option<(Head, BytesMut)>,
}

/// What to do with one input event.
enum Step {
    Pass(Event),
    Swallow,
    Replace(Event),
}

impl Replace {
    fn step(&mut self, evt: Event) -> Step {
        match (self.kind, &evt) {
            (Kind::All, _)
            | (Kind::MessageStart, Event::MessageStart(_))
            | (Kind::Data, Event::Data(_))
            | (Kind::MessageEnd, Event::MessageEnd(_))
            | (Kind::StreamEnd, Event::StreamEnd(_)) => Step::Replace(evt),
            (Kind::StreamStart, _) if !std::mem::replace(&mut self.started, true) => Step::Replace(evt),
            (Kind::Message, Event::MessageStart(h)) => {
                self.message = Some((h.clone(), BytesMut::new()));
                Step::Swallow
            }
            (Kind::Message, Event::Data(d)) if self.message.is_some() => {
                if let Some((_, body)) = &mut self.message {
                    body.extend_from_slice(d);
                }
                Step::Swallow
            }
            // A stream ending inside a message completes it, and that end is consumed.
            (Kind::Message, Event::MessageEnd(_) | Event::StreamEnd(_)) if self.message.is_some() => Step::Replace(evt),
            _ => Step::Pass(evt),
        }
    }

    /// The callback's argument: the event itself, or the whole message for replaceMessage.
    fn argument(&mut self, evt: &Event, ctx: &mut Context) -> JsResult<JsValue> {
        if self.kind != Kind::Message {
            return js::events::to_value(evt, ctx);
        }
        let (head, body) = self.message.take().unwrap_or((Head::None, BytesMut::new()));
        let tail = match evt {
            Event::MessageEnd(t) => t.clone(),
            _ => JsValue::undefined(),
        };
        js::message::collected(&head, &body, tail, ctx)
    }

    fn fail(&mut self, e: String, out: &mut Output<'_>) {
        tracing::error!(target: "pipeline", "{}: {e}", self.kind.name());
        self.ended = true;
        out.emit(js::runtime_error(e));
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
        if let Some(held) = self.held.borrow_mut().as_mut() {
            held.push_back(evt);
            return;
        }
        let evt = match self.step(evt) {
            Step::Pass(evt) => return out.emit(evt),
            Step::Swallow => return,
            Step::Replace(evt) => evt,
        };
        let f = match &self.replacement {
            Replacement::Nothing => {
                self.message = None;
                return;
            }
            Replacement::Static(v) => {
                self.message = None;
                return match js::events::to_events(v) {
                    Ok(events) => events.into_iter().for_each(|e| out.emit(e)),
                    Err(e) => self.fail(not_events(e), out),
                };
            }
            Replacement::Function(f) => f.clone(),
        };
        let index = self.index;
        self.index += 1;
        let result = js::with_js(|ctx| -> Result<Result<Vec<Event>, JsValue>, String> {
            let arg = self.argument(&evt, ctx).map_err(|e| js::describe(&e, ctx))?;
            let v = js::call_with(&self.env.context, &f, &[arg, JsValue::from(index)], ctx)?;
            if js::promise::is_promise(&v) {
                return Ok(Err(v));
            }
            js::events::from_value(&v, ctx).map(Ok).map_err(not_events)
        })
        .unwrap_or_else(|| Err("re-entrant call into JS".into()));
        match result {
            Ok(Ok(events)) => events.into_iter().for_each(|e| out.emit(e)),
            Ok(Err(promise)) => {
                *self.held.borrow_mut() = Some(VecDeque::new());
                let (held, env) = (self.held.clone(), self.env.clone());
                js::promise::on_settled(&promise, &self.env.context, move |r| {
                    let events = r.and_then(|v| js::events::to_events(&v).map_err(not_events));
                    let held = held.borrow_mut().take().unwrap_or_default();
                    match events {
                        Ok(events) => {
                            events.into_iter().for_each(|e| env.emit(e));
                            held.into_iter().for_each(|e| env.feed(e));
                        }
                        Err(e) => {
                            tracing::error!(target: "pipeline", "{e}");
                            env.emit(js::runtime_error(e));
                        }
                    }
                });
            }
            Err(e) => self.fail(e, out),
        }
    }
}
