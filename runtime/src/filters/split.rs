//! `split(separator)`: cuts the stream's `Data` into messages at each `separator` (a
//! string, or a function returning one, asked at the first `Data`), which is dropped. Bytes
//! go on as they come, but for the few that may be the start of a separator. An input
//! `MessageEnd` or `StreamEnd` ends the last message (an empty one if it had no bytes, as
//! Pipy); other input message events are dropped and `StreamEnd` passes on.

use boa_engine::JsResult;
use bytes::{Bytes, BytesMut};

use super::Made;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Head, Output, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let separator = args.given(0, "a separator string", |v, args| match v.is_null_or_undefined() {
        true => Ok(None),
        false => Ok(Some(v.to_string(args.js_context())?.to_std_string_escaped().into_bytes())),
    })?;
    if let Given::Fixed(s) = &separator
        && s.is_empty()
    {
        return Err(args.error("the separator is empty"));
    }
    Ok(Made::Filter(Box::new(Spec { separator })))
}

struct Spec {
    separator: Given<Vec<u8>>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "split"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Split { separator: self.separator.clone(), env, current: None, started: false, tail: BytesMut::new() })
    }
}

struct Split {
    separator: Given<Vec<u8>>,
    env: FilterEnv,
    /// The separator of the messages being split, from the first `Data` on.
    current: Option<Vec<u8>>,
    started: bool,
    /// Bytes that may be the start of a separator.
    tail: BytesMut,
}

impl Split {
    fn separator(&mut self) -> Result<Vec<u8>, String> {
        if let Some(s) = &self.current {
            return Ok(s.clone());
        }
        let s = self.separator.get(&self.env.context, &[], |v| host().to_text(&v).map(String::into_bytes))?;
        if s.is_empty() {
            return Err("split: the separator is empty".into());
        }
        self.current = Some(s.clone());
        Ok(s)
    }

    fn bytes(&mut self, b: Bytes, out: &mut Output<'_>) {
        if !self.started {
            self.started = true;
            out.emit(Event::MessageStart(Head::None));
        }
        if !b.is_empty() {
            out.emit(Event::Data(b));
        }
    }

    fn data(&mut self, b: &[u8], sep: &[u8], out: &mut Output<'_>) {
        self.tail.extend_from_slice(b);
        while let Some(at) = memchr::memmem::find(&self.tail, sep) {
            let message = self.tail.split_to(at).freeze();
            let _ = self.tail.split_to(sep.len());
            self.bytes(message, out);
            self.end(out);
        }
        let keep = sep.len() - 1;
        if self.tail.len() > keep {
            let ready = self.tail.split_to(self.tail.len() - keep).freeze();
            self.bytes(ready, out);
        }
    }

    fn end(&mut self, out: &mut Output<'_>) {
        self.bytes(Bytes::new(), out);
        self.started = false;
        out.emit(Event::MessageEnd(Value::undefined()));
    }
}

impl Filter for Split {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(b) => match self.separator() {
                Ok(sep) => self.data(&b, &sep, out),
                Err(e) => {
                    tracing::error!(target: "pipeline", "split: {e}");
                    out.emit(runtime_error(e));
                }
            },
            Event::MessageEnd(_) | Event::StreamEnd(_) if self.current.is_some() => {
                let rest = self.tail.split().freeze();
                self.bytes(rest, out);
                self.end(out);
                if let Given::Dynamic(_) = self.separator {
                    self.current = None;
                }
                if evt.is_stream_end() {
                    out.emit(evt);
                }
            }
            Event::StreamEnd(_) => out.emit(evt),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    fn split(sep: &[u8], chunks: &[&'static [u8]]) -> Vec<String> {
        StubHost::install();
        let spec = Spec { separator: Given::Fixed(sep.to_vec()) };
        let mut input: Vec<Event> = chunks.iter().map(|c| Event::Data(Bytes::from_static(c))).collect();
        input.push(Event::end());
        stub::run(vec![Box::new(spec)], input)
    }

    #[test]
    fn data_is_cut_at_each_separator_which_is_dropped() {
        let out = split(b"\n", &[b"ab\ncd", b"e\n\nf"]);
        let want = [
            "MessageStart",
            "Data ab",
            "MessageEnd",
            "MessageStart",
            "Data cd",
            "Data e",
            "MessageEnd",
            "MessageStart",
            "MessageEnd",
            "MessageStart",
            "Data f",
            "MessageEnd",
            "StreamEnd",
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn a_separator_split_across_reads_is_found_and_its_start_held_back() {
        let out = split(b"--", &[b"ab-", b"-cd-", b"x"]);
        let want = [
            "MessageStart",
            "Data ab",
            "MessageEnd",
            "MessageStart",
            "Data cd",
            "Data -",
            "Data x",
            "MessageEnd",
            "StreamEnd",
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn a_stream_ending_after_a_separator_ends_with_an_empty_message() {
        let out = split(b"\n", &[b"a\n"]);
        assert_eq!(out, ["MessageStart", "Data a", "MessageEnd", "MessageStart", "MessageEnd", "StreamEnd"]);
    }
}
