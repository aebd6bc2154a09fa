//! The `handle*` family: `handleMessageStart(fn)`, `handleData(fn)`, `handleMessageEnd(fn)`,
//! `handleStreamEnd(fn)`, `handleStreamStart(fn)`, `handleMessage(fn)` and `handle(fn)`.
//!
//! Each calls `fn(event, index)` for the events of its kind and passes every event on
//! unchanged. If `fn` returns a Promise, that event and all that follow are held until it
//! settles; a rejection ends the stream with the error.

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
            Kind::All => "handle",
            Kind::StreamStart => "handleStreamStart",
            Kind::MessageStart => "handleMessageStart",
            Kind::Data => "handleData",
            Kind::MessageEnd => "handleMessageEnd",
            Kind::StreamEnd => "handleStreamEnd",
            Kind::Message => "handleMessage",
        }
    }
}

fn make(kind: Kind, args: &[JsValue]) -> JsResult<Made> {
    let f = args
        .first()
        .and_then(|v| v.as_object())
        .filter(|o| o.is_callable())
        .ok_or_else(|| js::type_error(format!("{}() takes a function", kind.name())))?;
    Ok(Made::Filter(Box::new(Spec { kind, f })))
}

pub fn make_handle(args: &[JsValue], _: &mut Context) -> JsResult<Made> {
    make(Kind::All, args)
}
pub fn make_stream_start(args: &[JsValue], _: &mut Context) -> JsResult<Made> {
    make(Kind::StreamStart, args)
}
pub fn make_message_start(args: &[JsValue], _: &mut Context) -> JsResult<Made> {
    make(Kind::MessageStart, args)
}
pub fn make_data(args: &[JsValue], _: &mut Context) -> JsResult<Made> {
    make(Kind::Data, args)
}
pub fn make_message_end(args: &[JsValue], _: &mut Context) -> JsResult<Made> {
    make(Kind::MessageEnd, args)
}
pub fn make_stream_end(args: &[JsValue], _: &mut Context) -> JsResult<Made> {
    make(Kind::StreamEnd, args)
}
pub fn make_message(args: &[JsValue], _: &mut Context) -> JsResult<Made> {
    make(Kind::Message, args)
}

struct Spec {
    kind: Kind,
    f: JsObject,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Handle {
            kind: self.kind,
            f: self.f.clone(),
            env,
            index: 0,
            started: false,
            ended: false,
            held: Rc::new(RefCell::new(None)),
            message: None,
        })
    }
}

struct Handle {
    kind: Kind,
    f: JsObject,
    env: FilterEnv,
    index: u32,
    started: bool,
    ended: bool,
    /// Events waiting for a returned Promise to settle.
    held: Rc<RefCell<Option<VecDeque<Event>>>>,
    /// The message being assembled for `handleMessage`.
    message: Option<(Head, BytesMut)>,
}

impl Handle {
    fn wants(&mut self, evt: &Event) -> bool {
        match (self.kind, evt) {
            (Kind::All, _) => true,
            (Kind::StreamStart, _) => !std::mem::replace(&mut self.started, true),
            (Kind::MessageStart, Event::MessageStart(_)) => true,
            (Kind::Data, Event::Data(_)) => true,
            (Kind::MessageEnd, Event::MessageEnd(_)) => true,
            (Kind::StreamEnd, Event::StreamEnd(_)) => true,
            (Kind::Message, Event::MessageStart(h)) => {
                self.message = Some((h.clone(), BytesMut::new()));
                false
            }
            (Kind::Message, Event::Data(d)) => {
                if let Some((_, body)) = &mut self.message {
                    body.extend_from_slice(d);
                }
                false
            }
            (Kind::Message, Event::MessageEnd(_)) => self.message.is_some(),
            _ => false,
        }
    }

    /// The callback's argument: the event itself, or the whole message for handleMessage.
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
}

impl Filter for Handle {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if let Some(held) = self.held.borrow_mut().as_mut() {
            held.push_back(evt);
            return;
        }
        if !self.wants(&evt) {
            out.emit(evt);
            return;
        }
        let index = self.index;
        self.index += 1;
        let f = self.f.clone();
        let mut arg = JsValue::undefined();
        let result = js::with_js(|ctx| -> Result<JsValue, String> {
            arg = self.argument(&evt, ctx).map_err(|e| js::describe(&e, ctx))?;
            js::call_with(&self.env.context, &f, &[arg.clone(), JsValue::from(index)], ctx)
        })
        .unwrap_or_else(|| Err("re-entrant call into JS".into()));
        // The script may have changed the head it was given: pass on what it sees.
        let evt = match evt {
            Event::MessageStart(_) if self.kind != Kind::Message => match js::message::event_head(&arg) {
                Some(head) => Event::MessageStart(head),
                None => evt,
            },
            evt => evt,
        };
        match result {
            Ok(v) if js::promise::is_promise(&v) => {
                let queue = VecDeque::from([evt]);
                *self.held.borrow_mut() = Some(queue);
                let (held, env) = (self.held.clone(), self.env.clone());
                js::promise::on_settled(&v, &self.env.context, move |r| {
                    let events = held.borrow_mut().take().unwrap_or_default();
                    let mut events = events.into_iter();
                    match r {
                        Ok(_) => {
                            if let Some(first) = events.next() {
                                env.emit(first);
                            }
                            events.for_each(|e| env.feed(e));
                        }
                        Err(e) => {
                            tracing::error!(target: "pipeline", "{e}");
                            env.emit(js::runtime_error(e));
                        }
                    }
                });
            }
            Ok(_) => out.emit(evt),
            Err(e) => {
                tracing::error!(target: "pipeline", "{}: {e}", self.kind.name());
                self.ended = true;
                out.emit(js::runtime_error(e));
            }
        }
    }
}
