//! `decodeDubbo()`: Dubbo frames in the input bytes become messages, each with a head
//! `{ requestID, isRequest, isTwoWay, isEvent, serializationType, status }` and the frame's
//! body (its Hessian bytes, undecoded) as the message body. Input may be split anywhere; body
//! bytes are passed on as they come, so nothing is buffered beyond one partial header.
//!
//! A frame without Dubbo's magic number ends the stream with `StreamEnd('ProtocolError')`,
//! as in Pipy; so does a stream that ends inside a frame.

use boa_engine::{JsBigInt, JsResult};

use super::Made;
use crate::args::Args;
use crate::codec::dubbo::{Decoder, Header, Piece};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, Value, host};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decodeDubbo"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecodeDubbo { decoder: Decoder::default(), failed: false })
    }
}

struct DecodeDubbo {
    decoder: Decoder,
    /// The stream already ended with an error: the rest of its input is dropped.
    failed: bool,
}

/// A number, as in Pipy, while a double holds it exactly; a BigInt past 2^53, so that the id
/// goes back unchanged (Pipy keeps the head's own 64 bits while a script does not touch it).
fn request_id(id: u64) -> Value {
    if id <= 1 << 53 { Value::from(id as f64) } else { Value::from(JsBigInt::from(id)) }
}

fn head_value(h: &Header) -> Head {
    let fields = [
        ("requestID", request_id(h.request_id)),
        ("isRequest", Value::from(h.is_request)),
        ("isTwoWay", Value::from(h.is_two_way)),
        ("isEvent", Value::from(h.is_event)),
        ("serializationType", Value::from(h.serialization_type)),
        ("status", Value::from(h.status)),
    ];
    match host().object(&fields) {
        Ok(v) => Head::Js(v),
        Err(e) => {
            tracing::error!(target: "codec", "decodeDubbo: {e}");
            Head::None
        }
    }
}

impl DecodeDubbo {
    fn fail(&mut self, why: &str, out: &mut Output<'_>) {
        tracing::error!(target: "codec", "decodeDubbo: {why}");
        self.failed = true;
        out.emit(Event::error("ProtocolError"));
    }
}

impl Filter for DecodeDubbo {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(b) if !self.failed => {
                let r = self.decoder.feed(b, &mut |p| match p {
                    Piece::Start(h) => out.emit(Event::MessageStart(head_value(&h))),
                    Piece::Body(b) => out.emit(Event::Data(b)),
                    Piece::End => out.emit(Event::MessageEnd(Value::undefined())),
                });
                if let Err(e) = r {
                    self.fail(&e.to_string(), out);
                }
            }
            Event::StreamEnd(e) => {
                let partial = self.decoder.is_partial();
                self.decoder = Decoder::default();
                if std::mem::replace(&mut self.failed, false) {
                    return;
                }
                if partial && e.is_none() {
                    return self.fail("the stream ended inside a frame", out);
                }
                out.emit(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    fn frame(id: u64, body: &[u8]) -> Vec<u8> {
        let h = Header { request_id: id, is_request: true, serialization_type: 2, ..Header::default() };
        [h.encode(body.len()).unwrap().to_vec(), body.to_vec()].concat()
    }

    #[test]
    fn two_frames_split_in_a_header_give_two_messages() {
        let stub = StubHost::install();
        let bytes = [frame(1, b"abcd"), frame(2, b"")].concat();
        let input = vec![
            Event::Data(Bytes::copy_from_slice(&bytes[..23])),
            Event::Data(Bytes::copy_from_slice(&bytes[23..])),
            Event::end(),
        ];
        let out = stub::run(vec![Box::new(Spec)], input);
        assert_eq!(
            out,
            ["MessageStart", "Data abcd", "MessageEnd", "MessageStart", "MessageEnd", "StreamEnd"].map(String::from)
        );
        let heads = stub.log.borrow().iter().filter(|l| l.starts_with("object requestID,isRequest")).count();
        assert_eq!(heads, 2);
    }

    #[test]
    fn a_wrong_magic_or_a_cut_frame_ends_the_stream_with_an_error() {
        StubHost::install();
        let out = stub::run(vec![Box::new(Spec)], vec![Event::Data(Bytes::from_static(b"HTTP/1.1")), Event::end()]);
        assert_eq!(out, ["StreamEnd error"]);
        let cut = frame(1, b"abcd")[..18].to_vec();
        let out = stub::run(vec![Box::new(Spec)], vec![Event::Data(Bytes::from(cut)), Event::end()]);
        assert_eq!(out, ["MessageStart", "Data ab", "StreamEnd error"]);
    }
}
