//! HTTP/2 for `demuxHTTP`, `serveHTTP` and `muxHTTP`. The server side is weir's own
//! ([`server`]: frames read from and written to the filter's events); the client side
//! (`muxHTTP`) is the `h2` crate, driving a connection as a task on an in-memory byte
//! stream ([`pipe`]) made of the filter's events.

mod answer;
pub mod client;
mod convert;
mod fields;
mod frame;
mod pipe;
mod server;
mod stream;

use bytes::{Bytes, BytesMut};

use super::http_server::{HttpServer, Responder};
use crate::codec::h2c::{self, PREFACE, Upgrade};
use crate::engine::{Event, FilterEnv, Output};
use server::Http2Server;

/// The answer to an `Upgrade: h2c` request, as Pipy words it.
const SWITCHING: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n";

/// The server side of `demuxHTTP` and `serveHTTP`: HTTP/1 until a connection starts with
/// the HTTP/2 preface (prior knowledge) or its first request asks for `Upgrade: h2c`,
/// HTTP/2 on that connection from then on.
pub struct Server {
    h1: HttpServer,
    h2: Option<Http2Server>,
    /// The first bytes, while they may still be the preface.
    sniff: Option<BytesMut>,
    /// The first request's head, while it may still ask for h2c.
    head: Option<BytesMut>,
    /// Switched by `Upgrade: h2c`: what the client sent since, until its first frames are
    /// in, and the upgrading request as stream 1's HEADERS frame.
    upgrading: Option<(BytesMut, Vec<u8>)>,
    responder: Responder,
    limit: usize,
    env: FilterEnv,
}

impl Server {
    pub fn new(responder: Responder, env: FilterEnv, buffer_size: usize, limit: usize) -> Server {
        let h1 = HttpServer::new(responder.clone(), env.clone(), buffer_size).with_limit(limit);
        Server { h1, h2: None, sniff: Some(BytesMut::new()), head: None, upgrading: None, responder, limit, env }
    }

    pub fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if let Some(h2) = &mut self.h2 {
            return h2.process(evt, out);
        }
        if self.upgrading.is_some() {
            return self.switch(evt, out);
        }
        let evt = match (self.sniff.as_mut(), evt) {
            (Some(seen), Event::Data(b)) => match sniff(seen, b) {
                Sniffed::Http1(b) => {
                    self.sniff = None;
                    self.head = Some(BytesMut::new());
                    Event::Data(b)
                }
                Sniffed::Wait => return,
                Sniffed::Http2(first) => {
                    let env = self.env.clone();
                    let h2 = Http2Server::start(self.responder.clone(), env, self.limit, &first);
                    return self.h2.insert(h2).flush(out);
                }
            },
            (Some(seen), end) => {
                if !seen.is_empty() {
                    let b = std::mem::take(seen).freeze();
                    self.h1.process(Event::Data(b), out);
                }
                self.sniff = None;
                end
            }
            (None, evt) => evt,
        };
        if let Some(evt) = self.first_head(evt, out) {
            self.h1.process(evt, out)
        }
    }

    /// Looks at the first request's head for `Upgrade: h2c` before HTTP/1 gets it; what
    /// HTTP/1 is to have now comes back.
    fn first_head(&mut self, evt: Event, out: &mut Output<'_>) -> Option<Event> {
        let Some(mut held) = self.head.take() else { return Some(evt) };
        let b = match evt {
            Event::Data(b) if held.is_empty() => b,
            Event::Data(b) => {
                held.extend_from_slice(&b);
                held.freeze()
            }
            end => {
                if !held.is_empty() {
                    self.h1.process(Event::Data(held.freeze()), out);
                }
                return Some(end);
            }
        };
        match h2c::upgrade(&b) {
            Upgrade::No => Some(Event::Data(b)),
            Upgrade::More => {
                self.head = Some(BytesMut::from(&b[..]));
                None
            }
            Upgrade::Yes { len, frame } => {
                out.emit(Event::Data(Bytes::from_static(SWITCHING)));
                self.upgrading = Some((BytesMut::from(&b[len..]), frame));
                self.switch(Event::Data(Bytes::new()), out);
                None
            }
        }
    }

    /// After the `101`: once the client's preface and SETTINGS are in, the upgrading
    /// request goes to HTTP/2 as stream 1 after them (RFC 7540 3.2), and the rest follows.
    fn switch(&mut self, evt: Event, out: &mut Output<'_>) {
        let Some((after, _)) = self.upgrading.as_mut() else { return };
        match evt {
            Event::Data(b) => after.extend_from_slice(&b),
            Event::StreamEnd(_) => {
                self.upgrading = None;
                return out.emit(Event::end());
            }
            _ => return,
        }
        let Some(n) = h2c::first_frames(after) else { return };
        let Some((after, frame)) = self.upgrading.take() else { return };
        let first = [&after[..n], &frame[..], &after[n..]].concat();
        let h2 = Http2Server::start(self.responder.clone(), self.env.clone(), self.limit, &first);
        self.h2.insert(h2).flush(out);
    }

    pub fn wake(&mut self, out: &mut Output<'_>) {
        match &mut self.h2 {
            Some(h2) => h2.flush(out),
            None => self.h1.wake(out),
        }
    }
}

/// Takes `b` as the next of the first bytes of a connection.
fn sniff(seen: &mut BytesMut, b: Bytes) -> Sniffed {
    let k = seen.len();
    let m = b.len().min(PREFACE.len() - k);
    if b[..m] != PREFACE[k..k + m] {
        // Not HTTP/2: what was held goes first, then this, without a copy when nothing
        // was held (the usual case: the first bytes differ).
        if k == 0 {
            return Sniffed::Http1(b);
        }
        seen.extend_from_slice(&b);
        return Sniffed::Http1(std::mem::take(seen).freeze());
    }
    seen.extend_from_slice(&b);
    if seen.len() < PREFACE.len() { Sniffed::Wait } else { Sniffed::Http2(std::mem::take(seen).freeze()) }
}

enum Sniffed {
    Http1(Bytes),
    Wait,
    Http2(Bytes),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(pieces: &[&'static [u8]]) -> Vec<&'static str> {
        let mut seen = BytesMut::new();
        pieces
            .iter()
            .map(|p| match sniff(&mut seen, Bytes::from_static(p)) {
                Sniffed::Http1(_) => "h1",
                Sniffed::Wait => "wait",
                Sniffed::Http2(b) if b == PREFACE => "h2",
                Sniffed::Http2(_) => "h2+",
            })
            .collect()
    }

    #[test]
    fn the_preface_is_found_in_any_pieces_and_anything_else_is_http1_at_once() {
        assert_eq!(feed(&[PREFACE]), ["h2"]);
        assert_eq!(feed(&[b"PRI * HTTP/2.0\r\n", b"\r\nSM", b"\r\n\r\n"]), ["wait", "wait", "h2"]);
        assert_eq!(feed(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04"]), ["h2+"]);
        assert_eq!(feed(&[b"GET / HTTP/1.1\r\n"]), ["h1"]);
        // A method that starts like the preface goes to HTTP/1 once it differs.
        assert_eq!(feed(&[b"P", b"OST / HTTP/1.1\r\n"]), ["wait", "h1"]);
        assert_eq!(feed(&[b"PRI * HTTP/1.1\r\n"]), ["h1"]);
    }

    #[test]
    fn held_bytes_go_to_http1_first() {
        let mut seen = BytesMut::new();
        assert!(matches!(sniff(&mut seen, Bytes::from_static(b"PR")), Sniffed::Wait));
        match sniff(&mut seen, Bytes::from_static(b"OPFIND / HTTP/1.1\r\n")) {
            Sniffed::Http1(b) => assert_eq!(&b[..], b"PROPFIND / HTTP/1.1\r\n"),
            _ => panic!("not HTTP/1"),
        }
    }
}
