//! `connectSOCKS(target).to(sub)`: the client side of SOCKS5 (no authentication). At the
//! first event the sub-pipeline (sharing this context, usually a `connect` to the SOCKS
//! server) is started and greeted; the CONNECT for `target` (`'host:port'`, or a function
//! returning it, called when the server has answered the greeting) follows. Input is held
//! until the server grants the request, then flows through; what the server sends after its
//! reply is this filter's output. A refusal ends the stream, with a log line.

use std::rc::Rc;

use boa_engine::JsResult;
use bytes::{Buf, Bytes, BytesMut};

use super::Made;
use super::reply::Replied;
use crate::args::Args;
use crate::codec::socks;
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Held, Layout, Output, Pass};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let target = args.given_text(0, "a target 'host:port'")?;
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| Box::new(Spec { target, sub }))))
}

struct Spec {
    target: Given<String>,
    sub: Rc<Layout>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "connectSOCKS"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(ConnectSocks {
            target: self.target.clone(),
            sub_layout: self.sub.clone(),
            held: Held::new(env.context.upstream.clone()),
            env,
            sub: None,
            stage: Stage::Method,
            reply: BytesMut::new(),
            held_end: None,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the answer to the greeting.
    Method,
    /// Waiting for the answer to the CONNECT.
    Connect,
    Connected,
    Closed,
}

struct ConnectSocks {
    target: Given<String>,
    sub_layout: Rc<Layout>,
    env: FilterEnv,
    sub: Option<Replied>,
    stage: Stage,
    /// The server's handshake bytes received so far.
    reply: BytesMut,
    /// Input held until the server grants the CONNECT, counted on the gauge its reader
    /// waits on.
    held: Held,
    held_end: Option<Event>,
}

impl ConnectSocks {
    /// Handles what the sub-pipeline sent back.
    fn replies(&mut self, out: &mut Output<'_>) {
        while let Some(evt) = self.sub.as_ref().and_then(Replied::take) {
            match (self.stage, evt) {
                (Stage::Closed, _) => {}
                (Stage::Connected, evt) => out.emit(evt),
                (_, evt @ Event::StreamEnd(_)) => {
                    tracing::warn!(target: "socks", "connectSOCKS: the SOCKS server closed during the handshake");
                    self.stage = Stage::Closed;
                    self.held.take();
                    out.emit(evt);
                }
                (_, Event::Data(b)) => {
                    self.reply.extend_from_slice(&b);
                    if let Err(fail) = self.handshake(out) {
                        self.stage = Stage::Closed;
                        self.sub = None;
                        self.held.take();
                        out.emit(match fail {
                            Fail::Server(e) => {
                                tracing::warn!(target: "socks", "connectSOCKS: {e}");
                                Event::end()
                            }
                            Fail::Script(e) => {
                                tracing::error!(target: "socks", "connectSOCKS: {e}");
                                runtime_error(e)
                            }
                        });
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn handshake(&mut self, out: &mut Output<'_>) -> Result<(), Fail> {
        if self.stage == Stage::Method {
            let Some(n) = socks::parse_method_reply(&self.reply)? else { return Ok(()) };
            self.reply.advance(n);
            let (host_name, port) = self.target().map_err(Fail::Script)?;
            let request = socks::connect_request(&host_name, port).map_err(Fail::Script)?;
            self.stage = Stage::Connect;
            self.send(Event::Data(Bytes::from(request)));
        }
        if self.stage == Stage::Connect {
            let Some(n) = socks::parse_connect_reply(&self.reply)? else { return Ok(()) };
            self.reply.advance(n);
            self.stage = Stage::Connected;
            if let Some(sub) = &self.sub {
                sub.hand_on(true);
            }
            let rest = self.reply.split().freeze();
            if !rest.is_empty() {
                out.emit(Event::Data(rest));
            }
            for b in self.held.take() {
                self.send(Event::Data(b));
            }
            if let Some(end) = self.held_end.take() {
                self.send(end);
            }
        }
        Ok(())
    }

    fn target(&self) -> Result<(String, u16), String> {
        let text = self.target.text(&self.env.context)?;
        let invalid = || format!("target is not 'host:port': {text:?}");
        let (h, p) = text.rsplit_once(':').ok_or_else(invalid)?;
        Ok((h.to_string(), p.parse().map_err(|_| invalid())?))
    }

    fn send(&self, evt: Event) {
        if let Some(sub) = &self.sub {
            sub.input(evt);
        }
    }
}

/// Why the handshake stopped: the server's answer, or the script's target.
enum Fail {
    Server(String),
    Script(String),
}

impl From<String> for Fail {
    fn from(e: String) -> Fail {
        Fail::Server(e)
    }
}

impl Filter for ConnectSocks {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.stage == Stage::Closed {
            return;
        }
        if self.sub.is_none() {
            let sub = Replied::start(self.sub_layout.clone(), self.env.context.clone(), &self.env);
            sub.input(Event::Data(Bytes::from_static(&socks::CLIENT_GREETING)));
            self.sub = Some(sub);
        }
        match (self.stage, evt) {
            (Stage::Connected, evt) => self.send(evt),
            (_, Event::Data(b)) => self.held.push(b),
            (_, evt @ Event::StreamEnd(_)) => self.held_end = Some(evt),
            _ => {}
        }
        self.replies(out);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        self.replies(out);
    }

    /// Once connected, the bytes go where the sub-pipeline sends them.
    fn pass(&self) -> Pass {
        Replied::pass(self.sub.as_ref().filter(|_| self.stage == Stage::Connected))
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

    /// `connectSOCKS(target).to(server)`, the server answering each `Data` with the next
    /// of `answers`; returns what came out and what the server was sent.
    fn run(target: &str, answers: Vec<Vec<Event>>, input: Vec<Event>) -> (Vec<String>, Seen) {
        StubHost::install();
        let seen = Seen::default();
        let answers: Answers = Rc::new(RefCell::new(answers.into()));
        let sub = stub::layout(vec![Box::new(Answer("server", seen.clone(), answers))]);
        let spec = Spec { target: Given::Fixed(target.into()), sub };
        (stub::run(vec![Box::new(spec)], input), seen)
    }

    fn bytes(b: &[u8]) -> Event {
        Event::Data(Bytes::copy_from_slice(b))
    }

    fn data(b: &[u8]) -> String {
        format!("Data {}", String::from_utf8_lossy(b))
    }

    const METHOD: &[u8] = &[5, 0];
    const GRANTED: &[u8] = &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0];

    #[test]
    fn greets_then_connects_then_lets_held_input_through() {
        let granted = [GRANTED, b"welcome"].concat();
        let answers = vec![vec![bytes(METHOD)], vec![bytes(&granted)]];
        let (out, seen) = run("example.com:80", answers, vec![bytes(b"hello"), bytes(b"more")]);
        assert_eq!(out, ["Data welcome"]);
        let connect = [&[5, 1, 0, 3, 11][..], b"example.com", &[0, 80]].concat();
        assert_eq!(
            *seen.borrow(),
            [
                format!("server: {}", data(&[5, 1, 0])),
                format!("server: {}", data(&connect)),
                "server: Data hello".into(),
                "server: Data more".into()
            ]
        );
    }

    #[test]
    fn ip_targets_are_sent_as_addresses_and_replies_split_across_reads_still_connect() {
        let answers = vec![vec![bytes(&[5]), bytes(&[0])], vec![bytes(&GRANTED[..4]), bytes(&GRANTED[4..])]];
        let (out, seen) = run("127.0.0.1:80", answers, vec![bytes(b"hi")]);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(seen.borrow()[1], format!("server: {}", data(&[5, 1, 0, 1, 127, 0, 0, 1, 0, 80])));
        assert_eq!(seen.borrow()[2], "server: Data hi");
    }

    #[test]
    fn a_refused_connect_ends_the_stream_and_sends_nothing_held() {
        let answers = vec![vec![bytes(METHOD)], vec![bytes(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0])]];
        let (out, seen) = run("example.com:80", answers, vec![bytes(b"hello"), Event::end()]);
        assert_eq!(out, ["StreamEnd"]);
        assert_eq!(seen.borrow().len(), 2, "{seen:?}");
    }

    #[test]
    fn a_server_wanting_authentication_ends_the_stream_before_the_connect() {
        let (out, seen) = run("example.com:80", vec![vec![bytes(&[5, 2])]], vec![bytes(b"hello")]);
        assert_eq!(out, ["StreamEnd"]);
        assert_eq!(seen.borrow().len(), 1, "{seen:?}");
    }

    #[test]
    fn a_server_closing_during_the_handshake_ends_the_stream() {
        let (out, seen) = run("example.com:80", vec![vec![Event::end()]], vec![bytes(b"hello")]);
        assert_eq!(out, ["StreamEnd"]);
        assert_eq!(seen.borrow().len(), 1, "{seen:?}");
    }

    #[test]
    fn a_target_without_a_port_is_a_script_error() {
        let (out, seen) = run("example.com", vec![vec![bytes(METHOD)]], vec![bytes(b"hello")]);
        assert_eq!(out, ["StreamEnd error"]);
        assert_eq!(seen.borrow().len(), 1, "{seen:?}");
    }

    #[test]
    fn the_client_end_held_during_the_handshake_follows_the_held_bytes() {
        let answers = vec![vec![bytes(METHOD)], vec![bytes(GRANTED)]];
        let (_, seen) = run("example.com:80", answers, vec![bytes(b"a"), Event::end()]);
        assert_eq!(seen.borrow()[2..], ["server: Data a", "server: StreamEnd"]);
    }
}
