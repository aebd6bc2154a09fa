//! `muxFastCGI(sessionSelector?, options?).to(sub)`: the client side of FastCGI. A client
//! pipeline's request message (head `{ role?, keepAlive?, params }`, body the request's
//! stdin) becomes a request of its own id on a shared session (see `mux_pool`), its records
//! interleaved with other requests'; the answer comes back as a message whose body is the
//! application's stdout and whose tail is `{ appStatus, protocolStatus, stderr }`.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use boa_engine::JsResult;
use bytes::{Bytes, BytesMut};

use super::Made;
use super::mux_pool::{Pool, PoolOptions, Protocol, Selected, Session, select};
use crate::args::Args;
use crate::codec::fcgi::{self, Decoder, Record};
use crate::codec::tree::Tree;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Head, Layout, Output, StreamError, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let (selector, at) = match args.value(0) {
        _ if args.is_function(0) => (Some(args.function(0, "a session selector")?), 1),
        v if v.is_object() => (None, 0),
        _ => (None, 1),
    };
    if args.is_function(at) {
        return Err(args.error("options as a function are not supported yet; pass an object"));
    }
    let pool = PoolOptions::read(&mut args.options(at))?;
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| {
        Box::new(Spec(Rc::new(Shared { pool: Pool::new(sub, pool), selector })))
    })))
}

struct Shared {
    pool: Rc<Pool<Connection>>,
    selector: Option<Callback>,
}

struct Spec(Rc<Shared>);

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "muxFastCGI"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let request = Rc::new(Request {
            env: env.clone(),
            outbox: RefCell::default(),
            busy: Cell::new(false),
            started: Cell::new(false),
            answered: Cell::new(false),
            stderr: RefCell::default(),
            eos: RefCell::default(),
        });
        Box::new(MuxFcgi { shared: self.0.clone(), env, request, session: None, id: 0, selected: None, sent: false })
    }
}

/// One request's side of a session: its answer waits here until the filter emits it.
struct Request {
    env: FilterEnv,
    outbox: RefCell<VecDeque<Event>>,
    /// The filter is processing: it empties the outbox itself before it returns.
    busy: Cell<bool>,
    started: Cell<bool>,
    answered: Cell<bool>,
    stderr: RefCell<BytesMut>,
    /// The client's end, held until the answer is out.
    eos: RefCell<Option<Event>>,
}

impl Request {
    fn push(&self, evt: Event) {
        self.outbox.borrow_mut().push_back(evt);
        if !self.busy.get() {
            self.env.wake();
        }
    }

    fn start(&self) {
        if !self.started.replace(true) {
            self.push(Event::MessageStart(Head::None));
        }
    }

    fn record(&self, r: Record) {
        if self.answered.get() {
            return;
        }
        match r.kind {
            fcgi::STDOUT => {
                self.start();
                if !r.content.is_empty() {
                    self.push(Event::Data(r.content));
                }
            }
            fcgi::STDERR => {
                self.start();
                self.stderr.borrow_mut().extend_from_slice(&r.content);
            }
            fcgi::END_REQUEST => {
                self.start();
                self.answered.set(true);
                let (app, protocol) = fcgi::parse_end(&r.content);
                let stderr = std::mem::take(&mut *self.stderr.borrow_mut()).freeze();
                let tail = Tree::Object(vec![
                    ("appStatus".into(), Tree::Number(app as f64)),
                    ("protocolStatus".into(), Tree::Number(protocol as f64)),
                    ("stderr".into(), Tree::Data(stderr)),
                ]);
                let tail = host().tree_value(&tail).unwrap_or_default();
                self.push(Event::MessageEnd(tail));
                if let Some(eos) = self.eos.take() {
                    self.push(eos);
                }
            }
            _ => {}
        }
    }
}

/// A FastCGI connection: the requests on it by id, and its records being decoded.
pub(super) struct Connection {
    requests: RefCell<HashMap<u16, Rc<Request>>>,
    decoder: RefCell<Decoder>,
}

impl Connection {
    /// The smallest id not in use (FastCGI ids start at 1).
    fn open(&self, request: Rc<Request>) -> u16 {
        let mut requests = self.requests.borrow_mut();
        let id = (1..=u16::MAX).find(|id| !requests.contains_key(id)).unwrap_or(u16::MAX);
        requests.insert(id, request);
        id
    }
}

impl Protocol for Connection {
    fn new() -> Connection {
        Connection { requests: RefCell::default(), decoder: RefCell::default() }
    }

    fn reply(session: &Rc<Session<Connection>>, evt: Event) {
        let c = &session.proto;
        match evt {
            Event::Data(b) => {
                c.decoder.borrow_mut().feed(&b);
                loop {
                    let next = c.decoder.borrow_mut().record();
                    match next {
                        Ok(Some(r)) => {
                            let request = c.requests.borrow().get(&r.id).cloned();
                            if let Some(req) = request {
                                req.record(r);
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(target: "pipeline", "muxFastCGI: {e}");
                            return fail(session, Event::error("ProtocolError"));
                        }
                    }
                }
            }
            // The application closed: requests not answered end with it (Pipy leaves them
            // waiting).
            Event::StreamEnd(e) => fail(session, Event::StreamEnd(e.or(Some(StreamError::Code("ConnectionReset"))))),
            _ => {}
        }
    }
}

fn fail(session: &Rc<Session<Connection>>, eos: Event) {
    let requests: Vec<_> = session.proto.requests.borrow_mut().drain().map(|(_, r)| r).collect();
    for r in requests.into_iter().filter(|r| !r.answered.replace(true)) {
        r.eos.take();
        r.push(eos.clone());
    }
    session.close();
}

struct MuxFcgi {
    shared: Rc<Shared>,
    env: FilterEnv,
    request: Rc<Request>,
    session: Option<Rc<Session<Connection>>>,
    id: u16,
    selected: Option<Selected>,
    /// The request went out whole.
    sent: bool,
}

impl MuxFcgi {
    fn begin(&mut self, head: &Head) {
        let selected =
            self.selected.get_or_insert_with(|| select(self.shared.selector.as_ref(), &self.env, "muxFastCGI"));
        let session = self.shared.pool.alloc(selected.clone(), &self.env);
        self.id = session.proto.open(self.request.clone());
        let tree = match head {
            Head::Js(v) => host().value_tree(v),
            _ => Tree::Undefined,
        };
        let field = |name: &str| match &tree {
            Tree::Object(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            _ => None,
        };
        let role = match field("role") {
            Some(Tree::Number(n)) if n > 0.0 => n as u16,
            _ => fcgi::RESPONDER,
        };
        let keep = matches!(field("keepAlive"), Some(Tree::Bool(true)));
        let mut out = BytesMut::new();
        fcgi::write_record(&mut out, fcgi::BEGIN_REQUEST, self.id, &fcgi::begin_body(role, keep));
        let mut params = BytesMut::new();
        if let Some(Tree::Object(pairs)) = field("params") {
            for (k, v) in pairs {
                // Pipy starts a new record before a pair would take it past 64 KiB.
                let pair_len = k.len() + v.text().len() + 8;
                if !params.is_empty() && params.len() + pair_len > fcgi::MAX_CONTENT {
                    fcgi::write_stream(&mut out, fcgi::PARAMS, self.id, &params.split());
                }
                fcgi::write_param(&mut params, k.as_bytes(), v.text().as_bytes());
            }
        }
        if !params.is_empty() {
            fcgi::write_stream(&mut out, fcgi::PARAMS, self.id, &params);
        }
        fcgi::write_record(&mut out, fcgi::PARAMS, self.id, &[]);
        self.session = Some(session.clone());
        session.input(Event::Data(out.freeze()));
    }

    fn stdin(&self, data: &[u8]) {
        let Some(s) = &self.session else { return };
        let mut out = BytesMut::new();
        fcgi::write_stream(&mut out, fcgi::STDIN, self.id, data);
        s.input(Event::Data(Bytes::from(out)));
    }

    fn flush(&self, out: &mut Output<'_>) {
        loop {
            let next = self.request.outbox.borrow_mut().pop_front();
            let Some(evt) = next else { return };
            out.emit(evt);
        }
    }
}

impl Filter for MuxFcgi {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        self.request.busy.set(true);
        match evt {
            Event::MessageStart(head) if self.session.is_none() => self.begin(&head),
            Event::Data(b) if !self.sent && !b.is_empty() => self.stdin(&b),
            Event::MessageEnd(_) if !self.sent && self.session.is_some() => {
                self.sent = true;
                self.stdin(&[]);
            }
            Event::StreamEnd(_) if self.session.is_some() && !self.request.answered.get() => {
                *self.request.eos.borrow_mut() = Some(evt);
            }
            Event::StreamEnd(_) => self.request.outbox.borrow_mut().push_back(evt),
            _ => {}
        }
        self.flush(out);
        self.request.busy.set(false);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        self.flush(out);
    }
}

impl Drop for MuxFcgi {
    fn drop(&mut self) {
        let Some(s) = self.session.take() else { return };
        let unanswered = !self.request.answered.get();
        s.proto.requests.borrow_mut().remove(&self.id);
        if unanswered && !s.is_closed() {
            // The application may still be working on it: tell it to stop.
            let mut out = BytesMut::new();
            fcgi::write_record(&mut out, fcgi::ABORT_REQUEST, self.id, &[]);
            s.input(Event::Data(out.freeze()));
        }
        s.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::host::stub::{self, Answer, Answers, StubHost};
    use crate::engine::{Context, Pipeline};

    #[test]
    fn a_request_goes_out_as_records_and_its_stdout_comes_back_as_the_body() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        tokio::task::LocalSet::new().block_on(&rt, async {
            StubHost::install();
            let (seen, answers): (_, Answers) = (Rc::new(RefCell::new(Vec::new())), Rc::default());
            let mut reply = BytesMut::new();
            fcgi::write_stream(&mut reply, fcgi::STDOUT, 1, b"hello");
            fcgi::write_record(&mut reply, fcgi::STDOUT, 1, &[]);
            fcgi::write_record(&mut reply, fcgi::END_REQUEST, 1, &fcgi::end_body(0, 0));
            // The application answers once it has the whole request (the empty stdin record).
            answers.borrow_mut().extend([vec![], vec![], vec![Event::Data(reply.freeze())]]);
            let options = PoolOptions { max_idle: std::time::Duration::from_secs(60), max_queue: 0, max_messages: 0 };
            let sub = stub::layout(vec![Box::new(Answer("app", seen.clone(), answers))]);
            let spec = Spec(Rc::new(Shared { pool: Pool::new(sub, options), selector: None }));
            let out = Rc::new(RefCell::new(Vec::new()));
            let sink = out.clone();
            let p = Pipeline::new(
                stub::layout(vec![Box::new(spec)]),
                Context::root(),
                Rc::new(move |e: Event| sink.borrow_mut().push(stub::describe(&e))),
            );
            p.start(&[]);
            p.input(Event::MessageStart(Head::None));
            p.input(Event::Data(Bytes::from_static(b"body")));
            p.input(Event::MessageEnd(boa_engine::JsValue::undefined()));
            p.input(Event::end());
            assert_eq!(*out.borrow(), ["MessageStart", "Data hello", "MessageEnd", "StreamEnd"]);
            // BEGIN_REQUEST and PARAMS, then the body, then the empty stdin record.
            assert_eq!(seen.borrow().len(), 3, "{:?}", seen.borrow());
        });
    }
}
