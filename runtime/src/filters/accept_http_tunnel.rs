//! `acceptHTTPTunnel(handler).to(sub)`: the server side of an HTTP tunnel (`CONNECT`, or an
//! `Upgrade`). `handler(request)` gets the request Message and returns the response (a
//! Message, nothing for an empty `200`, or a Promise of either). If the response accepts the
//! tunnel (2xx to CONNECT, 101 to an upgrade), a sub-pipeline with a copy of the context is
//! started and every later event goes through it; otherwise the filter waits for the next
//! request.
//!
//! It takes either of two inputs, decided by the first event:
//! - messages, as in Pipy, behind a `demuxHTTP` that decodes the request and encodes the
//!   response (the demuxer has to switch the connection to raw bytes for the tunnel);
//! - raw bytes, right on a listener: the filter decodes the requests and encodes the
//!   responses itself, keep-alive included (a Weir extension).
//!
//! The handler gets each request whole, so its body is held: up to `options.bufferLimit`
//! (16 MiB by default); a longer one closes the stream with `BufferOverflow` and a log line
//! (Pipy holds any size).

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::JsResult;
use bytes::{Bytes, BytesMut};

use super::Made;
use crate::args::Args;
use crate::codec::http1::{Encoder, Ending, Item, Out, RequestDecoder, RequestInfo, Skip};
use crate::engine::Sub;
use crate::engine::host::runtime_error;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Head, Layout, Output, Pass, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let f = args.function(0, "a function")?;
    let limit = args.options(1).buffer_limit()?;
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| Box::new(Spec { f, sub, limit }))))
}

struct Spec {
    f: Callback,
    sub: Rc<Layout>,
    /// The most request body bytes held for the handler.
    limit: usize,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "acceptHTTPTunnel"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(AcceptHttpTunnel {
            f: self.f.clone(),
            layout: self.sub.clone(),
            env,
            mode: Mode::Unknown,
            head: None,
            body: BytesMut::new(),
            limit: self.limit,
            info: RequestInfo::default(),
            waiting: false,
            settled: Rc::new(RefCell::new(None)),
            held: Vec::new(),
            decoder: RequestDecoder::new(),
            encoder: Encoder::new(0),
            tunnel: None,
            closed: false,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unknown,
    Messages,
    Bytes,
}

struct AcceptHttpTunnel {
    f: Callback,
    layout: Rc<Layout>,
    env: FilterEnv,
    mode: Mode,
    /// The request being collected.
    head: Option<Head>,
    body: BytesMut,
    limit: usize,
    info: RequestInfo,
    /// The handler returned a Promise: input is held until it settles.
    waiting: bool,
    settled: Rc<RefCell<Option<Result<Value, String>>>>,
    held: Vec<Event>,
    /// Byte mode: the requests' decoder and the responses' encoder.
    decoder: RequestDecoder,
    encoder: Encoder,
    tunnel: Option<Sub>,
    closed: bool,
}

impl AcceptHttpTunnel {
    fn peer(&self) -> String {
        self.env.context.inbound.as_ref().map_or_else(|| "?".into(), |i| i.remote.to_string())
    }

    /// A whole request was collected: ask the handler.
    fn request_done(&mut self, tail: Value, out: &mut Output<'_>) {
        let head = self.head.take().unwrap_or(Head::None);
        let body = std::mem::take(&mut self.body);
        self.info = host().request_head(&head).info();
        let host = host();
        let result = host.message_value(&head, &body, tail).and_then(|m| host.call(&self.env.context, &self.f, &[m]));
        match result {
            Ok(v) if host.is_promise(&v) => {
                self.waiting = true;
                let (settled, env) = (self.settled.clone(), self.env.clone());
                host.on_settled(
                    &v,
                    &self.env.context,
                    Box::new(move |r| {
                        *settled.borrow_mut() = Some(r);
                        env.wake();
                    }),
                );
            }
            r => self.respond(r, out),
        }
    }

    /// Writes the handler's response and opens the tunnel if the response accepts it.
    fn respond(&mut self, result: Result<Value, String>, out: &mut Output<'_>) {
        self.waiting = false;
        let events = result.and_then(|v| {
            if v.is_null_or_undefined() {
                return Ok(vec![Event::MessageStart(Head::None), Event::MessageEnd(Value::undefined())]);
            }
            let events = host().to_events(&v)?;
            match events.first() {
                Some(Event::MessageStart(_)) => Ok(events),
                _ => Err("handler did not return a Message".to_string()),
            }
        });
        let events = match events {
            Ok(events) => events,
            Err(e) => {
                tracing::error!(target: "http", "acceptHTTPTunnel: {e}");
                return self.close(runtime_error(e), out);
            }
        };
        let status = match &events[0] {
            Event::MessageStart(head) => host().response_head(head).status,
            _ => unreachable!("checked above"),
        };
        let open = self.info.is_tunnel_response(status);
        if open {
            // An HTTP/1.0 CONNECT (Python's http.client sends one) is not the last exchange:
            // the connection goes on as the tunnel.
            self.info.is_final = false;
        }
        let ending = match self.mode {
            Mode::Bytes => self.encode(events, out),
            _ => {
                events.into_iter().for_each(|e| out.emit(e));
                None
            }
        };
        if matches!(ending, Some(Ending::Close)) {
            return self.close(Event::end(), out);
        }
        if open {
            let context = self.env.context.copy(None);
            self.tunnel = Some(Sub::start_in(self.layout.clone(), context, &self.env, out));
            if self.mode == Mode::Bytes {
                self.decoder.set_tunnel();
            }
        }
        // What arrived meanwhile: into the tunnel, or on to the next request.
        for evt in std::mem::take(&mut self.held) {
            self.process(evt, out);
        }
        if self.mode == Mode::Bytes {
            self.pump(out);
        }
    }

    /// Byte mode: the response as HTTP/1 bytes.
    fn encode(&mut self, events: Vec<Event>, out: &mut Output<'_>) -> Option<Ending> {
        let mut bytes: Vec<Bytes> = Vec::new();
        let mut emit = |o: Out| match o {
            Out::Start(b) | Out::Body(b) => bytes.push(b),
        };
        let mut ending = None;
        for evt in events {
            match evt {
                Event::MessageStart(Head::Response(r)) => self.encoder.start_response_head(&r, self.info),
                Event::MessageStart(head) => {
                    let r = host().response_head(&head);
                    self.encoder.start_script_response(&r, self.info);
                }
                Event::Data(b) => self.encoder.data(b, &mut emit),
                Event::MessageEnd(_) | Event::StreamEnd(_) => {
                    ending = self.encoder.end(&mut emit);
                    break;
                }
            }
        }
        if ending.is_none() {
            ending = self.encoder.end(&mut emit);
        }
        bytes.into_iter().for_each(|b| out.emit(Event::Data(b)));
        ending
    }

    /// Byte mode: decodes what has arrived, up to the next request to answer.
    fn pump(&mut self, out: &mut Output<'_>) {
        while !self.waiting && !self.closed {
            let Some(item) = self.decoder.next() else { return };
            match item {
                Item::Head(r) => {
                    self.head = Some(Head::Request(Rc::new(r.head)));
                    self.body.clear();
                }
                Item::Body(b) => self.collect(&b, out),
                Item::End(_) => self.request_done(Value::undefined(), out),
                Item::Tunnel(b) => {
                    if let Some(t) = &self.tunnel {
                        t.input(Event::Data(b), out);
                    }
                }
                Item::Http2Preface => {
                    tracing::warn!(target: "http", "acceptHTTPTunnel: HTTP/2 from {} is not supported: closing", self.peer());
                    self.close(Event::end(), out);
                }
                Item::Error(e) => {
                    tracing::warn!(target: "http", "acceptHTTPTunnel: {e} from {}: closing the connection", self.peer());
                    self.close(Event::end(), out);
                }
            }
        }
    }

    /// Adds to the body of the request being collected, up to the limit.
    fn collect(&mut self, b: &[u8], out: &mut Output<'_>) {
        if self.body.len() + b.len() <= self.limit {
            return self.body.extend_from_slice(b);
        }
        tracing::error!(
            target: "http",
            "acceptHTTPTunnel: request body from {} over the limit of {} bytes (bufferLimit): connection closed",
            self.peer(),
            self.limit
        );
        self.body = BytesMut::new();
        self.close(Event::error("BufferOverflow"), out);
    }

    fn close(&mut self, end: Event, out: &mut Output<'_>) {
        self.closed = true;
        self.held.clear();
        out.emit(end);
    }
}

impl Filter for AcceptHttpTunnel {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.closed {
            return;
        }
        if self.waiting {
            return self.held.push(evt);
        }
        if self.mode == Mode::Unknown {
            self.mode = match evt {
                Event::Data(_) => Mode::Bytes,
                _ => Mode::Messages,
            };
        }
        // Byte mode: Data still goes through the decoder, which hands it out as `Tunnel`.
        if let Some(t) = &self.tunnel
            && (self.mode == Mode::Messages || !matches!(evt, Event::Data(_)))
        {
            return t.input(evt, out);
        }
        match (self.mode, evt) {
            (Mode::Bytes, Event::Data(b)) => {
                self.decoder.feed(b);
                self.pump(out);
            }
            (Mode::Messages, Event::MessageStart(head)) => {
                self.head = Some(head);
                self.body.clear();
            }
            (Mode::Messages, Event::Data(b)) if self.head.is_some() => self.collect(&b, out),
            (Mode::Messages, Event::MessageEnd(tail)) if self.head.is_some() => self.request_done(tail, out),
            (_, evt @ Event::StreamEnd(_)) => self.close(evt, out),
            _ => {}
        }
    }

    /// An open tunnel's bytes go where the tunnel's pipeline sends them (its `connect`'s
    /// socket), once nothing is left to decode or to hold.
    fn pass(&self) -> Pass {
        let open = self.mode == Mode::Bytes
            && !self.waiting
            && !self.closed
            && self.held.is_empty()
            && self.decoder.skippable() == Skip::Rest;
        Sub::pass(self.tunnel.as_ref().filter(|_| open))
    }

    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        self.decoder.skip(n);
        Sub::passed(self.tunnel.as_ref(), n, out);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        let settled = self.settled.borrow_mut().take();
        if let Some(r) = settled {
            self.respond(r, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::codec::http1::ResponseHead;
    use crate::engine::host::stub::{self, Record, StubHost};

    type Seen = Rc<RefCell<Vec<String>>>;

    /// `acceptHTTPTunnel(handler, {bufferLimit: limit}).to(sub)` over raw `input`; the
    /// handler answers with the stub's queued returns (an empty 200 when none are left).
    fn run(limit: usize, input: &[&'static [u8]]) -> (Vec<String>, Seen) {
        let seen = Seen::default();
        let sub = stub::layout(vec![Box::new(Record("sub", seen.clone()))]);
        let spec = Spec { f: StubHost::callback(), sub, limit };
        let input = input.iter().map(|b| Event::Data(Bytes::from_static(b))).collect();
        (stub::run(vec![Box::new(spec)], input), seen)
    }

    /// Makes the handler's next answer a bodiless response with `status`.
    fn answer(stub: &StubHost, status: u16) {
        let head = Head::Response(Rc::new(ResponseHead { status, ..ResponseHead::default() }));
        stub.returns.borrow_mut().push_back(Value::from(true));
        stub.events.borrow_mut().push_back(vec![Event::MessageStart(head), Event::MessageEnd(Value::undefined())]);
    }

    const CONNECT: &[u8] = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";

    #[test]
    fn connect_is_answered_200_and_later_bytes_go_through_the_tunnel() {
        let stub = StubHost::install();
        let (out, seen) = run(1024, &[CONNECT, b"tls hello"]);
        assert!(out[0].starts_with("Data HTTP/1.1 200"), "{out:?}");
        assert_eq!(out[1..], ["Data tls hello"]);
        assert_eq!(*seen.borrow(), ["sub: Data tls hello"]);
        assert_eq!(*stub.log.borrow(), ["message 0", "call/1"]);
    }

    #[test]
    fn bytes_in_the_same_read_as_the_connect_go_through_the_tunnel() {
        StubHost::install();
        let (_, seen) = run(1024, &[b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\nearly"]);
        assert_eq!(*seen.borrow(), ["sub: Data early"]);
    }

    #[test]
    fn a_refusing_answer_opens_no_tunnel_and_waits_for_the_next_request() {
        let stub = StubHost::install();
        answer(&stub, 407);
        let (out, seen) = run(1024, &[CONNECT, CONNECT, b"after"]);
        assert!(out[0].starts_with("Data HTTP/1.1 407"), "{out:?}");
        assert!(out[1].starts_with("Data HTTP/1.1 200"), "{out:?}");
        assert_eq!(*seen.borrow(), ["sub: Data after"]);
        assert_eq!(*stub.log.borrow(), ["message 0", "call/1", "message 0", "call/1"]);
    }

    #[test]
    fn a_plain_request_goes_to_the_handler_and_opens_no_tunnel() {
        let stub = StubHost::install();
        let (out, seen) = run(1024, &[b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", b"zz"]);
        assert!(out[0].starts_with("Data HTTP/1.1 200"), "{out:?}");
        assert!(seen.borrow().is_empty(), "{seen:?}");
        assert_eq!(*stub.log.borrow(), ["message 3", "call/1"]);
    }

    #[test]
    fn a_body_over_the_buffer_limit_closes_with_buffer_overflow() {
        let stub = StubHost::install();
        let (out, _) = run(4, &[b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\n", b"12345678"]);
        assert_eq!(out, ["StreamEnd error"]);
        assert!(stub.log.borrow().is_empty(), "{:?}", stub.log.borrow());
    }

    #[test]
    fn message_input_gets_the_response_as_events_and_the_tunnel_the_rest() {
        StubHost::install();
        let seen = Seen::default();
        let sub = stub::layout(vec![Box::new(Record("sub", seen.clone()))]);
        let spec = Spec { f: StubHost::callback(), sub, limit: 1024 };
        let head = crate::codec::http1::RequestHead { method: "CONNECT".into(), ..Default::default() };
        let input = vec![
            Event::MessageStart(Head::Request(Rc::new(head))),
            Event::MessageEnd(Value::undefined()),
            Event::Data(Bytes::from_static(b"raw")),
        ];
        let out = stub::run(vec![Box::new(spec)], input);
        assert_eq!(out, ["MessageStart", "MessageEnd", "Data raw"]);
        assert_eq!(*seen.borrow(), ["sub: Data raw"]);
    }
}
