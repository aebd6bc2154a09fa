//! `decodeWebSocket()`: WebSocket frames in, one message per WebSocket message out, as Pipy:
//! `MessageStart` with the head `{ opcode, masked }` (the first frame's opcode: 1 text,
//! 2 binary, 8 close, 9 ping, 10 pong), the payload unmasked as `Data` as it arrives (the
//! frames of a fragmented message make one message), then `MessageEnd`.
//!
//! Where Pipy would fold a control frame that comes between the fragments of a message into
//! that message, it comes out as a message of its own right after it. Frames that break
//! RFC 6455's rules (see `codec::websocket::Malformed`) end the stream with a `ProtocolError`
//! StreamEnd and a log line; so does a stream that ends inside a frame or a fragmented
//! message. Only frame headers are held, never payload.

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::codec::websocket::{Decoder, Piece};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, Value, host};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decodeWebSocket"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecodeWebSocket { decoder: Decoder::default(), failed: false })
    }
}

struct DecodeWebSocket {
    decoder: Decoder,
    /// The stream already ended with an error: the rest of its input is dropped.
    failed: bool,
}

impl DecodeWebSocket {
    fn fail(&mut self, why: &str, out: &mut Output<'_>) {
        tracing::error!(target: "codec", "decodeWebSocket: {why}");
        self.failed = true;
        self.decoder = Decoder::default();
        out.emit(Event::error("ProtocolError"));
    }

    fn emit(&mut self, piece: Piece, out: &mut Output<'_>) -> Result<(), String> {
        out.emit(match piece {
            Piece::Start { opcode, masked } => {
                let head = host().object(&[("opcode", f64::from(opcode).into()), ("masked", masked.into())])?;
                Event::MessageStart(Head::Js(head))
            }
            Piece::Data(d) => Event::Data(d),
            Piece::End => Event::MessageEnd(Value::undefined()),
        });
        Ok(())
    }
}

impl Filter for DecodeWebSocket {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(b) if !self.failed => {
                let mut pieces = Vec::new();
                let result = self.decoder.feed(b, &mut pieces);
                for p in pieces {
                    if let Err(e) = self.emit(p, out) {
                        return self.fail(&e, out);
                    }
                }
                if let Err(e) = result {
                    self.fail(&format!("{e:?}"), out);
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
