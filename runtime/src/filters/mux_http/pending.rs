//! A muxHTTP whose `version` function returned a Promise. As in Pipy, the version belongs
//! to the session, and the Promise is often settled by the session itself (Pipy's 005:
//! connectTLS's `handshake` resolves it with the protocol ALPN chose), so the session's
//! pipeline is opened first and the request waits; once the Promise settles, an HTTP/1 or
//! HTTP/2 muxHTTP adopts that pipeline and the request goes.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use boa_engine::JsValue;
use bytes::Bytes;

use super::{Shared, is_http2};
use crate::engine::{Event, EventSink, Filter, FilterEnv, Output, Pipeline, host};

/// A session's pipeline, started before the session that will own it exists.
pub struct Opened {
    pub pipeline: Pipeline,
    relay: Rc<Relay>,
}

impl Opened {
    /// Hands the pipeline's output, what came already included, to its owner.
    pub fn connect(&self, sink: Rc<dyn EventSink>) {
        *self.relay.to.borrow_mut() = Some(sink.clone());
        let early = self.relay.early.take();
        early.into_iter().for_each(|evt| sink.on_event(evt));
    }
}

/// The output of an [`Opened`] pipeline: kept until its owner is known, then passed on.
struct Relay {
    to: RefCell<Option<Rc<dyn EventSink>>>,
    early: RefCell<Vec<Event>>,
    /// The pipeline ended before anyone owned it.
    ended: Cell<bool>,
    /// The waiting request, woken by an early end (the Promise may never settle then).
    waiting: FilterEnv,
}

impl EventSink for Relay {
    fn on_event(&self, evt: Event) {
        let to = self.to.borrow().clone();
        if let Some(to) = to {
            return to.on_event(evt);
        }
        if matches!(evt, Event::StreamEnd(_)) {
            self.ended.set(true);
            self.waiting.wake();
        }
        self.early.borrow_mut().push(evt);
    }
}

/// The request's filter while the version is unknown.
pub(super) struct Pending {
    shared: Rc<Shared>,
    env: FilterEnv,
    key: JsValue,
    opened: Option<Opened>,
    relay: Rc<Relay>,
    /// The request's events, held (their bytes counted on the client's gauge) until then.
    held: Vec<Event>,
    held_len: usize,
    /// HTTP/2 or not, once the Promise settled.
    chosen: Rc<Cell<Option<bool>>>,
    inner: Option<Box<dyn Filter>>,
}

impl Pending {
    /// `key` is the selector's answer, asked already.
    pub(super) fn new(shared: Rc<Shared>, env: FilterEnv, key: JsValue, promise: &JsValue) -> Pending {
        let relay = Rc::new(Relay {
            to: RefCell::default(),
            early: RefCell::default(),
            ended: Cell::new(false),
            waiting: env.clone(),
        });
        // The session shares the context of the pipeline that made it, as its pipelines do.
        let pipeline = Pipeline::chained(shared.sub.clone(), env.context.clone(), relay.clone(), env.chain.clone());
        let args = if key.is_null_or_undefined() { vec![] } else { vec![key.clone()] };
        pipeline.start(&args);
        // Pipy's session starts its connection at once (a TLS client says hello then); here
        // a filter starts at its first event: an empty one.
        pipeline.input(Event::Data(Bytes::new()));
        let chosen = Rc::new(Cell::new(None));
        let (set, wake) = (chosen.clone(), env.clone());
        let done = Box::new(move |v: Result<JsValue, String>| {
            let http2 = match v {
                Ok(v) => is_http2(&host().to_text(&v).unwrap_or_default()),
                Err(e) => {
                    tracing::error!(target: "http", "muxHTTP version: {e}");
                    false
                }
            };
            set.set(Some(http2));
            wake.wake();
        });
        host().on_settled(promise, &env.context, done);
        let opened = Some(Opened { pipeline, relay: relay.clone() });
        Pending { shared, env, key, opened, relay, held: Vec::new(), held_len: 0, chosen, inner: None }
    }

    /// The muxHTTP for the version chosen, once it is known (HTTP/1 if the session ended
    /// first: it answers as for any upstream that went away).
    fn settle(&mut self, out: &mut Output<'_>) {
        let http2 = match self.chosen.get() {
            Some(v) => v,
            None if self.relay.ended.get() => false,
            None => return,
        };
        let Some(opened) = self.opened.take() else { return };
        let key = std::mem::take(&mut self.key);
        let inner = self.inner.insert(self.shared.filter(self.env.clone(), http2, Some(key), Some(opened)));
        self.env.context.upstream.sub(std::mem::take(&mut self.held_len));
        std::mem::take(&mut self.held).into_iter().for_each(|evt| inner.process(evt, out));
    }
}

impl Filter for Pending {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if let Some(inner) = &mut self.inner {
            return inner.process(evt, out);
        }
        if let Event::Data(b) = &evt {
            self.held_len += b.len();
            self.env.context.upstream.add(b.len());
        }
        self.held.push(evt);
        self.settle(out);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        match &mut self.inner {
            Some(inner) => inner.wake(out),
            None => self.settle(out),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.env.context.upstream.sub(self.held_len);
    }
}
