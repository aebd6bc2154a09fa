//! `encodeThrift()`: each message's `MessageEnd` payload (a Thrift message object, or an array
//! of them, as `decodeThrift` puts there) written between its `MessageStart` and `MessageEnd`;
//! the messages' `Data` is dropped, as in Pipy.

use boa_engine::JsResult;
use bytes::Bytes;

use super::Made;
use crate::args::Args;
use crate::codec::thrift_encode;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output, host};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "encodeThrift"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(EncodeThrift { started: false })
    }
}

struct EncodeThrift {
    started: bool,
}

impl Filter for EncodeThrift {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(_) if !self.started => {
                self.started = true;
                out.emit(evt);
            }
            Event::MessageEnd(value) if self.started => {
                self.started = false;
                let mut bytes = Vec::new();
                thrift_encode::encode(&host().value_tree(&value), &mut bytes);
                if !bytes.is_empty() {
                    out.emit(Event::Data(Bytes::from(bytes)));
                }
                out.emit(Event::MessageEnd(value));
            }
            Event::StreamEnd(_) => {
                self.started = false;
                out.emit(evt);
            }
            _ => {}
        }
    }
}
