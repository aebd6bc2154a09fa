//! `compress(algorithm | fn)`: compresses the `Data` of the stream with `'gzip'` or
//! `'deflate'` (zlib); the compressed stream is finished at `StreamEnd`. As in Pipy, other
//! events are dropped. `fn()` is called at the first event for the algorithm.

use boa_engine::JsResult;

use super::Made;
use super::decompress::{algorithm, algorithm_now};
use crate::args::Args;
use crate::codec::compress::{Algorithm, Deflater};
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Output};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let choice = algorithm(args, is_compressor)?;
    Ok(Made::Filter(Box::new(Spec { choice })))
}

pub(super) fn is_compressor(name: &str) -> Option<Algorithm> {
    Algorithm::from_name(name).filter(|a| matches!(a, Algorithm::Gzip | Algorithm::Zlib) && name != "inflate")
}

struct Spec {
    choice: Given<Algorithm>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "compress"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Compress { choice: self.choice.clone(), env, deflater: None, started: false })
    }
}

struct Compress {
    choice: Given<Algorithm>,
    env: FilterEnv,
    deflater: Option<Deflater>,
    started: bool,
}

impl Filter for Compress {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if !self.started {
            self.started = true;
            match algorithm_now(&self.choice, "compress", &self.env, is_compressor) {
                Ok(a) => self.deflater = Deflater::new(a),
                Err(e) => {
                    tracing::error!(target: "pipeline", "compress: {e}");
                    return out.emit(runtime_error(e));
                }
            }
        }
        let Some(d) = &mut self.deflater else { return };
        let mut chunks = Vec::new();
        let result = match &evt {
            Event::Data(b) => d.feed(b, &mut |c| chunks.push(c)),
            Event::StreamEnd(_) => d.finish(&mut |c| chunks.push(c)),
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::error!(target: "pipeline", "compress: {e}");
        }
        chunks.into_iter().for_each(|c| out.emit(Event::Data(c)));
        if evt.is_stream_end() {
            self.deflater = None;
            out.emit(evt);
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
    use crate::engine::host::stub::{self, StubHost};
    use crate::engine::{Context, Head, Pipeline, Value};

    /// What came out of `compress(name)` over `input`: event types, and the `Data` joined.
    fn run(name: &str, input: Vec<Event>) -> (Vec<&'static str>, Vec<u8>) {
        StubHost::install();
        let spec = Spec { choice: Given::Fixed(Algorithm::from_name(name).expect("algorithm")) };
        let out = Rc::new(RefCell::new(Vec::new()));
        let sink = out.clone();
        let p = Pipeline::new(
            stub::layout(vec![Box::new(spec)]),
            Context::root(),
            Rc::new(move |e| sink.borrow_mut().push(e)),
        );
        p.start(&[]);
        input.into_iter().for_each(|e| p.input(e));
        let events = out.take();
        let data = events.iter().flat_map(|e| if let Event::Data(b) = e { b.to_vec() } else { Vec::new() }).collect();
        (events.iter().map(Event::type_name).collect(), data)
    }

    fn message(parts: &[&'static str]) -> Vec<Event> {
        let body = parts.iter().map(|p| Event::Data(Bytes::from_static(p.as_bytes())));
        [vec![Event::MessageStart(Head::None)], body.collect(), vec![Event::MessageEnd(Value::undefined())]].concat()
    }

    #[test]
    fn compress_gzip_drops_other_events_and_finishes_at_stream_end() {
        let input = [message(&["hello, ", "weir"]), message(&["!"]), vec![Event::end()]].concat();
        let (kinds, packed) = run("gzip", input);
        assert!(kinds.iter().all(|k| *k == "Data" || *k == "StreamEnd"), "{kinds:?}");
        assert_eq!(kinds.last(), Some(&"StreamEnd"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(&packed[..]).read_to_string(&mut text).expect("gunzip");
        assert_eq!(text, "hello, weir!");
    }

    #[test]
    fn compress_deflate_writes_a_zlib_stream() {
        let (_, packed) = run("deflate", [message(&["abc"]), vec![Event::end()]].concat());
        let mut text = String::new();
        flate2::read::ZlibDecoder::new(&packed[..]).read_to_string(&mut text).expect("inflate");
        assert_eq!(text, "abc");
    }

    #[test]
    fn compress_takes_only_gzip_and_deflate() {
        assert!(is_compressor("gzip").is_some() && is_compressor("deflate").is_some());
        assert!(is_compressor("inflate").is_none() && is_compressor("brotli").is_none());
    }
}
