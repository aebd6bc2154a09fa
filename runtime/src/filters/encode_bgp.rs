//! `encodeBGP([{ enableAS4 }])`: each message's `MessageEnd` value (`{ type, body }`, what
//! `decodeBGP` puts there) written as a BGP message between its `MessageStart` and
//! `MessageEnd`; the messages' `Data` is dropped, as in Pipy.

use boa_engine::JsResult;
use bytes::Bytes;

use super::Made;
use super::decode_bgp::{as4_now, as4_option};
use crate::args::Args;
use crate::codec::bgp_encode::encode;
use crate::codec::tree::Tree;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Output, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let as4 = as4_option(args)?;
    Ok(Made::Filter(Box::new(Spec { as4 })))
}

struct Spec {
    as4: Given<bool>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "encodeBGP"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(EncodeBgp { as4: self.as4.clone(), env, started: false })
    }
}

struct EncodeBgp {
    as4: Given<bool>,
    env: FilterEnv,
    started: bool,
}

impl Filter for EncodeBgp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(_) if !self.started => {
                self.started = true;
                out.emit(evt);
            }
            Event::MessageEnd(value) if self.started => {
                self.started = false;
                // Pipy writes nothing for a payload that is not an object.
                let tree = host().value_tree(&value);
                if matches!(tree, Tree::Object(_)) {
                    let mut bytes = Vec::new();
                    encode(&tree, as4_now(&self.as4, &self.env.context), &mut bytes);
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
