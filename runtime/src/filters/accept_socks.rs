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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::engine::host::stub::{self, Record, StubHost};

    type Seen = Rc<RefCell<Vec<String>>>;

    /// `acceptSOCKS(fn).to(sub)`, `fn` answering `granted`, `sub` recording what it got.
    fn run(granted: Option<bool>, input: &[&[u8]]) -> (Vec<String>, Seen, Vec<String>) {
        let stub = StubHost::install();
        if let Some(g) = granted {
            stub.returns.borrow_mut().push_back(JsValue::from(g));
        }
        let seen = Seen::default();
        let sub = stub::layout(vec![Box::new(Record("sub", seen.clone()))]);
        let spec = Spec { f: StubHost::callback(), sub };
        let input = input.iter().map(|b| Event::Data(Bytes::copy_from_slice(b))).collect();
        let out = stub::run(vec![Box::new(spec)], input);
        let log = stub.log.borrow().clone();
        (out, seen, log)
    }

    fn data(b: &[u8]) -> String {
        format!("Data {}", String::from_utf8_lossy(b))
    }

    const V5_GREETING: &[u8] = &[5, 1, 0];
    const V5_CONNECT_IP: &[u8] = &[5, 1, 0, 1, 127, 0, 0, 1, 0, 80];

    #[test]
    fn socks5_greeting_is_answered_no_auth_and_a_granted_request_opens_the_tunnel() {
        let (out, seen, log) = run(Some(true), &[V5_GREETING, V5_CONNECT_IP, b"hello"]);
        assert_eq!(out, [data(&[5, 0]), data(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]), data(b"hello")]);
        assert_eq!(*seen.borrow(), ["sub: Data hello"]);
        assert_eq!(log, ["object id,ip,domain,port", "call/1"]);
    }

    #[test]
    fn socks5_handshake_split_across_reads_and_bytes_after_it_in_the_same_read() {
        let mut joined = V5_CONNECT_IP.to_vec();
        joined.extend_from_slice(b"early");
        let (out, seen, _) = run(Some(true), &[&[5], &[1, 0, 5, 1], &[0, 3, 4], b"host\0P"]);
        assert_eq!(out[..2], [data(&[5, 0]), data(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])]);
        assert!(seen.borrow().is_empty(), "{seen:?}");
        let (_, seen, _) = run(Some(true), &[V5_GREETING, &joined]);
        assert_eq!(*seen.borrow(), ["sub: Data early"]);
    }

    #[test]
    fn socks5_refused_request_is_answered_not_allowed_and_closed() {
        let (out, seen, _) = run(Some(false), &[V5_GREETING, V5_CONNECT_IP, b"hello"]);
        assert_eq!(out, [data(&[5, 0]), data(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]), "StreamEnd".into()]);
        assert!(seen.borrow().is_empty(), "{seen:?}");
    }

    #[test]
    fn socks5_client_wanting_authentication_is_refused_without_calling_fn() {
        let (out, seen, log) = run(None, &[&[5, 1, 2], V5_CONNECT_IP]);
        assert_eq!(out, [data(&[5, 0xff]), "StreamEnd".into()]);
        assert!(seen.borrow().is_empty());
        assert!(log.is_empty(), "{log:?}");
    }

    #[test]
    fn socks5_bind_command_is_answered_not_supported() {
        let (out, _, log) = run(None, &[V5_GREETING, &[5, 2, 0, 1, 127, 0, 0, 1, 0, 80]]);
        assert_eq!(out, [data(&[5, 0]), data(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]), "StreamEnd".into()]);
        assert!(log.is_empty(), "{log:?}");
    }

    #[test]
    fn socks4_and_4a_requests_get_a_socks4_reply() {
        let v4 = [&[4, 1, 0, 80, 127, 0, 0, 1][..], b"me\0tail"].concat();
        let (out, seen, _) = run(Some(true), &[&v4]);
        assert_eq!(out, [data(&[0, 0x5a, 0, 0, 0, 0, 0, 0]), data(b"tail")]);
        assert_eq!(*seen.borrow(), ["sub: Data tail"]);
        let v4a = [&[4, 1, 0, 80, 0, 0, 0, 9][..], b"\0example.com\0"].concat();
        let (out, seen, _) = run(Some(false), &[&v4a]);
        assert_eq!(out, [data(&[0, 0x5b, 0, 0, 0, 0, 0, 0]), "StreamEnd".into()]);
        assert!(seen.borrow().is_empty());
    }

    #[test]
    fn not_a_socks_greeting_closes_with_no_reply() {
        let (out, _, log) = run(Some(true), &[b"GET / HTTP/1.1\r\n"]);
        assert_eq!(out, ["StreamEnd"]);
        assert!(log.is_empty(), "{log:?}");
    }

    #[test]
    fn client_end_before_the_handshake_ends_the_stream_and_nothing_after_it_counts() {
        let stub = StubHost::install();
        let seen = Seen::default();
        let sub = stub::layout(vec![Box::new(Record("sub", seen.clone()))]);
        let spec = Spec { f: StubHost::callback(), sub };
        let input = vec![Event::Data(Bytes::from_static(&[5])), Event::end(), Event::Data(Bytes::from_static(b"x"))];
        let out = stub::run(vec![Box::new(spec)], input);
        assert_eq!(out, ["StreamEnd"]);
        assert!(stub.log.borrow().is_empty());
    }
}
