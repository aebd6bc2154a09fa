//! `encodeNetlink()`: each message (a head `{ type, flags, seq, pid }` and a body) becomes
//! one `Data` holding the netlink header and the body, between the message's own start and
//! end, so a netlink `connect` sends it as one datagram.
//!
//! Unlike Pipy, which keeps the head of the first message for every later one, each message
//! is encoded with its own head. A body over [`BODY_LIMIT`] ends the stream with
//! `StreamEnd('BufferOverflow')`: the kernel would not take it in one datagram anyway.

use boa_engine::JsResult;
use bytes::BytesMut;

use super::Made;
use crate::args::Args;
use crate::codec::netlink::Header;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, host};

/// The largest body kept while its message is encoded (a kernel socket's default send
/// buffer is about 200 KiB).
const BODY_LIMIT: usize = 1 << 20;

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "encodeNetlink"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(EncodeNetlink { start: None, body: BytesMut::new(), ended: false })
    }
}

struct EncodeNetlink {
    /// The head of the message being encoded.
    start: Option<Head>,
    body: BytesMut,
    ended: bool,
}

/// The netlink header a script's head asks for; missing fields are 0, as in Pipy.
fn header_of(head: &Head) -> Header {
    let field = |name: &str| match head {
        Head::Js(v) => host().head_number(v, name).map_or(0, |n| n as i64),
        _ => 0,
    };
    Header {
        kind: field("type") as u16,
        flags: field("flags") as u16,
        seq: field("seq") as u32,
        pid: field("pid") as u32,
    }
}

impl Filter for EncodeNetlink {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        match evt {
            Event::MessageStart(head) if self.start.is_none() => {
                self.start = Some(head);
                self.body.clear();
            }
            Event::Data(b) if self.start.is_some() => {
                if self.body.len() + b.len() > BODY_LIMIT {
                    tracing::error!(target: "netlink", "encodeNetlink: message body over {BODY_LIMIT} bytes");
                    self.ended = true;
                    return out.emit(Event::error("BufferOverflow"));
                }
                self.body.extend_from_slice(&b);
            }
            Event::MessageEnd(tail) => {
                let Some(head) = self.start.take() else { return };
                // The body is bounded far below u32::MAX, so the length always fits.
                let bytes = header_of(&head).encode(&self.body).unwrap_or_default();
                self.body.clear();
                out.emit(Event::MessageStart(head));
                out.emit(Event::Data(bytes));
                out.emit(Event::MessageEnd(tail));
            }
            Event::StreamEnd(_) => {
                self.ended = true;
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

    fn data(n: usize) -> Event {
        Event::Data(Bytes::from(vec![b'x'; n]))
    }

    #[test]
    fn each_message_is_one_data_with_its_length_in_the_header() {
        StubHost::install();
        let input = vec![
            Event::MessageStart(Head::None),
            data(3),
            data(5),
            Event::MessageEnd(Default::default()),
            data(7),
            Event::MessageStart(Head::None),
            Event::MessageEnd(Default::default()),
            Event::end(),
        ];
        let out = stub::run(vec![Box::new(Spec)], input);
        let mut len = [0u8; 4];
        len.copy_from_slice(&(16u32 + 8).to_ne_bytes());
        let first = format!("Data {}", String::from_utf8_lossy(&[&len[..], &[0; 12], b"xxxxxxxx"].concat()));
        len.copy_from_slice(&16u32.to_ne_bytes());
        let second = format!("Data {}", String::from_utf8_lossy(&[&len[..], &[0; 12]].concat()));
        assert_eq!(
            out,
            ["MessageStart", &first, "MessageEnd", "MessageStart", &second, "MessageEnd", "StreamEnd"]
                .map(String::from)
        );
    }

    #[test]
    fn a_body_over_the_limit_ends_the_stream() {
        StubHost::install();
        let input =
            vec![Event::MessageStart(Head::None), data(BODY_LIMIT), data(1), Event::MessageEnd(Default::default())];
        let out = stub::run(vec![Box::new(Spec)], input);
        assert_eq!(out, ["StreamEnd error"]);
    }
}
