//! `decompressHTTP()`: decompresses the body of each message whose `content-encoding` is
//! `gzip`, `deflate` (zlib) or `br`, as it streams by, and removes that header. Other
//! messages and events outside messages pass unchanged.
//!
//! A corrupt or truncated body ends the stream with a `ProtocolError` StreamEnd and a log
//! line; nothing after it passes.

use boa_engine::{Context, JsResult, JsValue};

use super::Made;
use super::content_encoding;
use crate::codec::compress::{Algorithm, CodecError, Inflater};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output};

pub fn make(_: &[JsValue], _: &mut Context) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decompressHTTP"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecompressHttp { inflater: None, encoding: String::new(), in_message: false, failed: false })
    }
}

struct DecompressHttp {
    inflater: Option<Inflater>,
    /// The `content-encoding` being undone, for the log.
    encoding: String,
    in_message: bool,
    failed: bool,
}

impl DecompressHttp {
    fn fail(&mut self, e: CodecError, out: &mut Output<'_>) {
        tracing::error!(target: "http", "decompressHTTP: corrupt {} body: {e}", self.encoding);
        self.failed = true;
        self.inflater = None;
        out.emit(Event::error("ProtocolError"));
    }
}

impl Filter for DecompressHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.failed {
            return;
        }
        match evt {
            Event::MessageStart(head) if !self.in_message => {
                self.in_message = true;
                let encoding = content_encoding::get(&head);
                let algorithm = encoding.as_deref().and_then(Algorithm::from_content_encoding);
                let head = match algorithm {
                    Some(a) => {
                        self.inflater = Some(Inflater::new(a));
                        self.encoding = encoding.unwrap_or_default();
                        content_encoding::remove(head)
                    }
                    None => head,
                };
                out.emit(Event::MessageStart(head));
            }
            Event::Data(b) if self.inflater.is_some() => {
                let mut chunks = Vec::new();
                let result = self.inflater.as_mut().map_or(Ok(()), |i| i.feed(&b, &mut |c| chunks.push(c)));
                chunks.into_iter().for_each(|c| out.emit(Event::Data(c)));
                if let Err(e) = result {
                    self.fail(e, out);
                }
            }
            Event::MessageEnd(tail) => {
                self.in_message = false;
                if let Some(Err(e)) = self.inflater.take().map(|i| i.finish()) {
                    return self.fail(e, out);
                }
                out.emit(Event::MessageEnd(tail));
            }
            evt @ Event::StreamEnd(_) => {
                self.in_message = false;
                self.inflater = None;
                out.emit(evt);
            }
            evt => out.emit(evt),
        }
    }
}
