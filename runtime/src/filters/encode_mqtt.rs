//! `encodeMQTT()`: each message written as one MQTT packet between its `MessageStart` and
//! `MessageEnd`: the head says the packet (what `decodeMQTT` puts there), the `MessageEnd`
//! payload gives CONNECT's, SUBSCRIBE's, UNSUBSCRIBE's and the acks' payloads, and a PUBLISH's
//! body is its application message. Other messages' `Data` is dropped, as in Pipy.
//!
//! A head without its own `protocolLevel` is written at the level of the last CONNECT or
//! CONNACK this filter wrote on the stream (5.0 before one).

use boa_engine::JsResult;
use bytes::{Bytes, BytesMut};

use super::Made;
use crate::args::Args;
use crate::codec::mqtt::{CONNACK, CONNECT, DEFAULT_LEVEL, PUBLISH};
use crate::codec::mqtt_encode::{encode, kind, level};
use crate::codec::tree::Tree;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, host};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "encodeMQTT"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(EncodeMqtt { head: None, body: BytesMut::new(), level: DEFAULT_LEVEL })
    }
}

struct EncodeMqtt {
    /// The head of the message begun, as a tree.
    head: Option<Tree>,
    /// A PUBLISH's application message so far.
    body: BytesMut,
    level: u8,
}

impl EncodeMqtt {
    fn packet(&mut self, head: &Tree, payload: &Tree) -> Option<Bytes> {
        let mut bytes = Vec::new();
        if let Err(e) = encode(head, payload, &self.body, self.level, &mut bytes) {
            tracing::error!(target: "codec", "encodeMQTT: {e}");
            return None;
        }
        if matches!(kind(head), Some(CONNECT | CONNACK)) {
            self.level = level(head, self.level);
        }
        Some(Bytes::from(bytes))
    }
}

impl Filter for EncodeMqtt {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(ref head) if self.head.is_none() => {
                let tree = match head {
                    Head::Js(v) => host().value_tree(v),
                    _ => Tree::Undefined,
                };
                self.body.clear();
                self.head = Some(tree);
                out.emit(evt);
            }
            Event::Data(b) if self.head.as_ref().is_some_and(|h| kind(h) == Some(PUBLISH)) => {
                self.body.extend_from_slice(&b);
            }
            Event::MessageEnd(payload) => {
                let Some(head) = self.head.take() else { return };
                if let Some(bytes) = self.packet(&head, &host().value_tree(&payload)) {
                    out.emit(Event::Data(bytes));
                }
                self.body = BytesMut::new();
                out.emit(Event::MessageEnd(payload));
            }
            Event::StreamEnd(_) => {
                self.head = None;
                self.body = BytesMut::new();
                out.emit(evt);
            }
            _ => {}
        }
    }
}
