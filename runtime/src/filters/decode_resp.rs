//! `decodeRESP([{ bufferLimit }])`: Redis protocol bytes in, one message per top-level value
//! out: a `MessageStart` with no head and a `MessageEnd` carrying the value (see
//! `codec::resp` for how values look to scripts).
//!
//! A value that is not RESP, or bigger than `bufferLimit`, ends the stream with a
//! `ProtocolError` (or `BufferOverflow`) StreamEnd and a log line; so does a stream that ends
//! in the middle of a value.

use std::marker::PhantomData;

use boa_engine::JsResult;

use super::Made;
use super::decode_whole::{Broken, Spec, Whole};
use crate::args::Args;
use crate::codec::resp::{DecodeError, Decoder};
use crate::codec::tree::Tree;
use crate::engine::{Event, Head, Output, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let limit = args.options(0).buffer_limit()?;
    Ok(Made::Filter(Box::new(Spec::<Decoder> { limit, codec: PhantomData })))
}

impl Whole for Decoder {
    type Item = Tree;
    const FILTER: &'static str = "decodeRESP";
    const ITEM: &'static str = "value";
    const MALFORMED: &'static str = "malformed input";

    fn new(limit: usize) -> Decoder {
        Decoder::new(limit)
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Vec<Tree>) -> Result<(), Broken> {
        Decoder::feed(self, bytes, out).map_err(|e| match e {
            DecodeError::Malformed => Broken::Malformed,
            DecodeError::TooBig => Broken::TooBig,
        })
    }

    fn is_partial(&self) -> bool {
        Decoder::is_partial(self)
    }

    fn emit(item: Tree, out: &mut Output<'_>) -> Result<(), String> {
        let value = host().tree_value(&item)?;
        out.emit(Event::MessageStart(Head::None));
        out.emit(Event::MessageEnd(value));
        Ok(())
    }
}
