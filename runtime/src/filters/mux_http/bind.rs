//! How a muxHTTP request finds its HTTP/1 session: by the selector's key, one with room in
//! its pool or a new one (the one opened while the version was chosen, if any).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use boa_engine::{JsObject, JsValue};

use super::{Key, MuxHttp, ResponseDecoder, Session, SessionSink, Shared, key_value};
use crate::engine::{FilterEnv, Pipeline, host};

/// The session key of `value` (the selector's answer), and the object it holds alive.
pub(super) fn http1_key(value: JsValue, env: &FilterEnv) -> (Key, Option<JsObject>, JsValue) {
    let context = &env.context;
    if let Some(obj) = value.as_object() {
        return (Key::Object(obj.as_ref() as *const _ as *const u8 as usize), Some(obj), value);
    }
    if value.is_null_or_undefined() {
        let id = context.inbound.as_ref().map(|i| i.id).unwrap_or(context.id);
        return (Key::Context(id), None, value);
    }
    let text = host().to_text(&value).unwrap_or_default();
    (Key::Text(text), None, value)
}

impl Shared {
    /// An open session for `key` with room for one more request.
    pub(super) fn roomy(&self, key: &Key) -> Option<Rc<Session>> {
        let o = self.options;
        let pools = self.pools.borrow();
        let found = pools.get(key)?.iter().find(|s| {
            !s.closed.get()
                && (o.max_queue == 0 || s.share.get() < o.max_queue)
                && (o.max_messages == 0 || s.messages.get() < o.max_messages)
        });
        found.cloned()
    }
}

impl MuxHttp {
    /// The session this request goes into: one with room in its pool, or (`fresh`, or none
    /// with room) a new one.
    pub(super) fn bind(&mut self, fresh: bool) -> Rc<Session> {
        if let Some(s) = &self.session {
            return s.clone();
        }
        // A session opened while the version was chosen is this request's, whatever else
        // the pool has.
        let opened = self.opened.take();
        let fresh = fresh || opened.is_some();
        let value = self.key.clone().unwrap_or_else(|| key_value(&self.shared, &self.env));
        let (key, key_object, key_value) = http1_key(value, &self.env);
        let found = if fresh { None } else { self.shared.roomy(&key) };
        let session = found.unwrap_or_else(|| {
            let sink = Rc::new(SessionSink(RefCell::new(Weak::new())));
            let session = Rc::new(Session {
                key: key.clone(),
                pipeline: RefCell::new(None),
                decoder: RefCell::new(ResponseDecoder::new()),
                waiters: RefCell::new(VecDeque::new()),
                share: Cell::new(0),
                messages: Cell::new(0),
                closed: Cell::new(false),
                idle_since: Cell::new(None),
                timer: RefCell::new(None),
                shared: Rc::downgrade(&self.shared),
                _key_object: key_object,
                gauge: self.env.context.downstream.clone(),
                upstream: self.env.context.upstream.clone(),
                home: self.env.context.downstream.parent(),
                writing: Cell::new(false),
                turns: RefCell::new(VecDeque::new()),
                tunnel: Cell::new(false),
                interim: Cell::new(false),
            });
            *sink.0.borrow_mut() = Rc::downgrade(&session);
            // A session keyed by its client connection has no one left to serve once that
            // connection is gone: close it then, not maxIdle later (Pipy's weak keys).
            if let (Key::Context(_), Some(inbound)) = (&session.key, &self.env.context.inbound) {
                let weak = Rc::downgrade(&session);
                inbound.on_close(Box::new(move || {
                    if let Some(s) = weak.upgrade() {
                        s.close();
                        s.pipeline.borrow_mut().take();
                    }
                }));
            }
            self.shared.pools.borrow_mut().entry(key).or_default().push(session.clone());
            if let Some(opened) = opened {
                opened.connect(sink);
                *session.pipeline.borrow_mut() = Some(opened.pipeline);
                return session;
            }
            // The session shares the context of the pipeline that made it.
            let p = Pipeline::chained(self.shared.sub.clone(), self.env.context.clone(), sink, self.env.chain.clone());
            let args = if key_value.is_undefined() { vec![] } else { vec![key_value] };
            *session.pipeline.borrow_mut() = Some(p);
            if let Some(p) = session.pipeline.borrow().as_ref() {
                p.start(&args);
            }
            session
        });
        session.share.set(session.share.get() + 1);
        session.idle_since.set(None);
        self.session = Some(session.clone());
        session
    }
}
