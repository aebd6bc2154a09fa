//! `encodeWebSocket()`: each message written as WebSocket frames, as Pipy: the head's `opcode`
//! (default 1, text) and `masked` (default false; a masked frame gets a fresh random key),
//! the body cut into frames of 16 KiB as it comes (the first with the opcode, the rest
//! continuations, the last with FIN), so no more than 16 KiB of a message is ever held.

use boa_engine::JsResult;
use bytes::{Bytes, BytesMut};
use ring::rand::{SecureRandom, SystemRandom};

use super::Made;
use crate::args::Args;
use crate::codec::websocket::write_frame;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, host};

/// Pipy's frame size for a message's body.
const FRAME: usize = 16 * 1024;

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "encodeWebSocket"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(EncodeWebSocket { message: None, buf: BytesMut::new(), random: SystemRandom::new() })
    }
}

/// The message being written: its opcode, whether to mask, whether a frame of it went out.
struct Message {
    opcode: u8,
    masked: bool,
    continued: bool,
}

struct EncodeWebSocket {
    message: Option<Message>,
    buf: BytesMut,
    random: SystemRandom,
}

impl EncodeWebSocket {
    fn frame(&mut self, fin: bool, out: &mut Output<'_>) {
        let Some(m) = &mut self.message else { return };
        let n = if fin { self.buf.len() } else { FRAME };
        let payload = self.buf.split_to(n);
        let mask = m.masked.then(|| {
            let mut key = [0u8; 4];
            // The key only keeps caches in the path from reading the payload (RFC 6455 10.3);
            // should the system's generator fail, a fixed one still frames correctly.
            let _ = self.random.fill(&mut key);
            key
        });
        let mut bytes = Vec::with_capacity(payload.len() + 14);
        write_frame(!m.continued, m.opcode, fin, mask, &payload, &mut bytes);
        m.continued = true;
        out.emit(Event::Data(Bytes::from(bytes)));
    }
}

fn head_of(head: &Head) -> Message {
    let Head::Js(v) = head else { return Message { opcode: 1, masked: false, continued: false } };
    let h = host();
    let opcode = h.field(v, "opcode").as_number().filter(|n| n.is_finite()).map_or(1, |n| n as i64 as u8);
    Message { opcode, masked: h.field(v, "masked").to_boolean(), continued: false }
}

impl Filter for EncodeWebSocket {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(ref head) if self.message.is_none() => {
                self.message = Some(head_of(head));
                self.buf.clear();
                out.emit(evt);
            }
            Event::Data(d) if self.message.is_some() => {
                self.buf.extend_from_slice(&d);
                while self.buf.len() >= FRAME {
                    self.frame(false, out);
                }
            }
            Event::MessageEnd(_) if self.message.is_some() => {
                self.frame(true, out);
                self.message = None;
                out.emit(evt);
            }
            Event::StreamEnd(_) => {
                self.message = None;
                self.buf.clear();
                out.emit(evt);
            }
            _ => {}
        }
    }
}
