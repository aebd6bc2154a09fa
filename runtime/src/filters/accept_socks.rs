//! `acceptSOCKS(fn).to(sub)`: the server side of SOCKS4, SOCKS4a and SOCKS5 (no
//! authentication, CONNECT). `fn({id, ip, domain, port})` decides: truthy (or a Promise of
//! it) grants the request, and every byte after the handshake goes through `sub`, which
//! shares this context; falsy refuses it and closes the stream. A malformed handshake
//! closes the stream too, with a log line.

use std::cell::Cell;
use std::rc::Rc;

use boa_engine::{JsResult, JsString, JsValue};
use bytes::{Buf, Bytes, BytesMut};

use super::Made;
use crate::args::Args;
use crate::codec::socks::{self, Request, ServerStep};
use crate::engine::Sub;
use crate::engine::host::runtime_error;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Held, Layout, Output, Pass, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let f = args.function(0, "a function")?;
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| Box::new(Spec { f, sub }))))
}

struct Spec {
    f: Callback,
    sub: Rc<Layout>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "acceptSOCKS"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(AcceptSocks {
            f: self.f.clone(),
            sub: self.sub.clone(),
            held: Held::new(env.context.upstream.clone()),
            env,
            buf: BytesMut::new(),
            stage: Stage::Greeting,
            decision: Rc::new(Cell::new(None)),
            client_end: None,
        })
    }
}

enum Stage {
    Greeting,
    /// SOCKS5 after the greeting: the request comes next.
    Request,
    /// Waiting for `fn`'s Promise; the version to reply with.
    Deciding(u8),
    Tunnel(Sub),
    Closed,
}

struct AcceptSocks {
    f: Callback,
    sub: Rc<Layout>,
    env: FilterEnv,
    /// Handshake bytes not parsed yet, and what came with the request.
    buf: BytesMut,
    /// What came while `fn` decided, counted on the gauge its reader waits on.
    held: Held,
    stage: Stage,
    /// A settled Promise's verdict, for `wake`.
    decision: Rc<Cell<Option<bool>>>,
    /// The client ended while `fn`'s Promise was pending.
    client_end: Option<Event>,
}

impl AcceptSocks {
    fn peer(&self) -> String {
        self.env.context.inbound.as_ref().map_or_else(|| "?".into(), |i| i.remote.to_string())
    }

    fn advance(&mut self, out: &mut Output<'_>) {
        loop {
            let after_greeting = matches!(self.stage, Stage::Request);
            match socks::parse_server(&self.buf, after_greeting) {
                Ok(None) => return,
                Ok(Some(ServerStep::Greeting { len })) => {
                    self.buf.advance(len);
                    out.emit(Event::Data(Bytes::from_static(&socks::METHOD_NO_AUTH)));
                    self.stage = Stage::Request;
                }
                Ok(Some(ServerStep::Connect { request, len })) => {
                    self.buf.advance(len);
                    return self.decide(request, out);
                }
                Err(e) => {
                    tracing::warn!(target: "socks", "acceptSOCKS: {e} from {}: closing the connection", self.peer());
                    if let Some(reply) = e.reply {
                        out.emit(Event::Data(Bytes::from(reply)));
                    }
                    return self.close(Event::end(), out);
                }
            }
        }
    }

    fn decide(&mut self, request: Request, out: &mut Output<'_>) {
        let version = request.version;
        let host = host();
        let verdict = request_value(&request).and_then(|arg| host.call(&self.env.context, &self.f, &[arg]));
        match verdict {
            Ok(v) if host.is_promise(&v) => {
                self.stage = Stage::Deciding(version);
                let (decision, env) = (self.decision.clone(), self.env.clone());
                let settled = move |r: Result<JsValue, String>| {
                    if let Err(e) = &r {
                        tracing::error!(target: "socks", "acceptSOCKS: {e}");
                    }
                    decision.set(Some(r.is_ok_and(|v| v.to_boolean())));
                    env.wake();
                };
                host.on_settled(&v, &self.env.context, Box::new(settled));
            }
            Ok(v) => self.conclude(version, v.to_boolean(), out),
            Err(e) => {
                tracing::error!(target: "socks", "acceptSOCKS: {e}");
                out.emit(Event::Data(Bytes::from(socks::reply(version, false))));
                self.close(runtime_error(e), out);
            }
        }
    }

    fn conclude(&mut self, version: u8, granted: bool, out: &mut Output<'_>) {
        out.emit(Event::Data(Bytes::from(socks::reply(version, granted))));
        if !granted {
            tracing::debug!(target: "socks", "acceptSOCKS: refused a request from {}", self.peer());
            return self.close(Event::end(), out);
        }
        let sub = Sub::start(self.sub.clone(), &self.env, out);
        if !self.buf.is_empty() {
            sub.input(Event::Data(self.buf.split().freeze()), out);
        }
        for b in self.held.take() {
            sub.input(Event::Data(b), out);
        }
        if let Some(end) = self.client_end.take() {
            sub.input(end, out);
        }
        self.stage = Stage::Tunnel(sub);
    }

    fn tunnel(&self) -> Option<&Sub> {
        match &self.stage {
            Stage::Tunnel(sub) => Some(sub),
            _ => None,
        }
    }

    fn close(&mut self, end: Event, out: &mut Output<'_>) {
        self.stage = Stage::Closed;
        self.buf = BytesMut::new();
        self.held.take();
        out.emit(end);
    }
}

/// The `{id, ip, domain, port}` object `fn` is given; absent fields are undefined.
fn request_value(r: &Request) -> Result<JsValue, String> {
    let text = |s: Option<String>| s.map_or(JsValue::undefined(), |s| JsString::from(s.as_str()).into());
    host().object(&[
        ("id", text(r.id.clone())),
        ("ip", text(r.ip.map(|ip| ip.to_string()))),
        ("domain", text(r.domain.clone())),
        ("port", JsValue::from(r.port)),
    ])
}

impl Filter for AcceptSocks {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match &self.stage {
            Stage::Tunnel(sub) => sub.input(evt, out),
            Stage::Closed => {}
            Stage::Deciding(_) => match evt {
                Event::Data(b) => self.held.push(b),
                Event::StreamEnd(_) => self.client_end = Some(evt),
                _ => {}
            },
            Stage::Greeting | Stage::Request => match evt {
                Event::Data(b) => {
                    self.buf.extend_from_slice(&b);
                    self.advance(out);
                }
                Event::StreamEnd(_) => self.close(evt, out),
                _ => {}
            },
        }
    }

    /// A granted tunnel's bytes go where its pipeline sends them.
    fn pass(&self) -> Pass {
        Sub::pass(self.tunnel())
    }

    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        Sub::passed(self.tunnel(), n, out);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        if let Stage::Deciding(version) = self.stage
            && let Some(granted) = self.decision.take()
        {
            self.conclude(version, granted, out);
        }
    }
}
