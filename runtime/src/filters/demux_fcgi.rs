//! `demuxFastCGI().to(sub)`: the application side of FastCGI. Each request on the
//! connection goes into a sub-pipeline of its own (with a copy of the context) as a message
//! whose head is `{ role, keepAlive, params }` and whose body is the request's stdin; the
//! sub-pipeline's first message is the answer: its body goes out as stdout, its tail's
//! `appStatus` and `protocolStatus` (0 unless given) end the request.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use boa_engine::{JsResult, JsValue};
use bytes::BytesMut;

use super::Made;
use crate::args::Args;
use crate::codec::fcgi::{self, Decoder, Record};
use crate::codec::tree::Tree;
use crate::engine::{Event, EventSink, Filter, FilterEnv, FilterSpec, Head, Layout, Output, Pipeline, host};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| Box::new(Spec(sub)))))
}

struct Spec(Rc<Layout>);

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "demuxFastCGI"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let writer = Rc::new(Writer {
            env: env.clone(),
            bytes: RefCell::default(),
            end: Cell::new(false),
            busy: Cell::new(false),
        });
        Box::new(DemuxFcgi {
            sub: self.0.clone(),
            env,
            decoder: Decoder::default(),
            requests: HashMap::new(),
            writer,
            eos: None,
            ended: false,
        })
    }
}

/// The records the answers make, waiting for the filter to emit them.
struct Writer {
    env: FilterEnv,
    bytes: RefCell<BytesMut>,
    /// A request without `keepConn` was answered: the connection ends.
    end: Cell<bool>,
    busy: Cell<bool>,
}

impl Writer {
    fn wrote(&self) {
        if !self.busy.get() {
            self.env.wake();
        }
    }
}

/// A request being read, then answered by its sub-pipeline.
struct Request {
    id: u16,
    role: u16,
    keep: bool,
    params: BytesMut,
    pipeline: Option<Pipeline>,
    answer: Rc<Answer>,
    stdin_done: bool,
}

/// Where a request's sub-pipeline output goes: its first message becomes records.
struct Answer {
    id: u16,
    keep: Cell<bool>,
    writer: Rc<Writer>,
    started: Cell<bool>,
    done: Cell<bool>,
}

impl Answer {
    fn finish(&self, tail: &JsValue) {
        if self.done.replace(true) {
            return;
        }
        let number = |name: &str| host().field(tail, name).as_number().unwrap_or(0.0);
        let (app, protocol) =
            if tail.is_object() { (number("appStatus") as u32, number("protocolStatus") as u8) } else { (0, 0) };
        let mut w = self.writer.bytes.borrow_mut();
        fcgi::write_record(&mut w, fcgi::STDOUT, self.id, &[]);
        fcgi::write_record(&mut w, fcgi::END_REQUEST, self.id, &fcgi::end_body(app, protocol));
        drop(w);
        if !self.keep.get() {
            self.writer.end.set(true);
        }
        self.writer.wrote();
    }
}

impl EventSink for Answer {
    fn on_event(&self, evt: Event) {
        if self.done.get() {
            return;
        }
        match evt {
            Event::MessageStart(_) => self.started.set(true),
            Event::Data(b) if self.started.get() && !b.is_empty() => {
                fcgi::write_stream(&mut self.writer.bytes.borrow_mut(), fcgi::STDOUT, self.id, &b);
                self.writer.wrote();
            }
            Event::MessageEnd(tail) if self.started.get() => self.finish(&tail),
            Event::StreamEnd(_) => self.finish(&JsValue::undefined()),
            _ => {}
        }
    }
}

struct DemuxFcgi {
    sub: Rc<Layout>,
    env: FilterEnv,
    decoder: Decoder,
    requests: HashMap<u16, Request>,
    writer: Rc<Writer>,
    /// The connection's end, held while requests are being answered.
    eos: Option<Event>,
    ended: bool,
}

impl DemuxFcgi {
    fn record(&mut self, r: Record) {
        match r.kind {
            fcgi::BEGIN_REQUEST if !self.requests.contains_key(&r.id) => {
                let (role, keep) = fcgi::parse_begin(&r.content);
                let answer = Rc::new(Answer {
                    id: r.id,
                    keep: Cell::new(keep),
                    writer: self.writer.clone(),
                    started: Cell::new(false),
                    done: Cell::new(false),
                });
                let req = Request {
                    id: r.id,
                    role,
                    keep,
                    params: BytesMut::new(),
                    pipeline: None,
                    answer,
                    stdin_done: false,
                };
                self.requests.insert(r.id, req);
            }
            fcgi::ABORT_REQUEST => {
                self.requests.remove(&r.id);
            }
            fcgi::PARAMS => {
                let Some(req) = self.requests.get_mut(&r.id) else { return };
                if req.pipeline.is_some() {
                    return;
                }
                if !r.content.is_empty() {
                    return req.params.extend_from_slice(&r.content);
                }
                let context = self.env.context.copy(None);
                let p = Pipeline::new(self.sub.clone(), context, req.answer.clone());
                p.start(&[]);
                p.input(Event::MessageStart(Head::Js(head(req))));
                req.pipeline = Some(p);
            }
            fcgi::STDIN => {
                let Some(req) = self.requests.get_mut(&r.id) else { return };
                let Some(p) = req.pipeline.as_ref().filter(|_| !req.stdin_done) else { return };
                if r.content.is_empty() {
                    req.stdin_done = true;
                    p.input(Event::MessageEnd(JsValue::undefined()));
                } else {
                    p.input(Event::Data(r.content));
                }
            }
            _ => {}
        }
    }

    fn flush(&mut self, out: &mut Output<'_>) {
        self.requests.retain(|_, r| !r.answer.done.get());
        let bytes = self.writer.bytes.borrow_mut().split().freeze();
        if !bytes.is_empty() {
            out.emit(Event::Data(bytes));
        }
        let end = self.writer.end.get() || (self.eos.is_some() && self.requests.is_empty());
        if end && !self.ended {
            self.ended = true;
            self.requests.clear();
            out.emit(self.eos.take().unwrap_or_else(Event::end));
        }
    }
}

/// A request's head: `{ role, keepAlive, params }`, its params an object of strings.
fn head(req: &Request) -> JsValue {
    let params = fcgi::parse_params(&req.params).unwrap_or_else(|| {
        tracing::warn!(target: "pipeline", "demuxFastCGI: malformed params of request {}", req.id);
        Vec::new()
    });
    let params = params.into_iter().map(|(k, v)| (k, Tree::Str(v))).collect();
    let tree = Tree::Object(vec![
        ("role".into(), Tree::Number(req.role as f64)),
        ("keepAlive".into(), Tree::Bool(req.keep)),
        ("params".into(), Tree::Object(params)),
    ]);
    host().tree_value(&tree).unwrap_or_default()
}

impl Filter for DemuxFcgi {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        self.writer.busy.set(true);
        match evt {
            Event::Data(b) => {
                self.decoder.feed(&b);
                loop {
                    match self.decoder.record() {
                        Ok(Some(r)) => self.record(r),
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(target: "pipeline", "demuxFastCGI: {e}");
                            self.eos = Some(Event::error("ProtocolError"));
                            self.requests.clear();
                            break;
                        }
                    }
                }
            }
            Event::StreamEnd(_) => self.eos = Some(evt),
            _ => {}
        }
        self.flush(out);
        self.writer.busy.set(false);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        if !self.ended {
            self.flush(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, Record as Seen, StubHost};

    #[test]
    fn each_request_goes_into_its_own_sub_pipeline_and_its_answer_comes_back_as_records() {
        StubHost::install();
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut input = BytesMut::new();
        for id in [1u16, 2] {
            fcgi::write_record(&mut input, fcgi::BEGIN_REQUEST, id, &fcgi::begin_body(fcgi::RESPONDER, true));
            fcgi::write_record(&mut input, fcgi::PARAMS, id, &[]);
        }
        fcgi::write_stream(&mut input, fcgi::STDIN, 2, b"two");
        fcgi::write_stream(&mut input, fcgi::STDIN, 1, b"one");
        fcgi::write_record(&mut input, fcgi::STDIN, 2, &[]);
        fcgi::write_record(&mut input, fcgi::STDIN, 1, &[]);
        // Split in the middle of records: the decoder must not care.
        let input = input.freeze();
        let events = input.chunks(5).map(|c| Event::Data(Bytes::copy_from_slice(c))).collect();
        let spec = Spec(stub::layout(vec![Box::new(Seen("sub", seen.clone()))]));
        let out = stub::run(vec![Box::new(spec)], events);
        // The sub-pipelines echo their requests: each one's stdin comes back as its stdout.
        let mut d = Decoder::default();
        out.iter().filter_map(|e| e.strip_prefix("Data ")).for_each(|b| d.feed(b.as_bytes()));
        let mut answers = Vec::new();
        while let Some(r) = d.record().unwrap() {
            answers.push((r.kind, r.id, String::from_utf8_lossy(&r.content).into_owned()));
        }
        let stdout: Vec<_> = answers.iter().filter(|a| a.0 == fcgi::STDOUT && !a.2.is_empty()).collect();
        assert_eq!(stdout, [&(fcgi::STDOUT, 2, "two".into()), &(fcgi::STDOUT, 1, "one".into())]);
        assert_eq!(answers.iter().filter(|a| a.0 == fcgi::END_REQUEST).count(), 2);
        assert_eq!(seen.borrow().iter().filter(|s| s.as_str() == "sub: MessageStart").count(), 2);
    }
}
