//! `decodeThrift([{ bufferLimit }])`: Thrift bytes in (binary or compact protocol, told
//! apart per message), one message per Thrift message out: a `MessageStart` with no head and a
//! `MessageEnd` carrying the message object (see `codec::thrift` for its shape).
//!
//! Bytes that are not Thrift, or a message bigger than `bufferLimit`, end the stream with a
//! `ProtocolError` (or `BufferOverflow`) StreamEnd and a log line; so does a stream that ends
//! in the middle of a message.

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::codec::thrift::{DecodeError, Decoder};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let limit = args.options(0).buffer_limit()?;
    Ok(Made::Filter(Box::new(Spec { limit })))
}

struct Spec {
    limit: usize,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decodeThrift"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecodeThrift { limit: self.limit, decoder: Decoder::new(self.limit), failed: false })
    }
}

struct DecodeThrift {
    limit: usize,
    decoder: Decoder,
    /// The stream already ended with an error: the rest of its input is dropped.
    failed: bool,
}

impl DecodeThrift {
    fn fail(&mut self, code: &'static str, why: &str, out: &mut Output<'_>) {
        tracing::error!(target: "codec", "decodeThrift: {why}");
        self.failed = true;
        out.emit(Event::error(code));
    }
}

impl Filter for DecodeThrift {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(b) if !self.failed => {
                let mut messages = Vec::new();
                let result = self.decoder.feed(&b, &mut messages);
                for v in messages {
                    match host().tree_value(&v) {
                        Ok(value) => {
                            out.emit(Event::MessageStart(Head::None));
                            out.emit(Event::MessageEnd(value));
                        }
                        Err(e) => return self.fail("RuntimeError", &e, out),
                    }
                }
                match result {
                    Ok(()) => {}
                    Err(DecodeError::Malformed) => self.fail("ProtocolError", "malformed message", out),
                    Err(DecodeError::TooBig) => self.fail("BufferOverflow", "a message over bufferLimit", out),
                }
            }
            Event::StreamEnd(e) => {
                let partial = self.decoder.is_partial();
                let failed = std::mem::replace(&mut self.failed, false);
                self.decoder = Decoder::new(self.limit);
                if failed {
                    return;
                }
                if partial && e.is_none() {
                    return self.fail("ProtocolError", "the stream ended inside a message", out);
                }
                out.emit(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}
