//! `encodeDubbo()`: each message (a head as `decodeDubbo` makes it, and a body) becomes one
//! Dubbo frame — the 16-byte header and the body — between the message's own start and end.
//! Missing head fields are 0 or false, as in Pipy.
//!
//! The body is held until its message ends (the header carries its length). A body over
//! [`BODY_LIMIT`] ends the stream with `StreamEnd('BufferOverflow')`, where Pipy holds any
//! size.

use boa_engine::JsResult;
use bytes::BytesMut;

use super::Made;
use crate::args::Args;
use crate::codec::dubbo::Header;
use crate::codec::tree::Tree;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, host};

/// The largest body held while its message is encoded: Dubbo's own default payload limit
/// (`dubbo.protocol.payload`) is 8 MiB.
const BODY_LIMIT: usize = 8 << 20;

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "encodeDubbo"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(EncodeDubbo { start: None, body: BytesMut::new(), ended: false })
    }
}

struct EncodeDubbo {
    /// The head of the message being encoded.
    start: Option<Head>,
    body: BytesMut,
    ended: bool,
}

/// The Dubbo header a script's head asks for.
fn header_of(head: &Head) -> Header {
    let field = |name: &str| match head {
        Head::Js(v) => host().head_number(v, name).unwrap_or(0.0),
        _ => 0.0,
    };
    let request_id = match head {
        // A BigInt id keeps all 64 bits; a number is read as Pipy reads it.
        Head::Js(v) => match host().value_tree(&host().field(v, "requestID")) {
            Tree::Int(i) => i as u64,
            _ => field("requestID") as u64,
        },
        _ => 0,
    };
    Header {
        request_id,
        is_request: field("isRequest") != 0.0,
        is_two_way: field("isTwoWay") != 0.0,
        is_event: field("isEvent") != 0.0,
        serialization_type: field("serializationType") as u8,
        status: field("status") as u8,
    }
}

impl EncodeDubbo {
    /// Writes the message held so far, as Pipy does at its end or at the stream's.
    fn flush(&mut self, end: Event, out: &mut Output<'_>) {
        let Some(head) = self.start.take() else { return out.emit(end) };
        // The body is bounded far below u32::MAX, so the length always fits.
        let header = header_of(&head).encode(self.body.len()).unwrap_or_default();
        let mut frame = BytesMut::with_capacity(header.len() + self.body.len());
        frame.extend_from_slice(&header);
        frame.extend_from_slice(&self.body);
        self.body.clear();
        out.emit(Event::MessageStart(head));
        out.emit(Event::Data(frame.freeze()));
        out.emit(end);
    }
}

impl Filter for EncodeDubbo {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        match evt {
            Event::MessageStart(head) if self.start.is_none() => {
                self.start = Some(head);
                self.body.clear();
            }
            Event::Data(b) if self.start.is_some() => {
                if self.body.len() + b.len() > BODY_LIMIT {
                    tracing::error!(target: "codec", "encodeDubbo: message body over {BODY_LIMIT} bytes");
                    self.ended = true;
                    return out.emit(Event::error("BufferOverflow"));
                }
                self.body.extend_from_slice(&b);
            }
            Event::MessageEnd(_) if self.start.is_some() => self.flush(evt, out),
            Event::StreamEnd(_) => {
                self.ended = true;
                self.flush(evt, out);
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

    #[test]
    fn each_message_is_one_frame_with_its_body_length() {
        StubHost::install();
        let input = vec![
            Event::MessageStart(Head::None),
            Event::Data(Bytes::from_static(b"ab")),
            Event::Data(Bytes::from_static(b"c")),
            Event::MessageEnd(Default::default()),
            Event::MessageStart(Head::None),
            Event::end(),
        ];
        let out = stub::run(vec![Box::new(Spec)], input);
        let header = |n: u8| [&[0xda, 0xbb, 0, 0][..], &[0; 8], &[0, 0, 0, n]].concat();
        let first = format!("Data {}abc", String::from_utf8_lossy(&header(3)));
        let second = format!("Data {}", String::from_utf8_lossy(&header(0)));
        assert_eq!(out, ["MessageStart", &first, "MessageEnd", "MessageStart", &second, "StreamEnd"].map(String::from));
    }

    #[test]
    fn a_body_over_the_limit_ends_the_stream() {
        StubHost::install();
        let big = Event::Data(Bytes::from(vec![0; BODY_LIMIT]));
        let input = vec![Event::MessageStart(Head::None), big, Event::Data(Bytes::from_static(b"x"))];
        let out = stub::run(vec![Box::new(Spec)], input);
        assert_eq!(out, ["StreamEnd error"]);
    }
}
