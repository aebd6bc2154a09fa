//! What `decodeRESP`, `decodeMQTT` and `decodeThrift` share: a codec that cuts the byte
//! stream into whole items within `bufferLimit`, each item turned into a message. Input that
//! is not the protocol, or an item over the limit, ends the stream with a `ProtocolError`
//! (or `BufferOverflow`) StreamEnd and a log line; so does a stream that ends inside an item.
//! After such an end, the rest of the stream's input is dropped.

use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output};

/// Why a codec stopped.
pub enum Broken {
    /// Bytes that are not the protocol.
    Malformed,
    /// An item bigger than the decoder may hold.
    TooBig,
}

/// A streaming codec of whole items.
pub trait Whole: Sized + 'static {
    type Item;
    /// The filter's name, for its spec and its log lines.
    const FILTER: &'static str;
    /// What one item is called in log lines ("value", "packet", "message").
    const ITEM: &'static str;
    /// The log line for input that is not the protocol.
    const MALFORMED: &'static str;
    fn new(limit: usize) -> Self;
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<Self::Item>) -> Result<(), Broken>;
    /// Whether bytes of an unfinished item are held.
    fn is_partial(&self) -> bool;
    /// Emits `item` as a message.
    fn emit(item: Self::Item, out: &mut Output<'_>) -> Result<(), String>;
}

/// The spec of a decoder over codec `W`, with its `bufferLimit`.
pub struct Spec<W> {
    pub limit: usize,
    pub codec: std::marker::PhantomData<W>,
}

impl<W: Whole> FilterSpec for Spec<W> {
    fn name(&self) -> &'static str {
        W::FILTER
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(Decode { limit: self.limit, decoder: W::new(self.limit), failed: false })
    }
}

struct Decode<W> {
    limit: usize,
    decoder: W,
    /// The stream already ended with an error: the rest of its input is dropped.
    failed: bool,
}

impl<W: Whole> Decode<W> {
    fn fail(&mut self, code: &'static str, why: &str, out: &mut Output<'_>) {
        tracing::error!(target: "codec", "{}: {why}", W::FILTER);
        self.failed = true;
        out.emit(Event::error(code));
    }
}

impl<W: Whole> Filter for Decode<W> {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(b) if !self.failed => {
                let mut items = Vec::new();
                let result = self.decoder.feed(&b, &mut items);
                for item in items {
                    if let Err(e) = W::emit(item, out) {
                        return self.fail("RuntimeError", &e, out);
                    }
                }
                match result {
                    Ok(()) => {}
                    Err(Broken::Malformed) => self.fail("ProtocolError", W::MALFORMED, out),
                    Err(Broken::TooBig) => self.fail("BufferOverflow", &format!("a {} over bufferLimit", W::ITEM), out),
                }
            }
            Event::StreamEnd(e) => {
                let partial = self.decoder.is_partial();
                let failed = std::mem::replace(&mut self.failed, false);
                self.decoder = W::new(self.limit);
                if failed {
                    return;
                }
                if partial && e.is_none() {
                    return self.fail("ProtocolError", &format!("the stream ended inside a {}", W::ITEM), out);
                }
                out.emit(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}
