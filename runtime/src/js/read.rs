//! `pipy.read(filename, builder [, startArg])`: feeds a file's bytes through a pipeline and
//! ends its stream, as Pipy's test harnesses do (`pipy.read('input', $=>$.decodeX().tee('-'))`).
//! The promise it returns settles once the pipeline's output ended.

use std::cell::Cell;
use std::io::Read;
use std::path::PathBuf;
use std::rc::Rc;

use boa_engine::object::builtins::JsPromise;
use boa_engine::{Context, JsResult, JsString, JsValue};
use bytes::Bytes;
use tokio::sync::Notify;

use super::{arg_str, in_context, state, type_error, with_js};
use crate::engine::{Event, Pipeline};

/// How much of the file goes into one `Data`: a socket read's worth.
const CHUNK: usize = 16 * 1024;

pub fn read(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let name = arg_str(args, 0).ok_or_else(|| type_error("pipy.read() takes a file name"))?;
    let builder = args.get(1).cloned().unwrap_or_default();
    let layout = match super::pipeline::template_layout(&builder) {
        Some(l) => l,
        None if builder.as_object().is_some_and(|o| o.is_callable()) => {
            super::designer::build(&format!("Read {name}"), &builder, ctx)?
        }
        None => return Err(type_error("pipy.read() takes a function or a pipeline template")),
    };
    let start: Vec<JsValue> = args.get(2).cloned().into_iter().collect();
    let (promise, resolvers) = JsPromise::new_pending(ctx);
    let context = state::root().copy(None);
    // Relative to the working directory, as Pipy opens it (not to the script's folder).
    let path = PathBuf::from(&name);
    tokio::task::spawn_local(async move {
        let result = feed(path, layout, context.clone(), &start).await;
        in_context(&context, || {
            with_js(|ctx| {
                let _ = match result {
                    Ok(()) => resolvers.resolve.call(&JsValue::undefined(), &[], ctx),
                    Err(e) => {
                        let msg = JsValue::from(JsString::from(format!("cannot open file: {name}: {e}")));
                        resolvers.reject.call(&JsValue::undefined(), &[msg], ctx)
                    }
                };
                let _ = ctx.run_jobs();
            })
        });
    });
    Ok(promise.into())
}

/// Runs the pipeline over the file's bytes and waits until its output ended.
async fn feed(
    path: PathBuf,
    layout: Rc<crate::engine::Layout>,
    context: Rc<crate::engine::Context>,
    start: &[JsValue],
) -> std::io::Result<()> {
    // A regular file's read does not wait on a peer; yielding between pieces lets the
    // worker's other tasks run.
    let mut file = std::fs::File::open(&path)?;
    let ended = Rc::new(Cell::new(false));
    let done = Rc::new(Notify::new());
    let (e, d) = (ended.clone(), done.clone());
    let sink = Rc::new(move |evt: Event| {
        if evt.is_stream_end() {
            e.set(true);
            d.notify_one();
        }
    });
    let pipeline = Pipeline::new(layout, context, sink);
    pipeline.start(start);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                pipeline.input(Event::error("ReadError"));
                return Err(e);
            }
        };
        if n == 0 {
            break;
        }
        pipeline.input(Event::Data(Bytes::copy_from_slice(&buf[..n])));
        tokio::task::yield_now().await;
    }
    pipeline.input(Event::end());
    // Output may still come from tasks the filters started (a promise, a sub-pipeline).
    if !ended.get() {
        done.notified().await;
    }
    Ok(())
}
