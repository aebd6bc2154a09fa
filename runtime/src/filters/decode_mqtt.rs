//! `decodeMQTT([{ bufferLimit }])`: MQTT bytes in, one message per packet out: its head the
//! packet's fixed and variable header, its body the rest (a PUBLISH's application message),
//! and its `MessageEnd` payload the packet's payload object where it has one (see
//! `codec::mqtt`).
//!
//! Bytes that are not MQTT, or a packet bigger than `bufferLimit`, end the stream with a
//! `ProtocolError` (or `BufferOverflow`) StreamEnd and a log line; so does a stream that ends
//! in the middle of a packet.

use std::marker::PhantomData;

use boa_engine::JsResult;

use super::Made;
use super::decode_whole::{Broken, Spec, Whole};
use crate::args::Args;
use crate::codec::mqtt::{DecodeError, Decoder, Packet};
use crate::engine::{Event, Head, Output, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let limit = args.options(0).buffer_limit()?;
    Ok(Made::Filter(Box::new(Spec::<Decoder> { limit, codec: PhantomData })))
}

impl Whole for Decoder {
    type Item = Packet;
    const FILTER: &'static str = "decodeMQTT";
    const ITEM: &'static str = "packet";
    const MALFORMED: &'static str = "malformed packet";

    fn new(limit: usize) -> Decoder {
        Decoder::new(limit)
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Vec<Packet>) -> Result<(), Broken> {
        Decoder::feed(self, bytes, out).map_err(|e| match e {
            DecodeError::Malformed => Broken::Malformed,
            DecodeError::TooBig => Broken::TooBig,
        })
    }

    fn is_partial(&self) -> bool {
        Decoder::is_partial(self)
    }

    fn emit(p: Packet, out: &mut Output<'_>) -> Result<(), String> {
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
