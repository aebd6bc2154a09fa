//! `encodeHTTPRequest(options?)`: request messages in, HTTP/1 bytes out.
//!
//! In: `MessageStart`, body `Data`, `MessageEnd`; `StreamEnd` passes (and drops a message
//! in progress). Out, per message: `MessageStart`, the head (and a small body) as `Data`,
//! the rest of the body as `Data`, `MessageEnd` — by the codec's rules: the body is
//! buffered for a `content-length` unless it outgrows `options.bufferSize`, then chunked.
//! The `headers` of a `MessageEnd`'s tail are written as the trailer section of a chunked body.
//! Data outside a message is dropped, as in Pipy.

use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::codec::http1::{Encoder, Ending, Out, RequestInfo, is_interim};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Inbound, Output, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let buffer_size = args.options(0).buffer_size()?;
    Ok(Made::Filter(Box::new(Spec { buffer_size, response: false })))
}

/// The spec of both encoders; `response` picks the kind of head.
pub(super) struct Spec {
    pub buffer_size: usize,
    pub response: bool,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        if self.response { "encodeHTTPResponse" } else { "encodeHTTPRequest" }
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let inbound = env.context.inbound.clone().filter(|_| self.response);
        Box::new(Encode { encoder: Encoder::new(self.buffer_size), response: self.response, head: None, inbound })
    }
}

struct Encode {
    encoder: Encoder,
    response: bool,
    /// The head of the message in progress, until its bytes go out.
    head: Option<Head>,
    /// The connection whose decoded requests the responses answer (response encoder only).
    inbound: Option<Rc<Inbound>>,
}

impl Encode {
    /// What the encoder is told of the request a response answers: only whether it was a
    /// HEAD, from a `decodeHTTPRequest` on the same connection. The rest (`connection:
    /// close`, tunnels) stays the script's business, as in Pipy.
    fn answered(&self, status: u16) -> RequestInfo {
        let Some(inbound) = &self.inbound else { return RequestInfo::default() };
        let request = inbound.request_answered(!is_interim(status)).unwrap_or_default();
        RequestInfo { is_head: request.is_head, ..RequestInfo::default() }
    }

    fn start(&mut self, head: &Head) {
        // A decoded head that said `connection: close` keeps saying it: the connection it
        // came from is about to end, and the peer should expect that rather than see it
        // as an error (Pipy drops the header here).
        match head {
            Head::Request(r) if !self.response && !says_close(&r.headers) => self.encoder.start_request_head(r),
            Head::Response(r) if self.response && !says_close(&r.headers) => {
                self.encoder.start_response_head(r, self.answered(r.status))
            }
            other if self.response => {
                // Converted once: a script's head is read for its status and written.
                let r = host().response_head(other);
                self.encoder.start_script_response(&r, self.answered(r.status))
            }
            other => self.encoder.start_script_request(&host().request_head(other)),
        }
    }
}

fn says_close(headers: &[crate::codec::http1::Header]) -> bool {
    headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("connection") && h.value.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))
    })
}

/// Puts encoded output out; Pipy sends the `MessageStart` along right before the head bytes.
fn emit(o: Out, head: &mut Option<Head>, out: &mut Output<'_>) {
    match o {
        Out::Start(b) => {
            out.emit(Event::MessageStart(head.take().unwrap_or(Head::None)));
            out.emit(Event::Data(b));
        }
        Out::Body(b) => out.emit(Event::Data(b)),
    }
}

impl Filter for Encode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let Encode { encoder, head, .. } = self;
        match evt {
            Event::MessageStart(h) => {
                if !encoder.in_message() {
                    self.start(&h);
                    self.head = Some(h);
                }
            }
            Event::Data(b) => encoder.data(b, &mut |o| emit(o, head, out)),
            Event::MessageEnd(tail) => {
                // Without the request, no exchange is final and none turns into a tunnel here,
                // so every message ends with a `MessageEnd`.
                let trailers = host().trailers_of(&tail);
                match encoder.end_with_trailers(&trailers, &mut |o| emit(o, head, out)) {
                    // The bytes out no longer frame a message: whoever reads them must stop.
                    Some(Ending::Broken) => out.emit(Event::error("ProtocolError")),
                    Some(_) => out.emit(Event::MessageEnd(tail)),
                    None => {}
                }
            }
            Event::StreamEnd(_) => {
                encoder.abort();
                *head = None;
                out.emit(evt);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use bytes::Bytes;

    use super::*;
    use crate::codec::http1::{Header, RequestHead};
    use crate::engine::{Context as PipelineContext, Layout, Pipeline};

    fn run(spec: Spec, input: Vec<Event>) -> Vec<String> {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = seen.clone();
        let layout = Layout { name: "test".into(), filters: vec![Box::new(spec)], ..Default::default() };
        let p =
            Pipeline::new(Rc::new(layout), PipelineContext::root(), Rc::new(move |e: Event| sink.borrow_mut().push(e)));
        p.start(&[]);
        input.into_iter().for_each(|e| p.input(e));
        seen.borrow()
            .iter()
            .map(|e| match e {
                Event::Data(b) => format!("data {}", String::from_utf8_lossy(b)),
                other => other.type_name().to_string(),
            })
            .collect()
    }

    fn data(s: &'static str) -> Event {
        Event::Data(Bytes::from_static(s.as_bytes()))
    }

    fn message_end() -> Event {
        Event::MessageEnd(crate::engine::Value::undefined())
    }

    #[test]
    fn encodes_decoded_requests_one_after_another() {
        let head = Rc::new(RequestHead {
            method: "POST".into(),
            path: "/p".into(),
            protocol: "HTTP/1.1".into(),
            headers: vec![Header::new("Host", "h"), Header::new("Connection", "close")],
        });
        let start = || Event::MessageStart(Head::Request(head.clone()));
        let out = run(
            Spec { buffer_size: 0, response: false },
            vec![data("dropped"), start(), data("ab"), data("c"), message_end(), start(), message_end(), Event::end()],
        );
        let head_bytes = "POST /p HTTP/1.1\r\nHost: h\r\ncontent-length: ";
        // The decoded `Connection: close` is kept (Pipy would say keep-alive here).
        assert_eq!(
            out,
            [
                "MessageStart".to_string(),
                format!("data {head_bytes}3\r\nconnection: close\r\n\r\nabc"),
                "MessageEnd".into(),
                "MessageStart".into(),
                format!("data {head_bytes}0\r\nconnection: close\r\n\r\n"),
                "MessageEnd".into(),
                "StreamEnd".into(),
            ]
        );
    }

    #[test]
    fn responses_without_a_head_get_the_defaults() {
        let out = run(
            Spec { buffer_size: 0, response: true },
            vec![Event::MessageStart(Head::None), data("Hello!\n"), message_end()],
        );
        assert_eq!(
            out,
            [
                "MessageStart",
                "data HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: keep-alive\r\n\r\nHello!\n",
                "MessageEnd",
            ]
        );
    }

    #[test]
    fn a_stream_end_drops_the_message_in_progress() {
        let out = run(
            Spec { buffer_size: 0, response: true },
            vec![Event::MessageStart(Head::None), data("partial"), Event::error("ReadError"), message_end()],
        );
        assert_eq!(out, ["StreamEnd"]);
    }
}
