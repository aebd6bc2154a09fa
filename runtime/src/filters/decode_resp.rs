//! `decodeRESP([{ bufferLimit }])`: Redis protocol bytes in, one message per top-level value
//! out: a `MessageStart` with no head and a `MessageEnd` carrying the value (see
//! `codec::resp` for how values look to scripts).
//!
//! A value that is not RESP, or bigger than `bufferLimit`, ends the stream with a
//! `ProtocolError` (or `BufferOverflow`) StreamEnd and a log line; so does a stream that ends
//! in the middle of a value.

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::codec::resp::{DecodeError, Decoder};
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
        "decodeRESP"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecodeResp { limit: self.limit, decoder: Decoder::new(self.limit), failed: false })
    }
}

struct DecodeResp {
    limit: usize,
    decoder: Decoder,
    /// The stream already ended with an error: the rest of its input is dropped.
    failed: bool,
}

impl DecodeResp {
    fn fail(&mut self, code: &'static str, why: &str, out: &mut Output<'_>) {
        tracing::error!(target: "codec", "decodeRESP: {why}");
        self.failed = true;
        out.emit(Event::error(code));
    }
}

impl Filter for DecodeResp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(b) if !self.failed => {
                let mut values = Vec::new();
                let result = self.decoder.feed(&b, &mut values);
                for v in values {
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
                    Err(DecodeError::Malformed) => self.fail("ProtocolError", "malformed input", out),
                    Err(DecodeError::TooBig) => self.fail("BufferOverflow", "a value over bufferLimit", out),
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
                    return self.fail("ProtocolError", "the stream ended inside a value", out);
                }
                out.emit(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}
