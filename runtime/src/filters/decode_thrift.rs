//! `decodeThrift([{ bufferLimit }])`: Thrift bytes in (binary or compact protocol, told
//! apart per message), one message per Thrift message out: a `MessageStart` with no head and a
//! `MessageEnd` carrying the message object (see `codec::thrift` for its shape).
//!
//! Bytes that are not Thrift, or a message bigger than `bufferLimit`, end the stream with a
//! `ProtocolError` (or `BufferOverflow`) StreamEnd and a log line; so does a stream that ends
//! in the middle of a message.

use std::marker::PhantomData;

use boa_engine::JsResult;

use super::Made;
use super::decode_whole::{Broken, Spec, Whole};
use crate::args::Args;
use crate::codec::thrift::{DecodeError, Decoder};
use crate::codec::tree::Tree;
use crate::engine::{Event, Head, Output, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let limit = args.options(0).buffer_limit()?;
    Ok(Made::Filter(Box::new(Spec::<Decoder> { limit, codec: PhantomData })))
}

impl Whole for Decoder {
    type Item = Tree;
    const FILTER: &'static str = "decodeThrift";
    const ITEM: &'static str = "message";
    const MALFORMED: &'static str = "malformed message";

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
