//! `muxHTTP(sessionSelector?, options?).to(sub)`: the client side of HTTP/1. Requests from
//! many pipelines share sessions (instances of `sub`, usually a `connect`); each request is
//! encoded into its session and the matching response, decoded in FIFO order, comes back
//! as this filter's output.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};
use std::time::Duration;

use boa_engine::{JsObject, JsResult, JsValue};
use bytes::Bytes;
use smallvec::SmallVec;

use super::Made;
use super::http2::client::{Client, MuxHttp2};
use crate::args::Args;
use crate::codec::http1::{Encoder, Out, RequestInfo, ResponseDecoder};
use crate::engine::host;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Gauge, Head, Layout, Output, Pipeline, StreamError};
use pending::{Opened, Pending};
use response::{SessionSink, Waiter};

mod bind;
pub(crate) mod pending;
mod response;

#[derive(Clone, Copy)]
struct Options {
    /// Pipelines sharing one session at a time; 0 is unlimited.
    max_queue: usize,
    /// Requests per session; 0 is unlimited.
    max_messages: usize,
    max_idle: Duration,
    buffer_size: usize,
}

/// `muxHTTP(sessionSelector?, options?)`: the selector, when given, comes first.
pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let (selector, at) = match args.value(0) {
        v if args.is_function(0) => (v.as_object(), 1),
        v if v.is_object() => (None, 0),
        _ => (None, 1),
    };
    let mut options = args.options(at);
    let version = match options.value("version")? {
        Some(v) if v.is_callable() => Version::Dynamic(options.function("version")?.unwrap_or_else(|| unreachable!())),
        Some(_) => Version::Fixed(is_http2(&options.string("version")?.unwrap_or_default())),
        None => Version::Fixed(false),
    };
    let o = Options {
        max_queue: options.count("maxQueue")?.unwrap_or(1),
        max_messages: options.count("maxMessages")?.unwrap_or(0),
        max_idle: options.duration("maxIdle")?.unwrap_or(Duration::from_secs(60)),
        buffer_size: options.buffer_size()?,
    };
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| {
        let h2 = Client::new(sub.clone(), o.max_idle);
        Box::new(Spec(Rc::new(Shared { sub, selector, options: o, pools: RefCell::default(), version, h2 })))
    })))
}

/// A session key. Object keys are compared by identity and kept alive by their pool.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Context(u64),
    Text(String),
    Object(usize),
}

struct Shared {
    sub: Rc<Layout>,
    selector: Option<JsObject>,
    options: Options,
    /// Looked up per request: a fast hasher, seeded per map (keys can come from clients).
    pools: RefCell<HashMap<Key, Vec<Rc<Session>>, foldhash::fast::RandomState>>,
    version: Version,
    /// The HTTP/2 sessions, for pipelines whose version is 2.
    h2: Rc<Client>,
}

/// `version`: HTTP/2 or not, fixed or asked of a function for each pipeline.
enum Version {
    Fixed(bool),
    Dynamic(crate::engine::Callback),
}

/// Whether a `version` option's value means HTTP/2 (`2`, `'2'`, `'h2'`, `'HTTP/2'`).
fn is_http2(v: &str) -> bool {
    matches!(v.trim(), "2" | "2.0" | "h2" | "HTTP/2" | "HTTP/2.0")
}

struct Spec(Rc<Shared>);

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "muxHTTP"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let f = match &self.0.version {
            Version::Fixed(v) => return self.0.filter(env, *v, None, None),
            Version::Dynamic(f) => f,
        };
        // As in Pipy, the version is the session's: only a new session asks for it.
        let key = key_value(&self.0, &env);
        if let Some(http2) = self.0.open_version(&key, &env) {
            return self.0.filter(env, http2, Some(key), None);
        }
        let http2 = match host().call(&env.context, f, &[]) {
            Ok(v) if host().is_promise(&v) => return Box::new(Pending::new(self.0.clone(), env, key, &v)),
            Ok(v) => is_http2(&host().to_text(&v).unwrap_or_default()),
            Err(e) => {
                tracing::error!(target: "http", "muxHTTP version: {e}");
                false
            }
        };
        self.0.filter(env, http2, Some(key), None)
    }
}

impl Shared {
    /// The version of an open session for `key` that can take one more request.
    fn open_version(&self, key: &JsValue, env: &FilterEnv) -> Option<bool> {
        if self.h2.has(&text_key_of(key.clone(), env).0) {
            return Some(true);
        }
        self.roomy(&bind::http1_key(key.clone(), env).0).map(|_| false)
    }

    /// A muxHTTP for `http2` or HTTP/1, with the selector's answer when it was asked
    /// already, and the session's pipeline when it was `opened` while the version was chosen.
    fn filter(
        self: &Rc<Self>,
        env: FilterEnv,
        http2: bool,
        key: Option<JsValue>,
        opened: Option<Opened>,
    ) -> Box<dyn Filter> {
        if http2 {
            let shared = self.clone();
            let key: super::http2::client::KeyOf = match key {
                Some(value) => {
                    let key = text_key_of(value, &env);
                    Box::new(move |_: &FilterEnv| key.clone())
                }
                None => Box::new(move |env: &FilterEnv| text_key_of(key_value(&shared, env), env)),
            };
            return Box::new(MuxHttp2::new(self.h2.clone(), env, key, opened));
        }
        let encoder = Encoder::new(self.options.buffer_size);
        Box::new(MuxHttp {
            shared: self.clone(),
            key,
            opened,
            env,
            session: None,
            encoder,
            pending: Vec::new(),
            pending_len: 0,
            info: None,
            turn: Turn::Idle,
            ended: false,
            waiter: None,
            idempotent: false,
        })
    }
}

struct Session {
    key: Key,
    pipeline: RefCell<Option<Pipeline>>,
    decoder: RefCell<ResponseDecoder>,
    waiters: RefCell<VecDeque<Rc<Waiter>>>,
    share: Cell<usize>,
    messages: Cell<usize>,
    closed: Cell<bool>,
    /// Since when no pipeline is bound to the session.
    idle_since: Cell<Option<tokio::time::Instant>>,
    /// One idle timer per session at most, however often it is released; aborted when the
    /// session closes, since a sleeping timer keeps the session's memory for maxIdle.
    timer: RefCell<Option<tokio::task::AbortHandle>>,
    shared: Weak<Shared>,
    /// Keeps an object key alive while its pool exists.
    _key_object: Option<JsObject>,
    /// The gauge the upstream reader waits on (its creator's); it follows the request
    /// being answered, so that one's client paces the upstream.
    gauge: Rc<Gauge>,
    home: Option<Rc<Gauge>>,
    /// The gauge its upstream socket's queue counts on (its creator's client reader's).
    upstream: Rc<Gauge>,
    /// A request is being written: others wait for their turn, in order.
    writing: Cell<bool>,
    turns: RefCell<VecDeque<FilterEnv>>,
    /// A response turned the connection into a tunnel: it belongs to the request that got
    /// it (the front waiter) and carries raw bytes both ways.
    tunnel: Cell<bool>,
    /// The response being decoded is a 1xx: its request waits on for the final one.
    interim: Cell<bool>,
}

impl Session {
    fn close(&self) {
        self.closed.set(true);
        self.timer.take().inspect(tokio::task::AbortHandle::abort);
        if let Some(shared) = self.shared.upgrade() {
            let mut pools = shared.pools.borrow_mut();
            if let Some(pool) = pools.get_mut(&self.key) {
                pool.retain(|s| !std::ptr::eq(&**s, self));
                if pool.is_empty() {
                    pools.remove(&self.key);
                }
            }
        }
    }

    /// The request being written is done: the next one waiting goes.
    fn next_turn(&self) {
        self.writing.set(false);
        loop {
            let next = self.turns.borrow_mut().pop_front();
            let Some(env) = next else { return };
            if env.is_alive() {
                return env.wake();
            }
        }
    }

    fn input(&self, evt: Event) {
        if let Some(p) = self.pipeline.borrow().as_ref() {
            p.input(evt);
        }
    }
}

struct MuxHttp {
    shared: Rc<Shared>,
    /// The selector's answer, when it was asked before the version was chosen.
    key: Option<JsValue>,
    /// The first session's pipeline, opened while the version was being chosen.
    opened: Option<Opened>,
    env: FilterEnv,
    session: Option<Rc<Session>>,
    encoder: Encoder,
    /// Request bytes waiting for this request's turn on a shared session, counted on the
    /// client's gauge so that the client pauses.
    pending: Vec<Bytes>,
    pending_len: usize,
    info: Option<RequestInfo>,
    turn: Turn,
    ended: bool,
    /// The request written last, while it may still be retried.
    waiter: Option<Rc<Waiter>>,
    /// The request's method is idempotent (RFC 9110): sending it twice changes nothing more.
    idempotent: bool,
}

/// Where this filter's request is in its session's order of writers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Turn {
    Idle,
    /// Queued behind another request being written.
    Waiting,
    /// Being written.
    Writing,
}

impl MuxHttp {
    /// Encoded request bytes: straight into the session when it is this request's turn,
    /// held (and counted) until then.
    fn write(&mut self, bytes: Bytes) {
        if self.turn == Turn::Idle {
            let session = self.open_session();
            if session.writing.get() {
                self.turn = Turn::Waiting;
                session.turns.borrow_mut().push_back(self.env.clone());
            } else {
                self.begin();
            }
        }
        if self.turn == Turn::Waiting {
            self.pending_len += bytes.len();
            self.env.context.upstream.add(bytes.len());
            self.pending.push(bytes);
        } else if let Some(s) = &self.session {
            if let Some(w) = &self.waiter {
                w.hold(&bytes);
            }
            s.input(Event::Data(bytes));
        }
    }

    /// The bound session, or a new one if it closed (the upstream refused or went away)
    /// before this request went out: the request gets its own try, as in Pipy.
    fn open_session(&mut self) -> Rc<Session> {
        if let Some(s) = self.session.take_if(|s| s.closed.get()) {
            s.share.set(s.share.get() - 1);
        }
        self.bind(false)
    }

    /// This request's turn on the session: register for its response and write.
    fn begin(&mut self) {
        self.turn = Turn::Writing;
        self.env.context.upstream.sub(self.pending_len);
        self.pending_len = 0;
        let pending = std::mem::take(&mut self.pending);
        let session = self.open_session();
        session.writing.set(true);
        session.decoder.borrow_mut().expect(self.info.unwrap_or_default());
        // Only a connection that already carried a request can have been closed as idle
        // by the upstream just as this one went out: a retry is kept for that case. A retry
        // goes first on its fresh connection, so it is never retried again.
        let reused = session.messages.get() > 0;
        let waiter = Rc::new(Waiter::new(self.env.clone(), reused && self.idempotent));
        session.waiters.borrow_mut().push_back(waiter.clone());
        session.messages.set(session.messages.get() + 1);
        pending.iter().for_each(|b| waiter.hold(b));
        self.waiter = Some(waiter);
        pending.into_iter().for_each(|b| session.input(Event::Data(b)));
        // A session made by another client queues this client's bytes on that client's
        // gauge: while writing, this client's reader also waits for it.
        self.pace(Some(session.upstream.clone()));
    }

    fn pace(&self, on: Option<Rc<Gauge>>) {
        let Some(session) = &self.session else { return };
        let mine = &self.env.context.upstream;
        if !Rc::ptr_eq(mine, &session.upstream) {
            mine.set_parent(on);
        }
    }

    /// Gives up a request not wholly encoded. Half of it may have gone out: then the
    /// upstream connection cannot carry another request, and is closed.
    fn abort_request(&mut self) {
        self.env.context.upstream.sub(std::mem::take(&mut self.pending_len));
        self.pending.clear();
        if self.encoder.in_message()
            && self.turn == Turn::Writing
            && let Some(session) = &self.session
        {
            session.close();
            let s = session.clone();
            tokio::task::spawn_local(async move {
                s.fail(Some("ConnectionReset"));
                s.pipeline.borrow_mut().take();
                s.next_turn();
            });
        }
        if self.turn == Turn::Writing {
            self.pace(None);
        }
        self.encoder.abort();
        self.turn = Turn::Idle;
    }

    /// The session closed before any of this request's response came: the request goes
    /// again, once, on a fresh connection (see `Session::fail`).
    fn resend(&mut self, w: &Waiter) {
        let Some(held) = w.take_held().filter(|_| !self.ended) else { return };
        tracing::debug!(target: "http", "muxHTTP: upstream closed before answering, retrying on a new connection");
        if let Some(s) = self.session.take() {
            s.share.set(s.share.get() - 1);
        }
        self.bind(true);
        held.into_iter().for_each(|b| self.write(b));
        if self.turn == Turn::Writing {
            self.finish();
        }
    }

    /// The session, once its response to this request turned it into a tunnel.
    fn tunnel(&self) -> Option<Rc<Session>> {
        let s = self.session.as_ref()?;
        let mine = s.tunnel.get() && s.waiters.borrow().front().is_some_and(|w| w.env.same(&self.env));
        mine.then(|| s.clone())
    }

    /// The request's end went out: the session is free for the next writer.
    fn finish(&mut self) {
        if let Some(w) = &self.waiter {
            w.complete.set(true);
        }
        if let Some(s) = &self.session
            && self.turn == Turn::Writing
        {
            self.pace(None);
            s.next_turn();
        }
        self.turn = Turn::Idle;
    }
}

impl Filter for MuxHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if let Some(s) = self.tunnel() {
            // Raw bytes, the end included (a half-close); the session's end ends this stream.
            return s.input(evt);
        }
        let mut written: SmallVec<[Bytes; 2]> = SmallVec::new();
        let mut collect = |o: Out| match o {
            Out::Start(b) | Out::Body(b) => written.push(b),
        };
        let mut done = false;
        match evt {
            Event::MessageStart(head) => {
                // A retry still owed goes first; after that the request before this one can
                // no longer go again (its response would come out of order).
                if let Some(w) = self.waiter.take_if(|w| w.retry.get()) {
                    self.resend(&w);
                }
                if let Some(w) = self.waiter.take() {
                    w.take_held();
                }
                self.bind(false);
                let expects_continue = match &head {
                    Head::Request(r) => {
                        self.encoder.start_request_head(r);
                        self.idempotent = idempotent(&r.method);
                        r.expects_continue()
                    }
                    other => {
                        let r = host().request_head(other);
                        self.encoder.start_script_request(&r);
                        self.idempotent = idempotent(&r.method);
                        r.expects_continue()
                    }
                };
                self.info = self.encoder.request_info();
                if expects_continue {
                    // The client holds its body back until the upstream's `100 Continue`,
                    // which the upstream sends only once it has the head.
                    self.encoder.send_head(&mut collect);
                }
            }
            Event::Data(b) => self.encoder.data(b, &mut collect),
            Event::MessageEnd(tail) => {
                let trailers = host().trailers_of(&tail);
                done = self.encoder.end_with_trailers(&trailers, &mut collect).is_some();
            }
            Event::StreamEnd(e) if self.encoder.in_message() => {
                // The client went away mid-request: it can never be answered.
                self.abort_request();
                self.ended = true;
                out.emit(Event::StreamEnd(e.or(Some(StreamError::Code("ConnectionReset")))));
            }
            Event::StreamEnd(e) => {
                let waiting =
                    self.session.as_ref().is_some_and(|s| s.waiters.borrow().iter().any(|w| w.env.same(&self.env)))
                        || self.waiter.as_ref().is_some_and(|w| w.retry.get());
                if !waiting && self.turn != Turn::Waiting {
                    self.ended = true;
                    out.emit(Event::StreamEnd(e));
                }
            }
        }
        written.into_iter().for_each(|b| self.write(b));
        if done && self.turn == Turn::Writing {
            self.finish();
        }
    }

    /// The session is free: this request's turn. Or it failed before answering: the request
    /// goes again.
    fn wake(&mut self, _out: &mut Output<'_>) {
        if let Some(w) = self.waiter.take_if(|w| w.retry.get()) {
            return self.resend(&w);
        }
        if self.turn != Turn::Waiting {
            return;
        }
        self.begin();
        if !self.encoder.in_message() {
            self.finish();
        }
    }
}

impl Drop for MuxHttp {
    fn drop(&mut self) {
        self.abort_request();
        let Some(session) = self.session.take() else { return };
        session.abandon(&self.env);
        session.share.set(session.share.get() - 1);
        if session.share.get() > 0 || session.closed.get() {
            return;
        }
        session.idle_since.set(Some(tokio::time::Instant::now()));
        if session.timer.borrow().is_some() {
            return;
        }
        let idle = self.shared.options.max_idle;
        let weak = Rc::downgrade(&session);
        let task = tokio::task::spawn_local(async move {
            while let Some(since) = weak.upgrade().and_then(|s| s.idle_since.get()) {
                tokio::time::sleep_until(since + idle).await;
                let Some(s) = weak.upgrade() else { return };
                match s.idle_since.get() {
                    Some(since) if since + idle <= tokio::time::Instant::now() => {
                        s.close();
                        break;
                    }
                    Some(_) => continue,
                    None => break,
                }
            }
            if let Some(s) = weak.upgrade() {
                s.timer.take();
            }
        });
        *session.timer.borrow_mut() = Some(task.abort_handle());
    }
}

/// The session selector's answer for this pipeline (undefined without a selector).
fn key_value(shared: &Shared, env: &FilterEnv) -> JsValue {
    match &shared.selector {
        Some(f) => host().call(&env.context, f, &[]).unwrap_or_else(|e| {
            tracing::error!(target: "http", "muxHTTP session selector: {e}");
            JsValue::undefined()
        }),
        None => JsValue::undefined(),
    }
}

/// An HTTP/2 session's key: the selector's answer as text (objects by their text too), or
/// the client connection; and the argument the session's pipeline starts with.
fn text_key_of(value: JsValue, env: &FilterEnv) -> (String, Vec<JsValue>) {
    if value.is_null_or_undefined() {
        let context = &env.context;
        let id = context.inbound.as_ref().map(|i| i.id).unwrap_or(context.id);
        return (format!("\0{id}"), vec![]);
    }
    (host().to_text(&value).unwrap_or_default(), vec![value])
}

/// Whether sending a request twice changes nothing more than sending it once (RFC 9110
/// 9.2.2), so that it may be retried after it went out.
fn idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE")
}
