//! The server side of HTTP/1 shared by `demuxHTTP` and `serveHTTP`: decode requests from
//! the client's bytes, give each request to a responder, and encode the responses back in
//! request order (pipelining included).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use boa_engine::JsValue;
use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

use crate::codec::http1::{
    DecodeError, Encoder, Ending, Header, Item, Out, RequestDecoder, RequestHead, RequestInfo, ResponseHead, Text,
    Upgrade, is_interim,
};
use crate::engine::{Event, EventSink, FilterEnv, Gauge, Given, Head, Layout, Output, Pipeline, Value, host};

/// Who answers each request.
#[derive(Clone)]
pub enum Responder {
    /// `demuxHTTP().to(sub)`: a sub-pipeline per request, with a copy of the context.
    Pipeline(Rc<Layout>),
    /// `serveHTTP(fn)`: `fn(request)` returns a Message or a Promise of one;
    /// `serveHTTP(message)`: the same Message every time.
    Script(Given<Value>),
}

/// What a server and its requests' answers share (HTTP/2's server side too).
pub(super) struct Shared {
    /// Set while the server itself is processing, so that sub-pipeline output produced
    /// synchronously is flushed by that same call instead of through a wake.
    pub(super) busy: Cell<bool>,
    /// Set while a sub-pipeline's output wakes the server from inside that pipeline's
    /// processing, where the pipeline cannot take input.
    pub(super) nested: Cell<bool>,
    pub(super) env: FilterEnv,
}

impl Shared {
    pub(super) fn new(env: FilterEnv) -> Rc<Shared> {
        Rc::new(Shared { busy: Cell::new(false), nested: Cell::new(false), env })
    }
}

/// Requests read ahead of the one being answered (pipelining) beyond which the client's
/// socket is not read: each may hold up to [`Gauge::LIMIT`] of its answer.
pub const MAX_PIPELINED: usize = 8;

/// Collects one request's response events until its turn. The body bytes held count on
/// the request's own gauge, which pauses whoever produces them.
pub(super) struct Answer {
    pub(super) events: RefCell<VecDeque<Event>>,
    shared: Rc<Shared>,
    pub(super) gauge: Rc<Gauge>,
    counted: Cell<usize>,
    /// The request is gone: late output is dropped, not counted.
    closed: Cell<bool>,
}

impl Answer {
    pub(super) fn new(shared: &Rc<Shared>, gauge: Rc<Gauge>) -> Rc<Answer> {
        let (events, counted, closed) = (RefCell::default(), Cell::new(0), Cell::new(false));
        Rc::new(Answer { events, shared: shared.clone(), gauge, counted, closed })
    }

    pub(super) fn release(&self, n: usize) {
        let n = n.min(self.counted.get());
        self.counted.set(self.counted.get() - n);
        self.gauge.sub(n);
    }
}

impl EventSink for Answer {
    fn on_event(&self, evt: Event) {
        if self.closed.get() {
            return;
        }
        if let Event::Data(b) = &evt {
            self.counted.set(self.counted.get() + b.len());
            self.gauge.add(b.len());
        }
        self.events.borrow_mut().push_back(evt);
        if !self.shared.busy.get() {
            self.shared.nested.set(true);
            self.shared.env.wake();
            self.shared.nested.set(false);
        }
    }
}

struct Stream {
    answer: Rc<Answer>,
    pipeline: Option<Pipeline>,
    info: RequestInfo,
    /// The request, while it is collected for a `serveHTTP` function.
    request: Option<(Rc<RequestHead>, BytesMut)>,
    input_done: bool,
    replied: bool,
}

impl Stream {
    fn input(&self, evt: Event) {
        if let Some(p) = &self.pipeline {
            p.input(evt);
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.answer.close();
    }
}

impl Answer {
    /// Its request is gone: what it holds is dropped, and what comes later too.
    pub(super) fn close(&self) {
        self.closed.set(true);
        self.events.borrow_mut().clear();
        self.release(self.counted.get());
    }
}

pub struct HttpServer {
    responder: Responder,
    shared: Rc<Shared>,
    decoder: RequestDecoder,
    encoder: Encoder,
    streams: VecDeque<Stream>,
    /// The head-of-line stream's response has started.
    responding: bool,
    /// That response is a 1xx: the final one to the same request follows it.
    interim: bool,
    /// The client's end, held until every response is out.
    client_end: Option<Event>,
    closed: bool,
    /// The most body bytes a request collected for a `serveHTTP` handler may have.
    limit: usize,
    /// The client's reader is paused: too many requests are waiting.
    holding: bool,
    /// Decoding stopped at the cap: requests already read wait in the decoder until
    /// answers make room (holding the reader alone leaves them to be decoded at once).
    capped: bool,
    /// A CONNECT or Upgrade request was read: what follows it is not decoded until its
    /// response tells whether the connection turns into a tunnel.
    paused: bool,
    /// The stream whose response turned the connection into a tunnel: the client's bytes
    /// go into its pipeline and its output goes out as it is.
    tunnel: Option<Stream>,
    /// What the client sent behind the request has yet to go into the tunnel.
    tunnel_unfed: bool,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.hold(false);
    }
}

impl HttpServer {
    pub fn new(responder: Responder, env: FilterEnv, buffer_size: usize) -> HttpServer {
        HttpServer {
            responder,
            shared: Shared::new(env),
            decoder: RequestDecoder::new(),
            encoder: Encoder::new(buffer_size),
            streams: VecDeque::new(),
            responding: false,
            interim: false,
            client_end: None,
            closed: false,
            limit: crate::options::MESSAGE_LIMIT,
            holding: false,
            capped: false,
            paused: false,
            tunnel: None,
            tunnel_unfed: false,
        }
    }

    /// Pauses (or resumes) reading the client while requests pile up.
    fn hold(&mut self, on: bool) {
        if on != self.holding {
            self.holding = on;
            let gauge = &self.shared.env.context.upstream;
            if on { gauge.hold() } else { gauge.unhold() }
        }
    }

    /// Limits the requests collected for a `serveHTTP` handler to `limit` body bytes.
    pub fn with_limit(mut self, limit: usize) -> HttpServer {
        self.limit = limit;
        self
    }

    pub fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.closed {
            return;
        }
        self.shared.busy.set(true);
        if self.tunnel_unfed {
            self.feed_tunnel();
        }
        match evt {
            Event::Data(b) => match &self.tunnel {
                Some(t) => t.input(Event::Data(b)),
                None => {
                    self.decoder.feed(b);
                    self.pump();
                }
            },
            Event::StreamEnd(_) if self.tunnel.is_some() => {
                if let Some(t) = &self.tunnel {
                    t.input(evt);
                }
            }
            Event::StreamEnd(_) => {
                self.end_requests(Event::end());
                self.client_end.get_or_insert(evt);
            }
            _ => {}
        }
        self.flush(out);
        self.shared.busy.set(false);
    }

    /// Decodes what has arrived, up to a request that may start a tunnel.
    fn pump(&mut self) {
        // Nothing after the client's end (an error or an overflow) is read.
        while self.client_end.is_none() && !self.paused {
            let last_read = self.streams.back().is_none_or(|s| s.input_done);
            self.capped = self.streams.len() >= MAX_PIPELINED && last_read;
            if self.capped {
                break;
            }
            let Some(item) = self.decoder.next() else { break };
            self.on_item(item);
        }
    }

    pub fn wake(&mut self, out: &mut Output<'_>) {
        self.shared.busy.set(true);
        self.flush(out);
        self.shared.busy.set(false);
    }

    fn on_item(&mut self, item: Item<crate::codec::http1::DecodedRequest>) {
        match item {
            Item::Head(req) => self.on_head(req),
            Item::Body(b) => self.on_body(b),
            Item::End(t) => self.on_end(&t),
            Item::Tunnel(_) | Item::Http2Preface => {
                tracing::warn!(target: "http", "HTTP/2 is not supported yet: closing");
                self.end_requests(Event::error("ProtocolError"));
                self.client_end = Some(Event::end());
            }
            Item::Error(e) => {
                tracing::debug!(target: "http", "{e}");
                self.end_requests(Event::error("ProtocolError"));
                if matches!(e, DecodeError::Malformed(_)) {
                    self.refuse();
                }
                self.client_end = Some(Event::end());
            }
        }
    }

    /// A request's head: a stream for it, with its pipeline or its collected request.
    fn on_head(&mut self, req: crate::codec::http1::DecodedRequest) {
        let head = Rc::new(req.head);
        let context = &self.shared.env.context;
        let gauge = Rc::new(Gauge::child(context.downstream.clone()));
        let answer = Answer::new(&self.shared, gauge.clone());
        let mut stream = Stream {
            answer: answer.clone(),
            pipeline: None,
            info: req.info,
            request: None,
            input_done: false,
            replied: false,
        };
        match &self.responder {
            Responder::Pipeline(layout) => {
                let context = context.copy_queued_on(gauge);
                let p = Pipeline::chained(layout.clone(), context, answer, self.shared.env.chain.clone());
                p.start(&[]);
                p.input(Event::MessageStart(Head::Request(head)));
                stream.pipeline = Some(p);
            }
            _ => stream.request = Some((head, BytesMut::new())),
        }
        self.streams.push_back(stream);
        if self.streams.len() >= MAX_PIPELINED {
            self.hold(true);
        }
    }

    /// Body bytes of the last request read.
    fn on_body(&mut self, b: Bytes) {
        if let Some(s) = self.streams.back_mut() {
            match (&s.pipeline, &mut s.request) {
                (Some(p), _) => p.input(Event::Data(b)),
                // A fixed answer needs no body: it is read and dropped.
                (None, Some(_)) if matches!(self.responder, Responder::Script(Given::Fixed(_))) => {}
                (None, Some((_, body))) if body.len() + b.len() > self.limit => {
                    tracing::error!(
                        target: "http",
                        "serveHTTP: request body over the limit of {} bytes (bufferLimit): connection closed",
                        self.limit
                    );
                    self.streams.pop_back();
                    self.client_end = Some(Event::error("BufferOverflow"));
                }
                (None, Some((_, body))) => body.extend_from_slice(&b),
                _ => {}
            }
        }
    }

    /// The last request read is whole; `tail` holds what its end said (trailers).
    fn on_end(&mut self, tail: &crate::codec::http1::Tail) {
        let Some(s) = self.streams.back_mut() else { return };
        s.input_done = true;
        self.paused = s.info.is_connect || s.info.upgrade != Upgrade::None;
        if let Some(p) = &s.pipeline {
            p.input(super::decode_http_request::message_end(tail));
        } else if let Some((head, body)) = s.request.take() {
            respond(&self.responder, &self.shared.env, &s.answer, head, body.freeze());
        }
        if self.paused {
            // What the client sends meanwhile is the tunnel's or the next request:
            // it waits in the socket, not here.
            self.hold(true);
        }
    }

    /// A request that cannot be framed for sure (RFC 9112: an intermediary must not guess)
    /// is answered 400, after the requests before it, and the connection closes.
    fn refuse(&mut self) {
        let head = ResponseHead {
            protocol: Text::from_static("HTTP/1.1"),
            status: 400,
            status_text: Text::from_static("Bad Request"),
            headers: Vec::new(),
        };
        let answer = Rc::new(Answer {
            events: RefCell::new(VecDeque::from([
                Event::MessageStart(Head::Response(Rc::new(head))),
                Event::MessageEnd(JsValue::undefined()),
            ])),
            shared: self.shared.clone(),
            gauge: Rc::new(Gauge::child(self.shared.env.context.downstream.clone())),
            counted: Cell::new(0),
            closed: Cell::new(false),
        });
        let info = RequestInfo { is_final: true, ..RequestInfo::default() };
        self.streams.push_back(Stream {
            answer,
            pipeline: None,
            info,
            request: None,
            input_done: true,
            replied: false,
        });
    }

    /// No more input: requests not read whole get `end` (their pipelines decide what that
    /// means; a collected request will never be answered, so its stream ends).
    fn end_requests(&mut self, end: Event) {
        for s in self.streams.iter_mut().filter(|s| !s.input_done) {
            s.input_done = true;
            match &s.pipeline {
                Some(p) => p.input(end.clone()),
                None => {
                    s.request = None;
                    s.answer.on_event(Event::error("ConnectionReset"));
                }
            }
        }
    }

    /// Encodes what the head-of-line streams have answered, in order.
    fn flush(&mut self, out: &mut Output<'_>) {
        let mut bytes: SmallVec<[Bytes; 2]> = SmallVec::new();
        let mut resume = false;
        let mut end = self.encode_answers(&mut bytes, &mut resume);
        if end.is_none() {
            end = self.drain_tunnel(&mut bytes);
        }
        if self.streams.len() < MAX_PIPELINED && !self.paused {
            self.hold(false);
            resume |= self.capped;
        }
        if end.is_none() && self.streams.is_empty() && self.tunnel.is_none() {
            end = self.client_end.take();
        }
        for b in bytes {
            out.emit(Event::Data(b));
        }
        self.after_flush(end, resume, out);
    }

    /// Encodes the head-of-line streams' answers into `bytes`, popping the streams done.
    /// Returns the end for the client when one came; sets `resume` when a CONNECT or
    /// Upgrade was answered without a tunnel.
    fn encode_answers(&mut self, bytes: &mut SmallVec<[Bytes; 2]>, resume: &mut bool) -> Option<Event> {
        while let Some(front) = self.streams.front_mut() {
            while !front.replied {
                let Some(evt) = front.answer.events.borrow_mut().pop_front() else { break };
                if let Event::Data(b) = &evt {
                    // Handed on to the client's outbox, which counts it from here.
                    front.answer.release(b.len());
                }
                let mut emit = |o: Out| match o {
                    Out::Start(b) | Out::Body(b) => bytes.push(b),
                };
                match evt {
                    Event::MessageStart(head) if !self.responding => {
                        let status = start_response(&mut self.encoder, &head, front.info);
                        self.responding = true;
                        self.interim = is_interim(status);
                    }
                    Event::Data(b) if self.responding => self.encoder.data(b, &mut emit),
                    Event::StreamEnd(Some(e)) if self.responding => {
                        // Cut off mid-response: whatever framing was promised cannot be
                        // kept, and a shorter body must not pass for a whole one.
                        self.encoder.abort();
                        return Some(Event::StreamEnd(Some(e)));
                    }
                    Event::MessageEnd(_) if self.responding && self.interim => {
                        // Out to the client now; the request waits on for its final response.
                        self.encoder.end(&mut emit);
                        self.responding = false;
                    }
                    Event::MessageEnd(_) | Event::StreamEnd(_) if self.responding => {
                        let ending = self.encoder.end_with_trailers(&trailers(&evt), &mut emit);
                        self.responding = false;
                        front.replied = true;
                        if ending == Some(Ending::Tunnel) && self.paused && front.pipeline.is_some() {
                            self.tunnel = self.streams.pop_front();
                            self.paused = false;
                            self.tunnel_unfed = true;
                            self.decoder.set_tunnel();
                            return None;
                        }
                        if self.paused && (front.info.is_connect || front.info.upgrade != Upgrade::None) {
                            *resume = true;
                        }
                        if matches!(ending, Some(Ending::Close | Ending::Tunnel | Ending::Broken)) {
                            return Some(Event::end());
                        }
                    }
                    Event::StreamEnd(e) => {
                        // Ended before answering: pass the end on, which closes the client.
                        return Some(Event::StreamEnd(e));
                    }
                    _ => {}
                }
            }
            if front.replied && front.input_done {
                self.streams.pop_front();
            } else {
                break;
            }
        }
        None
    }

    /// The tunnel's output, raw bytes from here: the response is out, the rest passes as
    /// it is. Returns the tunnel's end once it came.
    fn drain_tunnel(&self, bytes: &mut SmallVec<[Bytes; 2]>) -> Option<Event> {
        let t = self.tunnel.as_ref()?;
        loop {
            let evt = t.answer.events.borrow_mut().pop_front();
            match evt {
                Some(Event::Data(b)) => {
                    t.answer.release(b.len());
                    bytes.push(b);
                }
                Some(e @ Event::StreamEnd(_)) => return Some(e),
                Some(_) => {}
                None => return None,
            }
        }
    }

    /// After the bytes went out: close on `end`, or read on where a CONNECT's or the cap's
    /// pause is over, or feed a new tunnel what the client sent behind its request.
    fn after_flush(&mut self, end: Option<Event>, resume: bool, out: &mut Output<'_>) {
        if let Some(end) = end {
            self.closed = true;
            self.streams.clear();
            self.tunnel = None;
            self.hold(false);
            out.emit(end);
        } else if resume {
            self.paused = false;
            self.pump();
            self.flush(out);
        } else if self.tunnel_unfed {
            if self.shared.nested.get() {
                let env = self.shared.env.clone();
                tokio::task::spawn_local(async move { env.wake() });
            } else {
                self.feed_tunnel();
                self.flush(out);
            }
        }
    }

    /// The response to a CONNECT or Upgrade turned the connection into a tunnel: what
    /// the client sent after the request goes to its pipeline as bytes, and so does its end.
    fn feed_tunnel(&mut self) {
        let Some(t) = &self.tunnel else { return };
        self.tunnel_unfed = false;
        while let Some(item) = self.decoder.next() {
            if let Item::Tunnel(b) = item {
                t.input(Event::Data(b));
            }
        }
        if let Some(end) = self.client_end.take() {
            t.input(end);
        }
    }
}

/// Starts encoding a response head for a request of `info`; returns its status.
fn start_response(encoder: &mut Encoder, head: &Head, info: RequestInfo) -> u16 {
    match head {
        Head::Response(r) => {
            encoder.start_response_head(r, info);
            r.status
        }
        other => {
            let head = host().response_head(other);
            encoder.start_script_response(&head, info);
            head.status
        }
    }
}

/// Answers a collected request with the `serveHTTP` handler.
pub(super) fn respond<A: EventSink + 'static>(
    responder: &Responder,
    env: &FilterEnv,
    answer: &Rc<A>,
    head: Rc<RequestHead>,
    body: Bytes,
) {
    let result = match responder {
        Responder::Script(Given::Fixed(m)) => Ok(m.clone()),
        Responder::Script(Given::Dynamic(f)) => {
            let host = host();
            host.message_value(&Head::Request(head), &body, Value::undefined())
                .and_then(|m| host.call(&env.context, f, &[m]))
        }
        Responder::Pipeline(_) => return,
    };
    let deliver = |answer: &Rc<A>, r: Result<Value, String>| {
        let events = r.and_then(|v| {
            let events = host().to_events(&v)?;
            if !matches!(events.first(), Some(Event::MessageStart(_))) {
                return Err("handler is not or did not return a Message".into());
            }
            Ok(events)
        });
        match events {
            Ok(events) => events.into_iter().for_each(|e| answer.on_event(e)),
            Err(e) => {
                tracing::error!(target: "http", "serveHTTP: {e}");
                answer.on_event(crate::engine::host::runtime_error(e));
            }
        }
    };
    match result {
        Ok(v) if host().is_promise(&v) => {
            let answer = answer.clone();
            host().on_settled(&v, &env.context, Box::new(move |r| deliver(&answer, r)));
        }
        r => deliver(answer, r),
    }
}

/// The trailer fields an end event carries in its tail (a `StreamEnd` carries none).
fn trailers(evt: &Event) -> Vec<Header> {
    match evt {
        Event::MessageEnd(tail) => host().trailers_of(tail),
        _ => Vec::new(),
    }
}
