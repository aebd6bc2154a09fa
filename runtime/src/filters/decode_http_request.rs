//! `decodeHTTPRequest(handler?)`: HTTP/1 requests out of a byte stream.
//!
//! In: `Data` in any segmentation; other events but `StreamEnd` are dropped. Out, per
//! request: `MessageStart` with the head, the body as `Data` (de-chunked), `MessageEnd` (its
//! tail `{ headers, headerNames }` holds the trailer fields of a chunked body, if any).
//! `StreamEnd` passes and readies the decoder for a new stream. Input that is not HTTP/1
//! stops the decoding silently: nothing more comes out but the `StreamEnd`.
//!
//! Each request is also noted on the connection (its `Inbound`), where a
//! `decodeHTTPResponse` on the same connection finds it to frame the response (HEAD).
//!
//! `handler(head)` is called with each head before it goes out; the head then goes out as
//! the very object the handler saw, so that its changes show downstream.

use std::rc::Rc;

use boa_engine::{JsObject, JsResult, JsValue};

use super::Made;
use crate::args::Args;
use crate::codec::http1::{DecodeError, DecodedRequest, Item, RequestDecoder, Skip, Tail};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, Pass, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let handler = args.optional_function(0, "a function")?;
    Ok(Made::Filter(Box::new(Spec { handler })))
}

struct Spec {
    handler: Option<JsObject>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decodeHTTPRequest"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecodeHttpRequest { decoder: RequestDecoder::new(), handler: self.handler.clone(), env, ended: false })
    }
}

struct DecodeHttpRequest {
    decoder: RequestDecoder,
    handler: Option<JsObject>,
    env: FilterEnv,
    /// The handler threw: the filter emitted its error `StreamEnd` and is done.
    ended: bool,
}

impl DecodeHttpRequest {
    /// The head as it goes out: the Rust head, or the JS object the handler was given.
    fn head(&self, head: Head) -> Result<Head, String> {
        let Some(f) = &self.handler else {
            return Ok(head);
        };
        let host = host();
        let obj = host.head_value(&head)?;
        host.call(&self.env.context, f, std::slice::from_ref(&obj))?;
        Ok(Head::Js(obj))
    }
}

impl Filter for DecodeHttpRequest {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        match evt {
            Event::Data(data) => self.decoder.feed(data),
            Event::StreamEnd(_) => {
                self.decoder.reset();
                out.emit(evt);
                return;
            }
            Event::MessageStart(_) | Event::MessageEnd(_) => return,
        }
        self.drain(out);
    }

    /// Body bytes nobody after this filter reads need not be fed to the decoder: it only
    /// counts them, and the heads that follow are still decoded.
    fn pass(&self) -> Pass {
        if self.ended {
            return Pass::Absorb(u64::MAX);
        }
        decoder_pass(self.decoder.skippable(), &self.env)
    }

    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        if !self.ended {
            self.decoder.skip(n);
            self.drain(out);
        }
    }
}

/// The `MessageEnd` for a decoded message's end: its tail holds the trailer fields of a
/// chunked body (`undefined` without any, as most messages are).
pub(super) fn message_end(tail: &Tail) -> Event {
    if tail.trailers.is_empty() {
        return Event::MessageEnd(JsValue::undefined());
    }
    Event::MessageEnd(host().tail_value(&tail.trailers).unwrap_or_default())
}

/// What a decoder in front of `env`'s filter does with bytes it could skip: body bytes only
/// if the filters after it would take them unseen too (they come out as `Data` otherwise).
pub(super) fn decoder_pass(skip: Skip, env: &FilterEnv) -> Pass {
    match skip {
        Skip::No => Pass::No,
        Skip::Rest => Pass::Absorb(u64::MAX),
        Skip::Body(n) => match env.pass_after() {
            Pass::Absorb(_) => Pass::Absorb(n),
            _ => Pass::No,
        },
    }
}

impl DecodeHttpRequest {
    /// The head to emit, once the connection's response decoder knows of the request.
    fn head_with_info(&self, r: DecodedRequest) -> Result<Head, String> {
        if let Some(inbound) = &self.env.context.inbound {
            inbound.push_request(r.info);
        }
        self.head(Head::Request(Rc::new(r.head)))
    }

    /// Emits what the decoder has made of its input so far.
    fn drain(&mut self, out: &mut Output<'_>) {
        while let Some(item) = self.decoder.next() {
            match item {
                Item::Head(r) => match self.head_with_info(r) {
                    Ok(head) => out.emit(Event::MessageStart(head)),
                    Err(e) => {
                        tracing::error!(target: "pipeline", "decodeHTTPRequest: {e}");
                        self.ended = true;
                        out.emit(crate::engine::host::runtime_error(e));
                        return;
                    }
                },
                Item::Body(b) => out.emit(Event::Data(b)),
                Item::End(t) => out.emit(message_end(&t)),
                Item::Error(DecodeError::TooLarge) => {
                    tracing::error!(target: "http", "HTTP header size overflow")
                }
                Item::Error(e) => tracing::debug!(target: "http", "decodeHTTPRequest stops: {e}"),
                // Like Pipy, this filter does not follow the stream into HTTP/2 or a tunnel.
                Item::Http2Preface | Item::Tunnel(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use bytes::Bytes;

    use super::*;
    use crate::engine::{Context, Layout, Pipeline};

    /// Runs `input` through a pipeline of just this filter; one line per output event.
    fn run(input: Vec<Event>) -> Vec<String> {
        run_with(None, input)
    }

    fn run_with(handler: Option<JsObject>, input: Vec<Event>) -> Vec<String> {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = seen.clone();
        let layout = Layout {
            name: "test".into(),
            on_start: None,
            on_end: None,
            filters: vec![Box::new(Spec { handler })],
            ..Default::default()
        };
        let p = Pipeline::new(Rc::new(layout), Context::root(), Rc::new(move |e: Event| sink.borrow_mut().push(e)));
        p.start(&[]);
        input.into_iter().for_each(|e| p.input(e));
        seen.borrow()
            .iter()
            .map(|e| match e {
                Event::MessageStart(Head::Request(h)) => {
                    format!("start {} {} {:?}", h.method, h.path, h.headers)
                }
                Event::Data(b) => format!("data {}", String::from_utf8_lossy(b)),
                Event::MessageEnd(t) => format!("end {}", t.display()),
                Event::StreamEnd(e) => format!("stream end {:?}", e.as_ref().map(|e| e.name())),
                other => format!("unexpected {}", other.type_name()),
            })
            .collect()
    }

    fn data(s: &'static [u8]) -> Event {
        Event::Data(Bytes::from_static(s))
    }

    #[test]
    fn decodes_pipelined_requests_in_pieces() {
        let out = run(vec![
            data(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r"),
            Event::MessageEnd(JsValue::undefined()),
            data(b"\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n"),
            data(b"\r\n"),
            Event::end(),
        ]);
        assert_eq!(
            out,
            [
                r#"start POST /a [Header { name: "Transfer-Encoding", value: "chunked" }]"#,
                "data abc",
                "end undefined",
                r#"start GET /b [Header { name: "Host", value: "h" }]"#,
                "end undefined",
                "stream end None",
            ]
        );
    }

    #[test]
    fn stops_silently_on_other_protocols_until_the_stream_ends() {
        // Input after the end reaches no filter: the pipeline ignores it.
        let out = run(vec![
            data(b"GET / HTTP/1.1\r\n\r\n"),
            data(b"\x16\x03\x01\x00"),
            data(b"GET /ignored HTTP/1.1\r\n\r\n"),
            Event::error("ConnectionReset"),
            data(b"GET /late HTTP/1.1\r\n\r\n"),
        ]);
        assert_eq!(out, ["start GET / []", "end undefined", r#"stream end Some("ConnectionReset")"#,]);
    }
}
