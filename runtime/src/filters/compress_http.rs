//! `compressHTTP(algorithm | fn)`: compresses the body of each message that has no
//! `content-encoding` yet with `'gzip'` or `'deflate'` (zlib) and sets that header. `fn(
//! messageStart)` picks the algorithm per message (nothing: leave it as it is). The body is
//! compressed as it streams by; events outside messages pass unchanged.

use boa_engine::{Context, JsObject, JsResult, JsValue};

use super::Made;
use super::compress::is_compressor as compressor;
use super::content_encoding;
use crate::codec::compress::{Algorithm, Deflater};
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, host};
use crate::js;

#[derive(Clone)]
enum Choice {
    Fixed(Algorithm),
    Dynamic(JsObject),
}

pub fn make(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    let choice = match args.first() {
        Some(v) if v.as_object().is_some_and(|o| o.is_callable()) => Choice::Dynamic(v.as_object().unwrap().clone()),
        Some(v) if v.is_string() => {
            let name = v.to_string(ctx)?.to_std_string_escaped();
            Choice::Fixed(compressor(&name).ok_or_else(|| {
                js::type_error(format!("compressHTTP(): unknown algorithm {name:?} (use 'gzip' or 'deflate')"))
            })?)
        }
        _ => return Err(js::type_error("compressHTTP() takes 'gzip', 'deflate' or a function returning one")),
    };
    Ok(Made::Filter(Box::new(Spec { choice })))
}

struct Spec {
    choice: Choice,
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
    choice: Choice,
    env: FilterEnv,
    deflater: Option<Deflater>,
    in_message: bool,
    ended: bool,
}

impl CompressHttp {
    /// The algorithm for this message, and the head as it goes on.
    fn choose(&self, head: Head) -> Result<(Option<Algorithm>, Head), String> {
        match &self.choice {
            Choice::Fixed(a) => Ok((Some(*a), head)),
            Choice::Dynamic(f) => {
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
