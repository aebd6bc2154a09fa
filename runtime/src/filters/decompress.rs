//! `decompress(algorithm | fn)`: decompresses the `Data` of the stream: `'gzip'`,
//! `'inflate'` or `'deflate'` (zlib), `'brotli'` or `'br'`. As in Pipy, other events but the
//! `StreamEnd` are dropped. `fn()` is called at the first event for the algorithm.
//!
//! Corrupt input, or input that ends before the compressed stream does, ends the stream with
//! a `ProtocolError` StreamEnd and a log line.

use std::collections::VecDeque;

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::codec::compress::{Algorithm, CodecError, Inflater};
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Output, Pace, host};

/// The algorithm argument of `compress` and `decompress`: one of the names `known` takes,
/// or a function called at the first event for one.
pub(super) fn algorithm(args: &mut Args<'_>, known: fn(&str) -> Option<Algorithm>) -> JsResult<Given<Algorithm>> {
    args.given(0, "an algorithm name", |v, args| {
        let Some(name) = v.as_string().map(|s| s.to_std_string_escaped()) else { return Ok(None) };
        known(&name).map(Some).ok_or_else(|| args.error(format!("unknown compression algorithm: {name}")))
    })
}

/// The algorithm for this stream.
pub(super) fn algorithm_now(
    given: &Given<Algorithm>,
    filter: &str,
    env: &FilterEnv,
    known: fn(&str) -> Option<Algorithm>,
) -> Result<Algorithm, String> {
    given.get(&env.context, &[], |v| {
        let name = host().to_text(&v)?;
        known(&name).ok_or_else(|| format!("{filter}(): unknown compression algorithm: {name}"))
    })
}

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let choice = algorithm(args, Algorithm::from_name)?;
    Ok(Made::Filter(Box::new(Spec { choice })))
}

struct Spec {
    choice: Given<Algorithm>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decompress"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Decompress {
            choice: self.choice.clone(),
            pace: Pace::new(env.clone()),
            env,
            inflater: None,
            started: false,
            ended: false,
            held: VecDeque::new(),
        })
    }
}

struct Decompress {
    choice: Given<Algorithm>,
    env: FilterEnv,
    inflater: Option<Inflater>,
    started: bool,
    ended: bool,
    /// Stops inflating while the queues ahead are full (see `engine::pace`).
    pace: Pace,
    /// Events that came while paused, after the inflater's own input.
    held: VecDeque<Event>,
}

impl Decompress {
    fn fail(&mut self, e: CodecError, out: &mut Output<'_>) {
        tracing::error!(target: "pipeline", "decompress: corrupt input: {e}");
        self.end(Event::error("ProtocolError"), out);
    }

    fn end(&mut self, evt: Event, out: &mut Output<'_>) {
        self.ended = true;
        self.held.clear();
        self.pace.resume();
        out.emit(evt);
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
        let Some(inflater) = &mut self.inflater else { return };
        match evt {
            Event::Data(b) => {
                inflater.push(b);
                self.inflate(out);
            }
            // A stream that broke off ends with its own error, not a complaint about the data.
            Event::StreamEnd(None) => match inflater.finish() {
                Ok(()) => self.end(evt, out),
                Err(e) => self.fail(e, out),
            },
            evt @ Event::StreamEnd(_) => self.end(evt, out),
            _ => {}
        }
    }
}

impl Filter for Decompress {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if !self.started {
            self.started = true;
            match algorithm_now(&self.choice, "decompress", &self.env, Algorithm::from_name) {
                Ok(a) => self.inflater = Some(Inflater::new(a)),
                Err(e) => {
                    tracing::error!(target: "pipeline", "{e}");
                    return self.end(runtime_error(e), out);
                }
            }
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
        while !self.pace.paused() && !self.ended {
            let Some(evt) = self.held.pop_front() else { return };
            self.handle(evt, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use bytes::Bytes;

    use super::*;
    use crate::engine::Head;
    use crate::engine::host::stub::{self, StubHost};

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text).expect("gzip");
        e.finish().expect("gzip")
    }

    fn run(input: Vec<Event>) -> Vec<String> {
        StubHost::install();
        let spec = Spec { choice: Given::Fixed(Algorithm::from_name("gzip").expect("gzip")) };
        stub::run(vec![Box::new(spec)], input)
    }

    #[test]
    fn decompress_inflates_data_split_anywhere_and_drops_other_events() {
        let packed = gzip(b"hello, weir");
        let (a, b) = packed.split_at(7);
        let input = vec![
            Event::MessageStart(Head::None),
            Event::Data(Bytes::copy_from_slice(a)),
            Event::Data(Bytes::copy_from_slice(b)),
            Event::end(),
        ];
        let out = run(input);
        let text: String = out.iter().filter_map(|e| e.strip_prefix("Data ")).collect();
        assert_eq!(text, "hello, weir");
        assert_eq!(out.iter().filter(|e| !e.starts_with("Data ")).collect::<Vec<_>>(), ["StreamEnd"]);
    }

    #[test]
    fn decompress_ends_with_a_protocol_error_on_a_cut_stream() {
        let packed = gzip(b"hello, weir");
        let cut = Bytes::copy_from_slice(&packed[..packed.len() - 4]);
        let out = run(vec![Event::Data(cut), Event::end()]);
        assert_eq!(out.last().map(String::as_str), Some("StreamEnd error"), "{out:?}");
    }
}
