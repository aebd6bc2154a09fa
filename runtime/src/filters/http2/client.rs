//! The HTTP/2 client side of `muxHTTP` (`version: 2`, prior knowledge): requests from many
//! pipelines share sessions, each one `h2` connection over an instance of the sub-pipeline
//! (a `connect`), one stream per request.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use boa_engine::JsValue;
use bytes::Bytes;
use futures_concurrency::future::FutureGroup;
use futures_core::Stream;
use h2::client::{ResponseFuture, SendRequest};
use tokio::sync::Notify;

use super::convert;
use super::pipe::{self, Io, Pipe};
use super::stream::{Queue, write_body};
use crate::codec::http1::{RequestHead, error_response};
use crate::engine::{Event, EventSink, Filter, FilterEnv, Gauge, Head, Layout, Output, Pipeline, StreamError, host};
use crate::filters::mux_http::pending::Opened;

/// Each stream's receive window: an upstream sends no more ahead of what was passed on.
const STREAM_WINDOW: u32 = 256 << 10;

/// What the filters of one `muxHTTP` share: the sub-pipeline and the sessions by key.
pub struct Client {
    sub: Rc<Layout>,
    max_idle: Duration,
    pools: RefCell<HashMap<String, Rc<Session>>>,
}

impl Client {
    pub fn new(sub: Rc<Layout>, max_idle: Duration) -> Rc<Client> {
        Rc::new(Client { sub, max_idle, pools: RefCell::default() })
    }

    /// The open session for `key`, or a new one made in `env`'s context.
    /// Whether an open session has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.pools.borrow().get(key).is_some_and(|s| !s.closed.get())
    }

    /// A pipeline `opened` while the version was chosen makes the new one.
    fn session(
        self: &Rc<Client>,
        key: String,
        args: Vec<JsValue>,
        env: &FilterEnv,
        opened: Option<Opened>,
    ) -> Rc<Session> {
        if opened.is_none()
            && let Some(s) = self.pools.borrow().get(&key).filter(|s| !s.closed.get())
        {
            return s.clone();
        }
        let session = Session::open(self, key.clone(), args, env, opened);
        self.pools.borrow_mut().insert(key, session.clone());
        session
    }
}

struct Session {
    key: String,
    client: Weak<Client>,
    sender: RefCell<Option<SendRequest<Bytes>>>,
    /// The handshake is over, or the session closed.
    ready: Notify,
    closed: Cell<bool>,
    pipe: Rc<Pipe>,
    pipeline: RefCell<Option<Pipeline>>,
    task: RefCell<Option<tokio::task::AbortHandle>>,
    /// Requests in flight, and how many times the count fell to zero (an idle timer
    /// closes the session if it is still the last time when it fires).
    active: Cell<usize>,
    idled: Cell<u64>,
    /// Exchanges not yet taken in by the session's task, and its waker to say so.
    incoming: RefCell<Vec<Exchange>>,
    waker: RefCell<Option<Waker>>,
    /// The session's task is over: an exchange now runs as a task of its own.
    over: Cell<bool>,
}

/// One request and its response, a future the session's task polls beside `h2`'s
/// connection (woken on its own): a spawned task per request cost more than `h2`'s work.
type Exchange = Pin<Box<dyn Future<Output = ()>>>;
type Exchanges = FutureGroup<Exchange>;

/// The session's sub-pipeline output: the upstream's bytes, into `h2`.
struct SessionSink(Rc<Pipe>);

impl EventSink for SessionSink {
    fn on_event(&self, evt: Event) {
        match evt {
            Event::Data(b) => self.0.push(&b),
            Event::StreamEnd(e) => self.0.end(match e {
                Some(StreamError::Code(c)) => Some(c),
                Some(StreamError::Value(_)) => Some("RuntimeError"),
                None => None,
            }),
            _ => {}
        }
    }
}

impl Session {
    fn open(
        client: &Rc<Client>,
        key: String,
        args: Vec<JsValue>,
        env: &FilterEnv,
        opened: Option<Opened>,
    ) -> Rc<Session> {
        Rc::new_cyclic(|weak: &Weak<Session>| {
            let w = weak.clone();
            let on_write = Box::new(move || {
                if let Some(s) = w.upgrade()
                    && let Some(b) = s.pipe.take()
                {
                    s.input(Event::Data(b));
                }
            });
            let pipe = Pipe::new(env.context.upstream.clone(), on_write);
            let sink = Rc::new(SessionSink(pipe.clone()));
            let task = pipe::spawn(&pipe, drive(weak.clone(), pipe.clone()));
            let p = match opened {
                Some(opened) => {
                    opened.connect(sink);
                    opened.pipeline
                }
                None => {
                    // The connection's reads must not wait for the request that happened to
                    // open it: its answer unread would stop every stream's (a gauge of the
                    // session's own; h2's windows bound what the upstream may send).
                    let context = env.context.copy_queued_on(Rc::new(Gauge::default()));
                    let p = Pipeline::chained(client.sub.clone(), context, sink, env.chain.clone());
                    p.start(&args);
                    p
                }
            };
            Session {
                key,
                client: Rc::downgrade(client),
                sender: RefCell::default(),
                ready: Notify::new(),
                closed: Cell::new(false),
                pipe,
                pipeline: RefCell::new(Some(p)),
                task: RefCell::new(Some(task)),
                active: Cell::new(0),
                idled: Cell::new(0),
                incoming: RefCell::default(),
                waker: RefCell::default(),
                over: Cell::new(false),
            }
        })
    }

    fn input(&self, evt: Event) {
        if let Some(p) = self.pipeline.borrow().as_ref() {
            p.input(evt);
        }
    }

    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.task.take().inspect(tokio::task::AbortHandle::abort);
        self.pipeline.take();
        self.ready.notify_waiters();
        if let Some(c) = self.client.upgrade() {
            let mut pools = c.pools.borrow_mut();
            if pools.get(&self.key).is_some_and(|s| std::ptr::eq(&**s, self)) {
                pools.remove(&self.key);
            }
        }
    }

    /// A sender with room for one more stream, once the handshake is over.
    async fn sender(&self) -> Option<SendRequest<Bytes>> {
        loop {
            let ready = self.ready.notified();
            if self.closed.get() {
                return None;
            }
            let sender = self.sender.borrow().clone();
            match sender {
                Some(s) => return s.ready().await.ok(),
                None => ready.await,
            }
        }
    }

    /// Runs `exchange` in the session's task.
    fn run(&self, exchange: Exchange) {
        self.active.set(self.active.get() + 1);
        if self.over.get() {
            tokio::task::spawn_local(exchange);
            return;
        }
        self.incoming.borrow_mut().push(exchange);
        if let Some(w) = self.waker.borrow().as_ref() {
            w.wake_by_ref();
        }
    }

    /// Polls the exchanges at work, those just come in first; ready once none is left.
    fn poll_exchanges(&self, exchanges: &mut Exchanges, cx: &mut Context<'_>) -> Poll<()> {
        let mut waker = self.waker.borrow_mut();
        if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *waker = Some(cx.waker().clone());
        }
        drop(waker);
        for e in std::mem::take(&mut *self.incoming.borrow_mut()) {
            exchanges.insert(e);
        }
        loop {
            match Pin::new(&mut *exchanges).poll_next(cx) {
                Poll::Ready(Some(())) => {}
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// A request is done: the session closes after `max_idle` without any.
    fn done(self: &Rc<Session>) {
        self.active.set(self.active.get() - 1);
        if self.active.get() > 0 {
            return;
        }
        let turn = self.idled.get() + 1;
        self.idled.set(turn);
        let Some(idle) = self.client.upgrade().map(|c| c.max_idle) else { return };
        let weak = Rc::downgrade(self);
        tokio::task::spawn_local(async move {
            tokio::time::sleep(idle).await;
            if let Some(s) = weak.upgrade().filter(|s| s.active.get() == 0 && s.idled.get() == turn) {
                s.close();
            }
        });
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.take().inspect(tokio::task::AbortHandle::abort);
    }
}

/// Runs the session's `h2` connection until it ends, and its exchanges until they do.
async fn drive(session: Weak<Session>, pipe: Rc<Pipe>) {
    let mut builder = h2::client::Builder::new();
    builder
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(Gauge::LIMIT as u32)
        .max_send_buffer_size(STREAM_WINDOW as usize);
    let mut exchanges = Exchanges::new();
    match builder.handshake::<_, Bytes>(Io(pipe)).await {
        Ok((sender, conn)) => {
            if let Some(s) = session.upgrade() {
                *s.sender.borrow_mut() = Some(sender);
                s.ready.notify_waiters();
            }
            let mut conn = pin!(conn);
            let ended = poll_fn(|cx| {
                if let Some(s) = session.upgrade() {
                    let _ = s.poll_exchanges(&mut exchanges, cx);
                }
                conn.as_mut().poll(cx)
            });
            if let Err(e) = ended.await {
                tracing::debug!(target: "http", "muxHTTP HTTP/2: {e}");
            }
        }
        Err(e) => tracing::debug!(target: "http", "muxHTTP HTTP/2 handshake: {e}"),
    }
    let Some(s) = session.upgrade() else { return };
    s.task.take();
    s.close();
    // The exchanges still at work end once they see the connection gone.
    poll_fn(|cx| s.poll_exchanges(&mut exchanges, cx)).await;
    s.over.set(true);
    s.waker.take();
}

/// The response events of this filter's request, in order, for its `wake`.
struct Back {
    events: RefCell<VecDeque<Event>>,
    env: FilterEnv,
    got_head: Cell<bool>,
}

impl Back {
    fn push(&self, evt: Event) {
        self.got_head.set(self.got_head.get() || matches!(evt, Event::MessageStart(_)));
        self.events.borrow_mut().push_back(evt);
        self.env.wake();
    }
}

/// How a pipeline's requests find their session: its key, and the arguments a new
/// session's pipeline starts with.
pub type KeyOf = Box<dyn Fn(&FilterEnv) -> (String, Vec<JsValue>)>;

/// One pipeline's requests over HTTP/2.
pub struct MuxHttp2 {
    client: Rc<Client>,
    env: FilterEnv,
    key: KeyOf,
    /// The first session's pipeline, opened while the version was chosen.
    opened: Option<Opened>,
    body: Option<Rc<Queue>>,
    back: Rc<Back>,
    exchanges: usize,
    /// The request is a CONNECT: its stream is a tunnel, whose end is this pipeline's.
    tunnel: bool,
    /// The client's end, held until the responses are out.
    end: Option<Event>,
    ended: bool,
}

impl MuxHttp2 {
    pub fn new(client: Rc<Client>, env: FilterEnv, key: KeyOf, opened: Option<Opened>) -> MuxHttp2 {
        let back = Rc::new(Back { events: RefCell::default(), env: env.clone(), got_head: Cell::new(false) });
        MuxHttp2 { client, env, key, opened, body: None, back, exchanges: 0, tunnel: false, end: None, ended: false }
    }

    fn start(&mut self, head: &Head) {
        let head = match head {
            Head::Request(r) => r.clone(),
            other => host().request_head(other),
        };
        let (key, args) = (self.key)(&self.env);
        let session = self.client.session(key, args, &self.env, self.opened.take());
        let body = Rc::new(Queue::new(self.env.context.upstream.clone()));
        self.body = Some(body.clone());
        self.exchanges += 1;
        self.back.got_head.set(false);
        self.tunnel = head.method == "CONNECT";
        let (back, room) = (self.back.clone(), self.env.context.downstream.clone());
        session.run(Box::pin(exchange(session.clone(), head, body, back, room)));
    }
}

impl Filter for MuxHttp2 {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        match evt {
            Event::MessageStart(head) => self.start(&head),
            Event::StreamEnd(e) => {
                if let Some(b) = self.body.take() {
                    b.on_event(Event::StreamEnd(e.clone()));
                }
                self.end = Some(Event::StreamEnd(e));
            }
            evt => {
                if let Some(b) = &self.body {
                    b.on_event(evt);
                }
            }
        }
        self.wake(out);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        loop {
            let Some(evt) = self.back.events.borrow_mut().pop_front() else { break };
            match evt {
                // The exchange task's own mark that it is over.
                Event::StreamEnd(None) if self.tunnel => {
                    self.ended = true;
                    return out.emit(Event::end());
                }
                Event::StreamEnd(None) => self.exchanges -= 1,
                Event::StreamEnd(e) => {
                    self.ended = true;
                    return out.emit(Event::StreamEnd(e));
                }
                evt => out.emit(evt),
            }
        }
        if self.exchanges == 0
            && let Some(end) = self.end.take()
        {
            self.ended = true;
            out.emit(end);
        }
    }
}

/// One request and its response on `session`; ends with a `StreamEnd` in `back` (an
/// error code if the exchange failed).
async fn exchange(session: Rc<Session>, head: Rc<RequestHead>, body: Rc<Queue>, back: Rc<Back>, room: Rc<Gauge>) {
    let result = async {
        let mut sender = session.sender().await.ok_or("ConnectionRefused")?;
        let req = convert::request(&head).map_err(|e| {
            tracing::error!(target: "http", "muxHTTP HTTP/2 request: {e}");
            "ProtocolError"
        })?;
        let tunnel = head.method == "CONNECT";
        // A request without a body is mostly whole by now: its HEADERS frame ends the stream.
        let ends = !tunnel && body.take_bare_end();
        let (response, mut stream) = sender.send_request(req, ends).map_err(|_| "ConnectionReset")?;
        if ends {
            return read_response(response, &back, &room, false).await;
        }
        // The response may end before the request does: then the rest is not sent.
        tokio::select! {
            r = read_response(response, &back, &room, tunnel) => r,
            _ = async { let _ = write_body(&body, &mut stream, tunnel).await; std::future::pending::<()>().await } => Ok(()),
        }
    }
    .await;
    match result {
        Ok(()) => back.push(Event::end()),
        Err(code) => {
            let code = session.pipe.error().unwrap_or(code);
            if back.got_head.get() {
                back.push(Event::error(code));
            } else {
                // No answer at all: a made-up one says why, as for HTTP/1 (`502`, `504`).
                back.push(Event::MessageStart(Head::Response(Rc::new(error_response(Some(code))))));
                back.push(Event::MessageEnd(JsValue::undefined()));
                back.push(Event::end());
            }
        }
    }
    session.done();
}

/// In a `tunnel` the response's head is its message, and its body the raw bytes after it.
async fn read_response(response: ResponseFuture, back: &Back, room: &Gauge, tunnel: bool) -> Result<(), &'static str> {
    let (parts, mut body) = response.await.map_err(|_| "ConnectionReset")?.into_parts();
    back.push(Event::MessageStart(Head::Response(Rc::new(convert::response_head(&parts)))));
    if tunnel {
        back.push(Event::MessageEnd(JsValue::undefined()));
    }
    while let Some(b) = body.data().await {
        let b = b.map_err(|_| "ConnectionReset")?;
        let n = b.len();
        back.push(Event::Data(b));
        room.room().await;
        let _ = body.flow_control().release_capacity(n);
    }
    if tunnel {
        return Ok(());
    }
    let tail = match body.trailers().await.map_err(|_| "ConnectionReset")? {
        Some(t) => host().tail_value(&convert::headers_of(&t, None)).unwrap_or_default(),
        None => JsValue::undefined(),
    };
    back.push(Event::MessageEnd(tail));
    Ok(())
}
