//! The upstream's side of a muxHTTP session: decoded responses go to the requests waiting
//! for them, oldest first, and a session that fails owes each of them an end, or (once, for
//! a request that can go again) a retry on a fresh connection.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use boa_engine::JsValue;
use bytes::Bytes;

use super::Session;
use crate::codec::http1::{DecodedResponse, Item, error_response};
use crate::engine::charge::Charge;
use crate::engine::{Event, EventSink, FilterEnv, Head, StreamError};

/// Request bytes kept for a retry, at most: a bigger request is not retried.
const MAX_HELD: usize = 64 * 1024;

/// A request waiting for its response.
pub(super) struct Waiter {
    pub(super) env: FilterEnv,
    pub(super) got_head: Cell<bool>,
    /// The request's bytes as they went out, while it may still be retried: `None` for a
    /// request that may not go twice (not idempotent, or first on its connection, as a
    /// retry always is) or past [`MAX_HELD`], and dropped when its response starts. They
    /// are charged to the buffer budget while kept (written, they would be freed).
    held: RefCell<Option<(Vec<Bytes>, Charge)>>,
    held_len: Cell<usize>,
    /// The whole request went out.
    pub(super) complete: Cell<bool>,
    /// The session failed before any of the response came: the request's filter sends the
    /// held bytes again (see `MuxHttp::resend`).
    pub(super) retry: Cell<bool>,
}

impl Waiter {
    pub(super) fn new(env: FilterEnv, may_retry: bool) -> Waiter {
        Waiter {
            env,
            got_head: Cell::new(false),
            held: RefCell::new(may_retry.then(|| (Vec::new(), Charge::new(0)))),
            held_len: Cell::new(0),
            complete: Cell::new(false),
            retry: Cell::new(false),
        }
    }

    /// Keeps a copy (a reference count) of bytes that went out, while a retry is possible.
    pub(super) fn hold(&self, b: &Bytes) {
        let mut held = self.held.borrow_mut();
        let Some((h, charge)) = held.as_mut() else { return };
        self.held_len.set(self.held_len.get() + b.len());
        if self.held_len.get() > MAX_HELD {
            *held = None;
        } else {
            charge.grow(b.len());
            h.push(b.clone());
        }
    }

    /// The held bytes, gone from here; none once a retry is off.
    pub(super) fn take_held(&self) -> Option<Vec<Bytes>> {
        self.held.take().map(|(bytes, _uncharged)| bytes)
    }
}

impl Session {
    /// Hands decoded response items to the waiting requests, oldest first.
    fn dispatch(&self, item: Item<DecodedResponse>) {
        let front = self.waiters.borrow().front().cloned();
        let Some(w) = front else { return };
        match item {
            Item::Head(r) => {
                // Something came back: the request can no longer go again.
                w.take_held();
                self.interim.set(r.info.interim);
                if r.info.is_final && !r.info.interim {
                    self.closed.set(true);
                }
                if r.info.tunnel {
                    // Out of the pool: no other request may be written into it.
                    self.close();
                    self.tunnel.set(true);
                }
                // After a 1xx alone, a failure still owes the request a final response.
                w.got_head.set(w.got_head.get() || !r.info.interim);
                let theirs = &w.env.context.downstream;
                self.gauge.set_parent(if Rc::ptr_eq(theirs, &self.gauge) {
                    self.home.clone()
                } else {
                    Some(theirs.clone())
                });
                w.env.emit(Event::MessageStart(Head::Response(Rc::new(r.head))));
            }
            Item::Body(b) | Item::Tunnel(b) => w.env.emit(Event::Data(b)),
            // A tunnel's request keeps its place: the bytes that follow are its; so does a
            // request that got a 1xx, whose final response follows.
            Item::End(t) => {
                if !self.tunnel.get() && !self.interim.get() {
                    self.waiters.borrow_mut().pop_front();
                }
                w.env.emit(super::super::decode_http_request::message_end(&t));
            }
            Item::Http2Preface => {}
            Item::Error(e) => {
                tracing::warn!(target: "http", "muxHTTP: bad response from upstream: {e}");
                self.fail(Some("ProtocolError"));
            }
        }
    }

    /// The upstream is gone: the oldest request gets a made-up error response if it had
    /// no head yet, the others the end of their stream. When the connection closed (a FIN
    /// or a reset) with none of the oldest request's response read, and that request may
    /// go again, it is retried instead: a keep-alive upstream closing an idle connection
    /// just as a request went out on it (nginx's `proxy_next_upstream error`).
    pub(super) fn fail(&self, code: Option<&'static str>) {
        self.close();
        let silent = {
            let d = self.decoder.borrow();
            d.is_idle() && d.buffered() == 0
        };
        let closed = matches!(code, None | Some("ConnectionReset"));
        let waiters: Vec<_> = self.waiters.borrow_mut().drain(..).collect();
        for (i, w) in waiters.into_iter().enumerate() {
            if i == 0 && !w.got_head.get() {
                if closed && silent && w.complete.get() && w.held.borrow().is_some() {
                    w.retry.set(true);
                    w.env.wake();
                    continue;
                }
                w.env.emit(Event::MessageStart(Head::Response(Rc::new(error_response(code)))));
                w.env.emit(Event::MessageEnd(JsValue::undefined()));
            } else {
                w.env.emit(Event::StreamEnd(code.map(StreamError::Code)));
            }
        }
    }

    /// The request of `env` went away while its response was still coming (an HTTP/2
    /// stream reset): the connection cannot carry another response before that one ends,
    /// and reading it out is work for nobody, so it closes.
    pub(super) fn abandon(self: &Rc<Self>, env: &FilterEnv) {
        if self.tunnel.get() || !self.waiters.borrow().iter().any(|w| w.env.same(env)) {
            return;
        }
        self.close();
        let s = self.clone();
        tokio::task::spawn_local(async move {
            s.fail(Some("ConnectionReset"));
            s.pipeline.borrow_mut().take();
        });
    }
}

/// Where a session pipeline's output (the upstream's bytes) goes.
pub(super) struct SessionSink(pub(super) RefCell<Weak<Session>>);

impl EventSink for SessionSink {
    fn on_event(&self, evt: Event) {
        let Some(session) = self.0.borrow().upgrade() else { return };
        match evt {
            Event::Data(b) => {
                session.decoder.borrow_mut().feed(b);
                loop {
                    let item = session.decoder.borrow_mut().next();
                    let Some(item) = item else { break };
                    session.dispatch(item);
                }
            }
            Event::StreamEnd(e) => {
                let last = session.decoder.borrow_mut().finish();
                if let Some(item) = last {
                    session.dispatch(item);
                }
                let code = match e {
                    Some(StreamError::Code(c)) => Some(c),
                    Some(StreamError::Value(_)) => Some("RuntimeError"),
                    None => None,
                };
                session.fail(code);
            }
            _ => {}
        }
    }
}
