//! `connectHTTPTunnel(handshake, options?).to(sub)`: the client side of an HTTP tunnel. At
//! the first event `handshake` (or `handshake()`) gives the request, the sub-pipeline is
//! started with a copy of the context and the request goes into it; input is held until a
//! response accepts the tunnel (2xx to CONNECT, 101 to an upgrade), then flows through, and
//! what comes back after the response is this filter's output. Any other response ends the
//! stream. `options.onState(state)` hears `connecting`, `connected`, `closed`.
//!
//! The request is either
//! - a Message, as in Pipy: it goes in as message events and the response is expected as
//!   message events, so the sub-pipeline is an HTTP client (`muxHTTP().to(...)`, which has
//!   to switch its session to raw bytes for the tunnel);
//! - a string `'host:port'` (a Weir extension): the filter writes `CONNECT host:port` itself
//!   and reads the response from the bytes the sub-pipeline (a plain `connect`) returns.

use std::rc::Rc;

use boa_engine::{JsObject, JsResult, JsString};
use bytes::Bytes;

use super::Made;
use super::reply::Replied;
use crate::args::Args;
use crate::codec::http1::{Item, RequestInfo, ResponseDecoder, Skip};
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Held, Layout, Output, Pass, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let what = "a request Message, a target 'host:port',";
    let handshake = args.given(0, what, |v, _| Ok(Some(v.clone()).filter(|v| v.is_string() || v.is_object())))?;
    let on_state = args.options(1).function("onState")?;
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| Box::new(Spec { handshake, on_state, sub }))))
}

struct Spec {
    handshake: Given<Value>,
    on_state: Option<JsObject>,
    sub: Rc<Layout>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "connectHTTPTunnel"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(ConnectHttpTunnel {
            handshake: self.handshake.clone(),
            on_state: self.on_state.clone(),
            layout: self.sub.clone(),
            held: Held::new(env.context.upstream.clone()),
            env,
            sub: None,
            raw: None,
            info: RequestInfo::default(),
            status: None,
            connected: false,
            closed: false,
            held_end: None,
        })
    }
}

struct ConnectHttpTunnel {
    handshake: Given<Value>,
    on_state: Option<JsObject>,
    layout: Rc<Layout>,
    env: FilterEnv,
    sub: Option<Replied>,
    /// Byte mode: the decoder of the response.
    raw: Option<ResponseDecoder>,
    info: RequestInfo,
    /// The response's status, once its head came.
    status: Option<u16>,
    connected: bool,
    closed: bool,
    /// Input until the tunnel opens, counted on the gauge its reader waits on.
    held: Held,
    held_end: Option<Event>,
}

impl ConnectHttpTunnel {
    fn state(&self, state: &str) {
        if let Some(f) = &self.on_state
            && let Err(e) = host().call(&self.env.context, f, &[JsString::from(state).into()])
        {
            tracing::error!(target: "http", "connectHTTPTunnel onState: {e}");
        }
    }

    /// Starts the sub-pipeline and sends the request into it.
    fn open(&mut self) -> Result<(), String> {
        let host = host();
        let handshake = self.handshake.get(&self.env.context, &[], Ok)?;
        let request = if handshake.is_string() {
            let target = host.to_text(&handshake)?;
            self.info = RequestInfo { is_connect: true, ..RequestInfo::default() };
            let mut decoder = ResponseDecoder::new();
            decoder.expect(self.info);
            self.raw = Some(decoder);
            let head = format!("CONNECT {target} HTTP/1.1\r\nhost: {target}\r\n\r\n");
            vec![Event::Data(Bytes::from(head))]
        } else {
            let events = host.to_events(&handshake).ok().filter(|e| matches!(e.first(), Some(Event::MessageStart(_))));
            let events = events.ok_or("handshake is not or did not return a request Message")?;
            if let Some(Event::MessageStart(head)) = events.first() {
                self.info = host.request_head(head).info();
            }
            events
        };
        let sub = Replied::start(self.layout.clone(), self.env.context.copy(None), &self.env);
        request.into_iter().for_each(|e| sub.input(e));
        self.sub = Some(sub);
        self.state("connecting");
        Ok(())
    }

    fn replies(&mut self, out: &mut Output<'_>) {
        while let Some(evt) = self.sub.as_ref().and_then(Replied::take) {
            if self.closed {
                continue;
            }
            if self.connected && self.raw.is_none() {
                out.emit(evt);
                continue;
            }
            match evt {
                Event::Data(b) if self.raw.is_some() => self.decode(b, out),
                Event::MessageStart(head) if self.status.is_none() => {
                    self.status = Some(host().response_head(&head).status);
                }
                Event::MessageEnd(_) if !self.connected => self.answered(out),
                Event::StreamEnd(e) => {
                    if !self.connected {
                        tracing::warn!(target: "http", "connectHTTPTunnel: the stream ended before the tunnel opened");
                        self.state("closed");
                    }
                    self.closed = true;
                    self.held.take();
                    out.emit(Event::StreamEnd(e));
                }
                _ => {}
            }
        }
        // Once the response is through and nothing of it is left to decode, what comes back
        // is handed on unchanged.
        if let Some(sub) = &self.sub {
            let decoded = self.raw.as_ref().is_none_or(|d| d.skippable() == Skip::Rest);
            sub.hand_on(self.connected && !self.closed && decoded);
        }
    }

    /// Byte mode: the response, then the tunnel's bytes.
    fn decode(&mut self, b: Bytes, out: &mut Output<'_>) {
        let Some(decoder) = self.raw.as_mut() else { return };
        decoder.feed(b);
        while let Some(item) = self.raw.as_mut().and_then(ResponseDecoder::next) {
            match item {
                Item::Head(r) if r.info.interim && !r.info.tunnel => {}
                Item::Head(r) => self.status = Some(r.head.status),
                Item::End(_) if !self.connected => self.answered(out),
                Item::Tunnel(b) => out.emit(Event::Data(b)),
                Item::Error(e) => {
                    tracing::warn!(target: "http", "connectHTTPTunnel: {e}");
                    self.refuse(out);
                }
                _ => {}
            }
            if self.closed {
                return;
            }
        }
    }

    /// The whole response is in: open the tunnel or give up.
    fn answered(&mut self, out: &mut Output<'_>) {
        let status = self.status.unwrap_or(0);
        if !self.info.is_tunnel_response(status) {
            tracing::warn!(target: "http", "connectHTTPTunnel: the tunnel was refused with status {status}");
            return self.refuse(out);
        }
        self.connected = true;
        self.state("connected");
        let held = self.held.take();
        if let Some(sub) = &self.sub {
            held.into_iter().for_each(|b| sub.input(Event::Data(b)));
            if let Some(end) = self.held_end.take() {
                sub.input(end);
            }
        }
    }

    fn refuse(&mut self, out: &mut Output<'_>) {
        self.state("closed");
        self.closed = true;
        self.sub = None;
        self.held.take();
        out.emit(Event::end());
    }
}

impl Filter for ConnectHttpTunnel {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.closed {
            return;
        }
        if self.sub.is_none()
            && let Err(e) = self.open()
        {
            tracing::error!(target: "http", "connectHTTPTunnel: {e}");
            self.closed = true;
            return out.emit(runtime_error(e));
        }
        match evt {
            evt if self.connected => {
                if let Some(sub) = &self.sub {
                    sub.input(evt);
                }
            }
            Event::Data(b) => self.held.push(b),
            evt @ Event::StreamEnd(_) => self.held_end = Some(evt),
            _ => {}
        }
        self.replies(out);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        self.replies(out);
    }

    /// Once the tunnel is open, the bytes go where the sub-pipeline sends them.
    fn pass(&self) -> Pass {
        let open = self.connected && !self.closed && self.held.is_empty();
        Replied::pass(self.sub.as_ref().filter(|_| open))
    }

    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        Replied::passed(self.sub.as_ref(), n, out);
        self.replies(out);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::engine::host::stub::{self, Answer, Answers, StubHost};

    type Seen = Rc<RefCell<Vec<String>>>;

    /// `connectHTTPTunnel('example.com:443').to(server)`, the server answering each `Data`
    /// with the next of `answers`; returns what came out and what the server was sent.
    fn run(answers: Vec<&'static [u8]>, input: Vec<Event>) -> (Vec<String>, Seen) {
        StubHost::install();
        let seen = Seen::default();
        let answers: Answers =
            Rc::new(RefCell::new(answers.into_iter().map(|b| vec![Event::Data(Bytes::from_static(b))]).collect()));
        let sub = stub::layout(vec![Box::new(Answer("server", seen.clone(), answers))]);
        let handshake = Given::Fixed(Value::from(JsString::from("example.com:443")));
        let spec = Spec { handshake, on_state: None, sub };
        (stub::run(vec![Box::new(spec)], input), seen)
    }

    fn bytes(b: &'static [u8]) -> Event {
        Event::Data(Bytes::from_static(b))
    }

    const CONNECT: &str = "server: Data CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n";

    #[test]
    fn writes_the_connect_and_a_200_lets_held_input_through() {
        let (out, seen) = run(vec![b"HTTP/1.1 200 OK\r\n\r\nwelcome"], vec![bytes(b"hello"), bytes(b"more")]);
        assert_eq!(out, ["Data welcome"]);
        assert_eq!(*seen.borrow(), [CONNECT, "server: Data hello", "server: Data more"]);
    }

    #[test]
    fn a_response_split_across_reads_still_opens_the_tunnel() {
        let answers: Vec<&'static [u8]> = vec![b"HTTP/1.1 20", b"0 Connection established\r\n", b"\r\n"];
        StubHost::install();
        let seen = Seen::default();
        let answers: Answers = Rc::new(RefCell::new(vec![answers.iter().map(|b| bytes(b)).collect()].into()));
        let sub = stub::layout(vec![Box::new(Answer("server", seen.clone(), answers))]);
        let handshake = Given::Fixed(Value::from(JsString::from("example.com:443")));
        let out = stub::run(vec![Box::new(Spec { handshake, on_state: None, sub })], vec![bytes(b"hi")]);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(*seen.borrow(), [CONNECT, "server: Data hi"]);
    }

    #[test]
    fn a_407_ends_the_stream_and_sends_nothing_held() {
        let refused: &[u8] = b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n";
        let (out, seen) = run(vec![refused], vec![bytes(b"hello"), Event::end()]);
        assert_eq!(out, ["StreamEnd"]);
        assert_eq!(*seen.borrow(), [CONNECT]);
    }

    #[test]
    fn the_client_end_held_during_the_handshake_follows_the_held_bytes() {
        let (_, seen) = run(vec![b"HTTP/1.1 200 OK\r\n\r\n"], vec![bytes(b"a"), Event::end()]);
        assert_eq!(*seen.borrow(), [CONNECT, "server: Data a", "server: StreamEnd"]);
    }
}
