//! `decodeHTTPResponse()`: HTTP/1 responses out of a byte stream.
//!
//! In: `Data` in any segmentation; other events but `StreamEnd` are dropped. Out, per
//! response: `MessageStart` with the head, the body as `Data` (de-chunked), `MessageEnd` (with
//! the trailers in its tail, as `decodeHTTPRequest`).
//! Input that is not HTTP/1 stops the decoding silently.
//!
//! The requests a `decodeHTTPRequest` read on the same inbound connection (as in a
//! transparent proxy's two forks) frame their responses in order: the answer to a `HEAD`
//! has no body whatever its `content-length`, a 2xx to `CONNECT` starts a tunnel. Without
//! them, a response is framed by its own headers (as always in Pipy). A body that runs
//! until the stream closes ends with a `MessageEnd` when the stream ends normally.
//!
//! When the stream ends with an error while no response has started, the filter makes one
//! up first, as Pipy does for proxies: 502 (or 504 for timeouts, 401 for `Unauthorized`),
//! with the error value as its body if the error carries one.

use std::rc::Rc;

use boa_engine::JsResult;
use bytes::Bytes;

use super::Made;
use crate::args::Args;
use crate::codec::http1::{self, DecodeError, Item, ResponseDecoder};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, Pass, StreamError, Value};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decodeHTTPResponse"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecodeHttpResponse { decoder: ResponseDecoder::new(), env })
    }
}

struct DecodeHttpResponse {
    decoder: ResponseDecoder,
    env: FilterEnv,
}

fn emit_item(item: Item<http1::DecodedResponse>, out: &mut Output<'_>) {
    match item {
        Item::Head(r) => out.emit(Event::MessageStart(Head::Response(Rc::new(r.head)))),
        Item::Body(b) => out.emit(Event::Data(b)),
        Item::End(t) => out.emit(super::decode_http_request::message_end(&t)),
        Item::Error(DecodeError::TooLarge) => {
            tracing::error!(target: "http", "HTTP header size overflow")
        }
        Item::Error(e) => tracing::debug!(target: "http", "decodeHTTPResponse stops: {e}"),
        // Like Pipy, this filter does not follow the stream into a tunnel.
        Item::Http2Preface | Item::Tunnel(_) => {}
    }
}

impl Filter for DecodeHttpResponse {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(data) => {
                if let Some(inbound) = &self.env.context.inbound {
                    inbound.take_requests().into_iter().for_each(|r| self.decoder.expect(r));
                }
                self.decoder.feed(data);
                while let Some(item) = self.decoder.next() {
                    emit_item(item, out);
                }
            }
            Event::StreamEnd(None) => {
                if let Some(item) = self.decoder.finish() {
                    emit_item(item, out);
                }
                self.decoder.reset();
                out.emit(Event::StreamEnd(None));
            }
            Event::StreamEnd(Some(error)) => {
                if self.decoder.is_idle() {
                    let code = match &error {
                        StreamError::Code(c) => Some(*c),
                        StreamError::Value(_) => None,
                    };
                    let head = http1::error_response(code);
                    out.emit(Event::MessageStart(Head::Response(Rc::new(head))));
                    if let StreamError::Value(v) = &error {
                        out.emit(Event::Data(Bytes::from(v.display().to_string())));
                    }
                    out.emit(Event::MessageEnd(Value::undefined()));
                }
                self.decoder.reset();
                out.emit(Event::StreamEnd(Some(error)));
            }
            Event::MessageStart(_) | Event::MessageEnd(_) => {}
        }
    }

    /// As decodeHTTPRequest: body bytes nobody after this filter reads go by
    /// unfed, and the decoder only counts them.
    fn pass(&self) -> Pass {
        super::decode_http_request::decoder_pass(self.decoder.skippable(), &self.env)
    }

    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        self.decoder.skip(n);
        while let Some(item) = self.decoder.next() {
            emit_item(item, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use boa_engine::JsString;

    use super::*;
    use crate::engine::{Context, Layout, Pipeline};

    fn run(input: Vec<Event>) -> Vec<String> {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = seen.clone();
        let layout = Layout { name: "test".into(), filters: vec![Box::new(Spec)], ..Default::default() };
        let p = Pipeline::new(Rc::new(layout), Context::root(), Rc::new(move |e: Event| sink.borrow_mut().push(e)));
        p.start(&[]);
        input.into_iter().for_each(|e| p.input(e));
        seen.borrow()
            .iter()
            .map(|e| match e {
                Event::MessageStart(Head::Response(h)) => {
                    format!("start {} {} {}", h.protocol, h.status, h.status_text)
                }
                Event::Data(b) => format!("data {}", String::from_utf8_lossy(b)),
                Event::MessageEnd(_) => "end".into(),
                Event::StreamEnd(e) => format!("stream end {:?}", e.as_ref().map(|e| e.name())),
                other => format!("unexpected {}", other.type_name()),
            })
            .collect()
    }

    fn data(s: &'static [u8]) -> Event {
        Event::Data(Bytes::from_static(s))
    }

    #[test]
    fn a_body_until_close_ends_with_the_stream() {
        let out = run(vec![
            data(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.0 200 OK\r\n\r\nsome"),
            data(b" more"),
            Event::end(),
        ]);
        assert_eq!(
            out,
            [
                "start HTTP/1.1 200 OK",
                "data ok",
                "end",
                "start HTTP/1.0 200 OK",
                "data some",
                "data  more",
                "end",
                "stream end None"
            ]
        );
    }

    #[test]
    fn an_error_before_the_head_makes_a_response() {
        for (code, line) in [
            ("ConnectionRefused", "start HTTP/1.1 502 Connection Refused"),
            ("ConnectionTimeout", "start HTTP/1.1 504 Gateway Timeout"),
            ("Unauthorized", "start HTTP/1.1 401 Unauthorized"),
            ("ConnectionReset", "start HTTP/1.1 502 Bad Gateway"),
        ] {
            let out = run(vec![Event::error(code)]);
            assert_eq!(out, [line.to_string(), "end".into(), format!("stream end Some({code:?})")]);
        }
        let oops = StreamError::Value(JsString::from("oops").into());
        let out = run(vec![data(b"HTTP/1.1 2"), Event::StreamEnd(Some(oops))]);
        assert_eq!(out[..2], ["start HTTP/1.1 502 Bad Gateway", "data \"oops\""]);
    }

    #[test]
    fn no_made_up_response_inside_a_body_or_after_junk() {
        let out = run(vec![data(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart"), Event::error("ReadError")]);
        assert_eq!(out, ["start HTTP/1.1 200 OK", "data part", r#"stream end Some("ReadError")"#]);
        let out = run(vec![data(b"SSH-2.0-x\r\n"), Event::error("ReadError")]);
        assert_eq!(out, [r#"stream end Some("ReadError")"#]);
    }
}
