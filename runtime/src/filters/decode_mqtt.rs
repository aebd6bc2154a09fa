//! `decodeMQTT([{ bufferLimit }])`: MQTT bytes in, one message per packet out: its head the
//! packet's fixed and variable header, its body the rest (a PUBLISH's application message),
//! and its `MessageEnd` payload the packet's payload object where it has one (see
//! `codec::mqtt`).
//!
//! Bytes that are not MQTT, or a packet bigger than `bufferLimit`, end the stream with a
//! `ProtocolError` (or `BufferOverflow`) StreamEnd and a log line; so does a stream that ends
//! in the middle of a packet.

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::codec::mqtt::{DecodeError, Decoder, Packet};
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
        "decodeMQTT"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecodeMqtt { limit: self.limit, decoder: Decoder::new(self.limit), failed: false })
    }
}

struct DecodeMqtt {
    limit: usize,
    decoder: Decoder,
    /// The stream already ended with an error: the rest of its input is dropped.
    failed: bool,
}

impl DecodeMqtt {
    fn fail(&mut self, code: &'static str, why: &str, out: &mut Output<'_>) {
        tracing::error!(target: "codec", "decodeMQTT: {why}");
        self.failed = true;
        out.emit(Event::error(code));
    }

    fn emit(&mut self, p: Packet, out: &mut Output<'_>) -> Result<(), String> {
        let head = host().tree_value(&p.head)?;
        let payload = host().tree_value(&p.payload)?;
        out.emit(Event::MessageStart(Head::Js(head)));
        if !p.body.is_empty() {
            out.emit(Event::Data(p.body));
        }
        out.emit(Event::MessageEnd(payload));
        Ok(())
    }
}

impl Filter for DecodeMqtt {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(b) if !self.failed => {
                let mut packets = Vec::new();
                let result = self.decoder.feed(&b, &mut packets);
                for p in packets {
                    if let Err(e) = self.emit(p, out) {
                        return self.fail("RuntimeError", &e, out);
                    }
                }
                match result {
                    Ok(()) => {}
                    Err(DecodeError::Malformed) => self.fail("ProtocolError", "malformed packet", out),
                    Err(DecodeError::TooBig) => self.fail("BufferOverflow", "a packet over bufferLimit", out),
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
                    return self.fail("ProtocolError", "the stream ended inside a packet", out);
                }
                out.emit(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}
