//! `mux(sessionSelector?, options?).to(sub)`, also named `muxQueue`: whole messages from
//! many client pipelines go into shared sessions (instances of `sub`, see `mux_pool`), one
//! after another; the messages each session puts out are answers, handed back in order:
//! each message sent waits for `outputCount` of them (1 unless told).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use boa_engine::{JsResult, JsValue};
use bytes::BytesMut;

use super::Made;
use super::mux_pool::{Pool, PoolOptions, Protocol, Selected, Session, select};
use crate::args::Args;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Layout, Output, host};

/// `outputCount`: the messages a sent message is answered with; negative drops the message.
#[derive(Clone)]
pub(super) enum Count {
    Fixed(i64),
    /// Asked of a function of the message's start for each message.
    Dynamic(Callback),
}

impl Count {
    pub(super) fn read(o: &mut crate::args::Options<'_>) -> JsResult<Count> {
        Ok(match o.value("outputCount")? {
            Some(v) if v.is_callable() => Count::Dynamic(o.function("outputCount")?.unwrap_or_else(|| unreachable!())),
            Some(_) => Count::Fixed(o.number("outputCount")?.map_or(1, |n| n as i64)),
            None => Count::Fixed(1),
        })
    }

    pub(super) fn of(&self, env: &FilterEnv, start: &Event, filter: &str) -> i64 {
        let Count::Dynamic(f) = self else {
            let Count::Fixed(n) = self else { unreachable!() };
            return *n;
        };
        let answer = host().event_value(start).and_then(|v| host().call(&env.context, f, &[v]));
        match answer.and_then(|v| host().to_text(&v)) {
            Ok(t) => t.trim().parse::<f64>().map_or(1, |n| n as i64),
            Err(e) => {
                tracing::error!(target: "pipeline", "{filter} outputCount: {e}");
                1
            }
        }
    }
}

/// `mux(sessionSelector?, options?)`: the selector, when given, comes first.
pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let (selector, at) = match args.value(0) {
        _ if args.is_function(0) => (Some(args.function(0, "a session selector")?), 1),
        v if v.is_object() => (None, 0),
        _ => (None, 1),
    };
    if args.is_function(at) {
        return Err(args.error("options as a function are not supported yet; pass an object"));
    }
    let mut options = args.options(at);
    let pool = PoolOptions::read(&mut options)?;
    let count = Count::read(&mut options)?;
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| {
        Box::new(Spec(Rc::new(Shared { pool: Pool::new(sub, pool), selector, count })))
    })))
}

struct Shared {
    pool: Rc<Pool<Queue>>,
    selector: Option<Callback>,
    count: Count,
}

struct Spec(Rc<Shared>);

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "mux"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let client = Rc::new(Client {
            env: env.clone(),
            waiting: Cell::new(0),
            eos: RefCell::default(),
            outbox: RefCell::default(),
            busy: Cell::new(false),
        });
        Box::new(Mux {
            shared: self.0.clone(),
            env,
            client,
            selected: None,
            session: None,
            head: None,
            body: BytesMut::new(),
        })
    }
}

/// A client pipeline's side of its session: answers wait here until the filter emits them.
struct Client {
    env: FilterEnv,
    /// Messages sent and not wholly answered yet.
    waiting: Cell<usize>,
    /// The client's end, held until its answers are out.
    eos: RefCell<Option<Event>>,
    outbox: RefCell<VecDeque<Event>>,
    /// The filter is processing: it empties the outbox itself before it returns.
    busy: Cell<bool>,
}

impl Client {
    fn push(&self, evt: Event) {
        self.outbox.borrow_mut().push_back(evt);
        if !self.busy.get() {
            self.env.wake();
        }
    }

    /// One sent message is answered.
    fn shift(&self) {
        self.waiting.set(self.waiting.get().saturating_sub(1));
        if self.waiting.get() == 0
            && let Some(eos) = self.eos.take()
        {
            self.push(eos);
        }
    }
}

/// A sent message waiting for its answers.
struct Receiver {
    client: Rc<Client>,
    remaining: Cell<i64>,
    started: Cell<bool>,
}

impl Receiver {
    /// Hands an answer's event to the client; true once all its answers are in. An end in
    /// the middle of an answer ends that answer.
    fn receive(&self, evt: &Event) -> bool {
        match evt {
            Event::MessageStart(_) if !self.started.get() => {
                self.started.set(true);
                self.client.push(evt.clone());
            }
            Event::Data(_) if self.started.get() => self.client.push(evt.clone()),
            Event::MessageEnd(_) | Event::StreamEnd(_) if self.started.get() => {
                self.started.set(false);
                let end = if evt.is_stream_end() { Event::MessageEnd(JsValue::undefined()) } else { evt.clone() };
                self.client.push(end);
                self.remaining.set(self.remaining.get() - 1);
                return self.remaining.get() <= 0;
            }
            _ => {}
        }
        false
    }
}

/// The messages a session's pipeline answers, in the order they were sent.
pub(super) struct Queue {
    receivers: RefCell<VecDeque<Rc<Receiver>>>,
}

impl Protocol for Queue {
    fn new() -> Queue {
        Queue { receivers: RefCell::default() }
    }

    fn reply(session: &Rc<Session<Queue>>, evt: Event) {
        let front = session.proto.receivers.borrow().front().cloned();
        if let Some(r) = front
            && r.receive(&evt)
        {
            session.proto.receivers.borrow_mut().pop_front();
            r.client.shift();
        }
        if evt.is_stream_end() {
            // The session is over: whoever still waits gets its end, as in Pipy.
            let rest: Vec<_> = session.proto.receivers.borrow_mut().drain(..).collect();
            for r in rest {
                r.client.eos.take();
                r.client.waiting.set(0);
                r.client.push(evt.clone());
            }
            session.close();
        }
    }
}

struct Mux {
    shared: Rc<Shared>,
    env: FilterEnv,
    client: Rc<Client>,
    selected: Option<Selected>,
    session: Option<Rc<Session<Queue>>>,
    /// The message being collected: it goes to the session whole.
    head: Option<Event>,
    body: BytesMut,
}

impl Mux {
    /// The session to write into: the one this pipeline has, or (none yet, or it closed)
    /// a fresh one from the pool.
    fn session(&mut self) -> Rc<Session<Queue>> {
        if let Some(s) = self.session.take_if(|s| s.is_closed()) {
            s.release();
        }
        if let Some(s) = &self.session {
            return s.clone();
        }
        let selected = self.selected.get_or_insert_with(|| select(self.shared.selector.as_ref(), &self.env, "mux"));
        let s = self.shared.pool.alloc(selected.clone(), &self.env);
        self.session = Some(s.clone());
        s
    }

    fn send(&mut self, head: Event, tail: Event) {
        let n = self.shared.count.of(&self.env, &head, "mux");
        let body = std::mem::take(&mut self.body).freeze();
        if n < 0 {
            return;
        }
        let session = self.session();
        if n > 0 {
            self.client.waiting.set(self.client.waiting.get() + 1);
            let r =
                Rc::new(Receiver { client: self.client.clone(), remaining: Cell::new(n), started: Cell::new(false) });
            session.proto.receivers.borrow_mut().push_back(r);
        }
        session.input(head);
        if !body.is_empty() {
            session.input(Event::Data(body));
        }
        session.input(tail);
    }

    fn flush(&self, out: &mut Output<'_>) {
        loop {
            let next = self.client.outbox.borrow_mut().pop_front();
            let Some(evt) = next else { return };
            out.emit(evt);
        }
    }
}

impl Filter for Mux {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        self.client.busy.set(true);
        match evt {
            Event::MessageStart(_) => {
                if self.head.is_none() {
                    self.session();
                    self.head = Some(evt);
                    self.body.clear();
                }
            }
            Event::Data(b) => {
                if self.head.is_some() {
                    self.body.extend_from_slice(&b);
                }
            }
            Event::MessageEnd(_) => {
                if let Some(head) = self.head.take() {
                    self.send(head, evt);
                }
            }
            Event::StreamEnd(_) => {
                self.head = None;
                if self.client.waiting.get() > 0 {
                    *self.client.eos.borrow_mut() = Some(evt);
                } else {
                    self.client.outbox.borrow_mut().push_back(evt);
                }
            }
        }
        self.flush(out);
        self.client.busy.set(false);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        self.flush(out);
    }
}

impl Drop for Mux {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            s.release();
        }
    }
}

#[cfg(test)]
#[path = "mux_tests.rs"]
mod tests;
