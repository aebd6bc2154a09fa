//! `compressHTTP(algorithm | fn)`: compresses the body of each message that has no
//! `content-encoding` yet with `'gzip'` or `'deflate'` (zlib) and sets that header. `fn(
//! messageStart)` picks the algorithm per message (nothing: leave it as it is). The body is
//! compressed as it streams by; events outside messages pass unchanged.

use boa_engine::JsResult;

use super::Made;
use super::compress::is_compressor as compressor;
use super::content_encoding;
use crate::args::Args;
use crate::codec::compress::{Algorithm, Deflater};
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Head, Output, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let choice = args.given(0, "'gzip', 'deflate'", |v, args| {
        let Some(name) = v.as_string().map(|s| s.to_std_string_escaped()) else { return Ok(None) };
        compressor(&name)
            .map(Some)
            .ok_or_else(|| args.error(format!("unknown algorithm {name:?} (use 'gzip' or 'deflate')")))
    })?;
    Ok(Made::Filter(Box::new(Spec { choice })))
}

struct Spec {
    choice: Given<Algorithm>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "compressHTTP"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(CompressHttp { choice: self.choice.clone(), env, deflater: None, in_message: false, ended: false })
    }
}

struct CompressHttp {
    choice: Given<Algorithm>,
    env: FilterEnv,
    deflater: Option<Deflater>,
    in_message: bool,
    ended: bool,
}

impl CompressHttp {
    /// The algorithm for this message, and the head as it goes on.
    fn choose(&self, head: Head) -> Result<(Option<Algorithm>, Head), String> {
        match &self.choice {
            Given::Fixed(a) => Ok((Some(*a), head)),
            Given::Dynamic(f) => {
                let host = host();
                let arg = host.event_value(&Event::MessageStart(head.clone()))?;
                let v = host.call(&self.env.context, f, std::slice::from_ref(&arg))?;
                // The script may have changed the head it was given.
                let head = host.head_of(&arg).unwrap_or(head);
                if v.is_null_or_undefined() {
                    return Ok((None, head));
                }
                let name =
                    v.as_string().ok_or("compressHTTP: callback did not return a string")?.to_std_string_escaped();
                match compressor(&name) {
                    Some(a) => Ok((Some(a), head)),
                    None => {
                        tracing::warn!(target: "http", "compressHTTP: unknown algorithm {name:?}: not compressing");
                        Ok((None, head))
                    }
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Output<'_>) {
        if let Some(mut d) = self.deflater.take() {
            let mut chunks = Vec::new();
            // Finishing a compressor only fails on misuse: nothing the input could cause.
            if let Err(e) = d.finish(&mut |b| chunks.push(b)) {
                tracing::error!(target: "http", "compressHTTP: {e}");
            }
            chunks.into_iter().for_each(|b| out.emit(Event::Data(b)));
        }
    }
}

impl Filter for CompressHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        match evt {
            Event::MessageStart(head) if !self.in_message => {
                self.in_message = true;
                let (algorithm, head) = match self.choose(head) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(target: "http", "compressHTTP: {e}");
                        self.ended = true;
                        return out.emit(runtime_error(e));
                    }
                };
                let head = match algorithm {
                    Some(a) if content_encoding::get(&head).is_none() => {
                        self.deflater = Deflater::new(a);
                        content_encoding::set(head, a.content_encoding())
                    }
                    _ => head,
                };
                out.emit(Event::MessageStart(head));
            }
            Event::Data(b) if self.deflater.is_some() => {
                let mut chunks = Vec::new();
                if let Some(d) = &mut self.deflater
                    && let Err(e) = d.feed(&b, &mut |c| chunks.push(c))
                {
                    tracing::error!(target: "http", "compressHTTP: {e}");
                }
                chunks.into_iter().for_each(|c| out.emit(Event::Data(c)));
            }
            evt @ (Event::MessageEnd(_) | Event::StreamEnd(_)) => {
                self.finish(out);
                self.in_message = false;
                out.emit(evt);
            }
            evt => out.emit(evt),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::io::Read;
    use std::rc::Rc;

    use bytes::Bytes;

    use super::*;
    use crate::codec::http1::{Header, ResponseHead};
    use crate::engine::host::stub::{self, StubHost};
    use crate::engine::{Context, Pipeline, Value};

    fn run(choice: Given<Algorithm>, input: Vec<Event>) -> Vec<Event> {
        let out = Rc::new(RefCell::new(Vec::new()));
        let sink = out.clone();
        let layout = stub::layout(vec![Box::new(Spec { choice })]);
        let p = Pipeline::new(layout, Context::root(), Rc::new(move |e| sink.borrow_mut().push(e)));
        p.start(&[]);
        input.into_iter().for_each(|e| p.input(e));
        out.take()
    }

    fn response(headers: &[(&str, &str)], parts: &[&'static str]) -> Vec<Event> {
        let headers = headers.iter().map(|&(n, v)| Header::new(n, v)).collect();
        let head = Head::Response(Rc::new(ResponseHead { headers, ..ResponseHead::default() }));
        let body = parts.iter().map(|p| Event::Data(Bytes::from_static(p.as_bytes())));
        [vec![Event::MessageStart(head)], body.collect(), vec![Event::MessageEnd(Value::undefined())]].concat()
    }

    fn gzip() -> Given<Algorithm> {
        Given::Fixed(Algorithm::from_name("gzip").expect("gzip"))
    }

    /// Each message's head lines and its body, as it came out.
    fn messages(events: &[Event]) -> Vec<(Vec<String>, Vec<u8>)> {
        let mut out = Vec::new();
        for e in events {
            match e {
                Event::MessageStart(Head::Response(r)) => {
                    out.push((r.headers.iter().map(|h| format!("{}: {}", h.name, h.value)).collect(), Vec::new()))
                }
                Event::Data(b) => out.last_mut().expect("a message").1.extend_from_slice(b),
                _ => {}
            }
        }
        out
    }

    fn gunzip(packed: &[u8]) -> String {
        let mut text = String::new();
        flate2::read::GzDecoder::new(packed).read_to_string(&mut text).expect("gunzip");
        text
    }

    #[test]
    fn compress_http_sets_the_encoding_drops_the_length_and_gzips_each_body() {
        StubHost::install();
        let input = [response(&[("content-length", "11")], &["hello", ", weir"]), response(&[], &["two"])].concat();
        let out = run(gzip(), [input, vec![Event::end()]].concat());
        let kinds: Vec<_> = out.iter().map(Event::type_name).filter(|k| *k != "Data").collect();
        assert_eq!(kinds, ["MessageStart", "MessageEnd", "MessageStart", "MessageEnd", "StreamEnd"]);
        let got = messages(&out);
        assert_eq!(got[0].0, ["content-encoding: gzip"]);
        assert_eq!(gunzip(&got[0].1), "hello, weir");
        assert_eq!(gunzip(&got[1].1), "two");
    }

    #[test]
    fn compress_http_leaves_a_body_already_encoded_as_it_is() {
        StubHost::install();
        let out = run(gzip(), response(&[("content-encoding", "br"), ("content-length", "3")], &["abc"]));
        let got = messages(&out);
        assert_eq!(got, [(vec!["content-encoding: br".to_string(), "content-length: 3".to_string()], b"abc".to_vec())]);
    }

    #[test]
    fn compress_http_with_a_callback_returning_nothing_leaves_the_message_alone() {
        let stub = StubHost::install();
        let out = run(Given::Dynamic(StubHost::callback()), response(&[("content-length", "3")], &["abc"]));
        assert_eq!(messages(&out), [(vec!["content-length: 3".to_string()], b"abc".to_vec())]);
        assert_eq!(*stub.log.borrow(), ["event MessageStart", "call/1"]);
    }
}
