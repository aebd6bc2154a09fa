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
