//! `decompress(algorithm | fn)`: decompresses the `Data` of the stream: `'gzip'`,
//! `'inflate'` or `'deflate'` (zlib), `'brotli'` or `'br'`. As in Pipy, other events but the
//! `StreamEnd` are dropped. `fn()` is called at the first event for the algorithm.
//!
//! Corrupt input, or input that ends before the compressed stream does, ends the stream with
//! a `ProtocolError` StreamEnd and a log line.

use boa_engine::{Context, JsObject, JsResult, JsValue};

use super::Made;
use crate::codec::compress::{Algorithm, Inflater};
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output, host};
use crate::js;

/// An algorithm given as a name, or by a function called at the first event.
#[derive(Clone)]
pub enum Choice {
    Fixed(Algorithm),
    Dynamic(JsObject),
}

impl Choice {
    pub fn parse(
        filter: &str,
        args: &[JsValue],
        ctx: &mut Context,
        known: fn(&str) -> Option<Algorithm>,
    ) -> JsResult<Choice> {
        match args.first() {
            Some(v) if v.as_object().is_some_and(|o| o.is_callable()) => {
                Ok(Choice::Dynamic(v.as_object().unwrap().clone()))
            }
            Some(v) if v.is_string() => {
                let name = v.to_string(ctx)?.to_std_string_escaped();
                let a = known(&name)
                    .ok_or_else(|| js::type_error(format!("{filter}(): unknown compression algorithm: {name}")))?;
                Ok(Choice::Fixed(a))
            }
            _ => Err(js::type_error(format!("{filter}() takes an algorithm name or a function returning one"))),
        }
    }

    pub fn resolve(
        &self,
        filter: &str,
        env: &FilterEnv,
        known: fn(&str) -> Option<Algorithm>,
    ) -> Result<Algorithm, String> {
        match self {
            Choice::Fixed(a) => Ok(*a),
            Choice::Dynamic(f) => {
                let host = host();
                let name = host.call(&env.context, f, &[]).and_then(|v| host.to_text(&v))?;
                known(&name).ok_or_else(|| format!("{filter}(): unknown compression algorithm: {name}"))
            }
        }
    }
}

pub fn make(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    let choice = Choice::parse("decompress", args, ctx, Algorithm::from_name)?;
    Ok(Made::Filter(Box::new(Spec { choice })))
}

struct Spec {
    choice: Choice,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decompress"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Decompress { choice: self.choice.clone(), env, inflater: None, started: false, ended: false })
    }
}

struct Decompress {
    choice: Choice,
    env: FilterEnv,
    inflater: Option<Inflater>,
    started: bool,
    ended: bool,
}

impl Filter for Decompress {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if !self.started {
            self.started = true;
            match self.choice.resolve("decompress", &self.env, Algorithm::from_name) {
                Ok(a) => self.inflater = Some(Inflater::new(a)),
                Err(e) => {
                    tracing::error!(target: "pipeline", "{e}");
                    self.ended = true;
                    return out.emit(runtime_error(e));
                }
            }
        }
        let Some(inflater) = &mut self.inflater else { return };
        let mut chunks = Vec::new();
        let result = match &evt {
            Event::Data(b) => inflater.feed(b, &mut |c| chunks.push(c)),
            // A stream that broke off ends with its own error, not a complaint about the data.
            Event::StreamEnd(None) => inflater.finish(),
            _ => Ok(()),
        };
        chunks.into_iter().for_each(|c| out.emit(Event::Data(c)));
        match result {
            Err(e) => {
                tracing::error!(target: "pipeline", "decompress: corrupt input: {e}");
                self.ended = true;
                out.emit(Event::error("ProtocolError"));
            }
            Ok(()) if evt.is_stream_end() => {
                self.ended = true;
                out.emit(evt);
            }
            Ok(()) => {}
        }
    }
}
