//! `decodeNetlink()`: netlink messages in the input bytes become messages, each with a head
//! `{ type, flags, seq, pid }` and its payload as the body. Input may be split anywhere
//! (a datagram may hold many messages, as a dump's do); payload bytes are passed on as they
//! come, so nothing is buffered beyond one partial header.
//!
//! A message whose length is shorter than its header ends the stream with
//! `StreamEnd('ProtocolError')`, as in Pipy.

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::codec::netlink::{Decoder, Header, Piece};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, Value, host};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decodeNetlink"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecodeNetlink { decoder: Decoder::default(), failed: false })
    }
}

struct DecodeNetlink {
    decoder: Decoder,
    failed: bool,
}

fn head_value(h: &Header) -> Head {
    let fields = [
        ("type", Value::from(h.kind)),
        ("flags", Value::from(h.flags)),
        ("seq", Value::from(h.seq)),
        ("pid", Value::from(h.pid)),
    ];
    match host().object(&fields) {
        Ok(v) => Head::Js(v),
        Err(e) => {
            tracing::error!(target: "netlink", "decodeNetlink: {e}");
            Head::None
        }
    }
}

impl Filter for DecodeNetlink {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.failed {
            return;
        }
        match evt {
            Event::Data(b) => {
                let r = self.decoder.feed(b, &mut |p| match p {
                    Piece::Start(h) => out.emit(Event::MessageStart(head_value(&h))),
                    Piece::Body(b) => out.emit(Event::Data(b)),
                    Piece::End => out.emit(Event::MessageEnd(Value::undefined())),
                });
                if let Err(e) = r {
                    tracing::error!(target: "netlink", "decodeNetlink: {e}");
                    self.failed = true;
                    out.emit(Event::error("ProtocolError"));
                }
            }
            Event::StreamEnd(_) => {
                self.decoder = Decoder::default();
                out.emit(evt);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    fn message(kind: u16, body: &[u8]) -> Vec<u8> {
        Header { kind, ..Header::default() }.encode(body).unwrap().to_vec()
    }

    #[test]
    fn a_datagram_of_two_messages_split_in_a_header_gives_two_messages() {
        let stub = StubHost::install();
        let bytes = [message(16, b"abcd"), message(3, b"")].concat();
        let input = vec![
            Event::Data(Bytes::copy_from_slice(&bytes[..25])),
            Event::Data(Bytes::copy_from_slice(&bytes[25..])),
            Event::end(),
        ];
        let out = stub::run(vec![Box::new(Spec)], input);
        assert_eq!(
            out,
            ["MessageStart", "Data abcd", "MessageEnd", "MessageStart", "MessageEnd", "StreamEnd"].map(String::from)
        );
        assert_eq!(stub.log.borrow().iter().filter(|l| *l == "object type,flags,seq,pid").count(), 2);
    }

    #[test]
    fn a_length_shorter_than_the_header_ends_the_stream() {
        StubHost::install();
        let mut bytes = message(16, b"");
        bytes[..4].copy_from_slice(&8u32.to_ne_bytes());
        bytes.extend_from_slice(&message(16, b"late"));
        let out = stub::run(vec![Box::new(Spec)], vec![Event::Data(Bytes::from(bytes)), Event::end()]);
        assert_eq!(out, ["StreamEnd error"]);
    }
}
