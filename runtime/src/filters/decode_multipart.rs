//! `decodeMultipart()`: a message whose `content-type` is `multipart/...; boundary=...`
//! becomes one message per part (parts of nested multipart parts included), each with a
//! head `{ headers }` of the part's headers; other messages pass unchanged.

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::codec::multipart::{self, Decoder, Part};
use crate::codec::tree::Tree;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, host};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decodeMultipart"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecodeMultipart { decoder: None, passing: false })
    }
}

struct DecodeMultipart {
    /// The message being split.
    decoder: Option<Decoder>,
    /// A message that is not multipart is passing through.
    passing: bool,
}

fn content_type(head: &Head) -> Option<String> {
    match head {
        Head::Request(r) => r.header("content-type").map(String::from),
        Head::Response(r) => r.header("content-type").map(String::from),
        Head::Js(v) => host().script_header(v, "content-type"),
        Head::None => None,
    }
}

fn emit(parts: Vec<Part>, out: &mut Output<'_>) {
    for part in parts {
        match part {
            Part::Start(headers) => {
                let headers = headers.into_iter().fold(Vec::<(String, Tree)>::new(), |mut acc, (n, v)| {
                    match acc.iter_mut().find(|(k, _)| *k == n) {
                        Some((_, Tree::Array(a))) => a.push(Tree::Str(v)),
                        Some((_, old)) => *old = Tree::Array(vec![std::mem::replace(old, Tree::Null), Tree::Str(v)]),
                        None => acc.push((n, Tree::Str(v))),
                    }
                    acc
                });
                let head = Tree::Object(vec![("headers".into(), Tree::Object(headers))]);
                match host().tree_value(&head) {
                    Ok(v) => out.emit(Event::MessageStart(Head::Js(v))),
                    Err(e) => tracing::error!(target: "codec", "decodeMultipart: {e}"),
                }
            }
            Part::Data(b) if !b.is_empty() => out.emit(Event::Data(b)),
            Part::Data(_) => {}
            Part::End => out.emit(Event::MessageEnd(boa_engine::JsValue::undefined())),
        }
    }
}

impl Filter for DecodeMultipart {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(head) if self.decoder.is_none() && !self.passing => {
                let boundary = content_type(&head).and_then(|t| multipart::boundary(&t).map(String::from));
                match boundary {
                    Some(b) => self.decoder = Some(Decoder::new(&b)),
                    None => {
                        self.passing = true;
                        out.emit(Event::MessageStart(head));
                    }
                }
            }
            Event::Data(b) => match &mut self.decoder {
                Some(d) => {
                    let mut parts = Vec::new();
                    d.feed(&b, &mut parts);
                    emit(parts, out);
                }
                None => out.emit(Event::Data(b)),
            },
            Event::MessageEnd(tail) => match self.decoder.take() {
                Some(mut d) => {
                    let mut parts = Vec::new();
                    d.end(&mut parts);
                    emit(parts, out);
                }
                None => {
                    self.passing = false;
                    out.emit(Event::MessageEnd(tail));
                }
            },
            Event::StreamEnd(e) => {
                if let Some(mut d) = self.decoder.take() {
                    let mut parts = Vec::new();
                    d.end(&mut parts);
                    emit(parts, out);
                }
                self.passing = false;
                out.emit(Event::StreamEnd(e));
            }
            Event::MessageStart(_) => {}
        }
    }
}
