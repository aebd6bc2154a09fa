//! `encodeRESP()`: each message's `MessageEnd` value (what `decodeRESP` puts there) written as
//! RESP between its `MessageStart` and `MessageEnd`; the messages' `Data` is dropped, as in
//! Pipy.

use boa_engine::JsResult;
use bytes::Bytes;

use super::Made;
use crate::args::Args;
use crate::codec::resp;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output, host};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "encodeRESP"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(EncodeResp { started: false })
    }
}

struct EncodeResp {
    started: bool,
}

impl Filter for EncodeResp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(_) if !self.started => {
                self.started = true;
                out.emit(evt);
            }
            Event::MessageEnd(value) if self.started => {
                self.started = false;
                let mut bytes = Vec::new();
                resp::encode(&host().value_tree(&value), &mut bytes);
                out.emit(Event::Data(Bytes::from(bytes)));
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
