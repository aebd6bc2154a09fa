//! `decompressHTTP()`: decompresses the body of each message whose `content-encoding` is
//! `gzip`, `deflate` (zlib) or `br`, as it streams by, and removes that header. Other
//! messages and events outside messages pass unchanged.
//!
//! A corrupt or truncated body ends the stream with a `ProtocolError` StreamEnd and a log
//! line; nothing after it passes.

use std::collections::VecDeque;

use boa_engine::JsResult;

use super::Made;
use super::content_encoding;
use crate::args::Args;
use crate::codec::compress::{Algorithm, CodecError, Inflater};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output, Pace};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decompressHTTP"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecompressHttp {
            inflater: None,
            encoding: String::new(),
            in_message: false,
            failed: false,
            pace: Pace::new(env),
            held: VecDeque::new(),
        })
    }
}

struct DecompressHttp {
    inflater: Option<Inflater>,
    /// The `content-encoding` being undone, for the log.
    encoding: String,
    in_message: bool,
    failed: bool,
    /// Stops inflating while the queues ahead are full (see `engine::pace`).
    pace: Pace,
    /// Events that came while paused, after the inflater's own input.
    held: VecDeque<Event>,
}

impl DecompressHttp {
    fn fail(&mut self, e: CodecError, out: &mut Output<'_>) {
        tracing::error!(target: "http", "decompressHTTP: corrupt {} body: {e}", self.encoding);
        self.failed = true;
        self.inflater = None;
        self.held.clear();
        self.pace.resume();
        out.emit(Event::error("ProtocolError"));
    }

    /// Emits what the inflater makes of its input, a piece at a time, until the input is used
    /// up or the queues ahead are full (then the pace is paused with input left).
    fn inflate(&mut self, out: &mut Output<'_>) {
        while let Some(inflater) = &mut self.inflater {
            match inflater.pull() {
                Ok(Some(b)) => out.emit(Event::Data(b)),
                Ok(None) => return,
                Err(e) => return self.fail(e, out),
            }
            if self.pace.full() {
                return self.pace.pause();
            }
        }
    }

    fn handle(&mut self, evt: Event, out: &mut Output<'_>) {
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
            Event::Data(b) if let Some(inflater) = &mut self.inflater => {
                inflater.push(b);
                self.inflate(out);
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

impl Filter for DecompressHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.failed {
            return;
        }
        if self.pace.paused() {
            return self.held.push_back(evt);
        }
        self.handle(evt, out);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        if !self.pace.paused() {
            return;
        }
        self.pace.resume();
        self.inflate(out);
        while !self.pace.paused() && !self.failed {
            let Some(evt) = self.held.pop_front() else { return };
            self.handle(evt, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use bytes::Bytes;

    use super::*;
    use crate::codec::compress::Deflater;
    use crate::codec::http1::{Header, ResponseHead};
    use crate::engine::host::stub::StubHost;
    use crate::engine::{Context, Head, Layout, Pipeline, Value};

    fn run(input: Vec<Event>) -> Vec<Event> {
        StubHost::install();
        let layout = Layout { name: "test".into(), filters: vec![Box::new(Spec)], ..Default::default() };
        let out = Rc::new(RefCell::new(Vec::new()));
        let sink = out.clone();
        let p = Pipeline::new(Rc::new(layout), Context::root(), Rc::new(move |e: Event| sink.borrow_mut().push(e)));
        p.start(&[]);
        input.into_iter().for_each(|e| p.input(e));
        out.take()
    }

    fn gzip_response(body: &[u8], cut: usize) -> Vec<Event> {
        let mut z = Vec::new();
        let mut d = Deflater::new(Algorithm::Gzip).unwrap();
        d.feed(body, &mut |b| z.extend_from_slice(&b)).unwrap();
        d.finish(&mut |b| z.extend_from_slice(&b)).unwrap();
        z.truncate(z.len() - cut);
        let head = ResponseHead {
            protocol: "HTTP/1.1".into(),
            status: 200,
            status_text: "OK".into(),
            headers: vec![Header::new("Content-Encoding", "gzip"), Header::new("x-kept", "1")],
        };
        let mut events = vec![Event::MessageStart(Head::Response(Rc::new(head)))];
        events.extend(z.chunks(7).map(|c| Event::Data(Bytes::copy_from_slice(c))));
        events.push(Event::MessageEnd(Value::undefined()));
        events
    }

    #[test]
    fn gzip_bodies_come_out_plain_without_the_header() {
        let body = b"hello, hello, hello, hello".repeat(100);
        let out = run([gzip_response(&body, 0), gzip_response(b"second", 0)].concat());
        let mut bodies = vec![Vec::new()];
        for e in &out {
            match e {
                Event::MessageStart(Head::Response(h)) => {
                    assert_eq!(h.header("content-encoding"), None);
                    assert_eq!(h.header("x-kept"), Some("1"));
                }
                Event::Data(b) => bodies.last_mut().unwrap().extend_from_slice(b),
                Event::MessageEnd(_) => bodies.push(Vec::new()),
                other => panic!("unexpected {}", other.type_name()),
            }
        }
        assert_eq!(bodies, [body, b"second".to_vec(), Vec::new()]);
    }

    #[test]
    fn a_truncated_body_ends_the_stream_with_protocol_error() {
        let out = run([gzip_response(b"some text to cut short", 3), vec![Event::end()]].concat());
        let last = out.last().unwrap();
        assert!(matches!(last, Event::StreamEnd(Some(e)) if e.name() == "ProtocolError"), "{out:?}");
        assert_eq!(out.iter().filter(|e| e.is_stream_end()).count(), 1, "nothing passes after the error");
    }
}
