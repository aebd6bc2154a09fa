//! A pipeline template's `spawn(...args)` and `process(events | generator | promise)`: one
//! pipeline of the template, run on its own (no connection), alive until its output ends.
//! Both return a promise resolved then.
//!
//! The pipeline starts from its own task, after the call returns: templates are spawned
//! while the script is still being evaluated, when the script engine cannot be re-entered
//! for the template's `onStart`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use boa_engine::object::builtins::{JsFunction, JsPromise};
use boa_engine::{Context, JsObject, JsResult, JsValue};
use tokio::sync::oneshot;

use super::{type_error, with_js};
use crate::engine::busy::Busy;
use crate::engine::{self, Event, Layout, Pipeline, host};

/// What `process` feeds the pipeline.
enum Feed {
    /// Called again and again; each result (or what its promise resolves to) is fed, until
    /// one is `undefined`/`null` or is not events.
    Generator(JsObject),
    Promise(JsValue),
    Events(JsValue),
}

/// The pipeline's end, as its sink sees it.
struct End {
    ended: Cell<bool>,
    tx: RefCell<Option<oneshot::Sender<()>>>,
}

fn run(layout: Rc<Layout>, start: Vec<JsValue>, feed: Option<Feed>, ctx: &mut Context) -> JsValue {
    let (promise, resolvers) = JsPromise::new_pending(ctx);
    tokio::task::spawn_local(async move {
        let (tx, rx) = oneshot::channel();
        let end = Rc::new(End { ended: Cell::new(false), tx: RefCell::new(Some(tx)) });
        let sink = end.clone();
        let sink = move |evt: Event| {
            if evt.is_stream_end() && !sink.ended.replace(true) {
                sink.tx.borrow_mut().take().map(|tx| tx.send(()));
            }
        };
        let context = super::state::root().copy(None);
        let p = Pipeline::new(layout, context.clone(), Rc::new(sink));
        p.start(&start);
        if let Some(feed) = feed {
            feed_all(&p, &context, feed, &end).await;
        }
        let _ = rx.await;
        drop(p);
        resolve(&context, resolvers.resolve);
    });
    promise.into()
}

fn resolve(context: &Rc<engine::Context>, f: JsFunction) {
    super::in_context(context, || {
        with_js(|ctx| {
            let _ = f.call(&JsValue::undefined(), &[], ctx);
            let _ = ctx.run_jobs();
        })
    });
}

/// What a promise settles to, and the work that is under way again from then on.
async fn settled(v: JsValue, context: &Rc<engine::Context>) -> (Result<JsValue, String>, Option<Busy>) {
    let (tx, rx) = oneshot::channel();
    host().on_settled(&v, context, Box::new(move |r| drop(tx.send((r, Busy::new())))));
    match rx.await {
        Ok((r, busy)) => (r, Some(busy)),
        Err(_) => (Err("promise dropped".into()), None),
    }
}

/// Feeds the events `v` stands for; false when it stands for none.
fn feed_one(p: &Pipeline, v: &JsValue) -> bool {
    if v.is_null_or_undefined() {
        return false;
    }
    match host().to_events(v) {
        Ok(events) => {
            events.into_iter().for_each(|e| p.input(e));
            true
        }
        Err(e) => {
            tracing::error!(target: "pipeline", "process: {e}");
            false
        }
    }
}

async fn feed_all(p: &Pipeline, context: &Rc<engine::Context>, feed: Feed, end: &End) {
    let f = match feed {
        Feed::Events(v) => {
            feed_one(p, &v);
            return;
        }
        Feed::Promise(v) => {
            if let (Ok(v), _busy) = settled(v, context).await {
                feed_one(p, &v);
            }
            return;
        }
        Feed::Generator(f) => f,
    };
    // Held from a settled promise until the generator hands out the next pending one, so that
    // a worker stopping meanwhile lets the pipeline take what is ready (see engine::busy).
    let mut busy = None;
    while !end.ended.get() {
        let mut v = match host().call(context, &f, &[]) {
            Ok(v) => v,
            Err(e) => return tracing::error!(target: "pipeline", "process: {e}"),
        };
        if host().is_promise(&v) {
            drop(busy.take());
            let (r, b) = settled(v, context).await;
            busy = b;
            match r {
                Ok(r) => v = r,
                Err(e) => return tracing::error!(target: "pipeline", "process: {e}"),
            }
        } else {
            // A generator that never waits must not keep the thread from its other work.
            tokio::task::yield_now().await;
        }
        if end.ended.get() || !feed_one(p, &v) {
            return;
        }
    }
}

fn layout_of(this: &JsValue) -> JsResult<Rc<Layout>> {
    super::pipeline::template_layout(this).ok_or_else(|| type_error("not a pipeline template"))
}

/// `template.spawn(...args)`: `args` go to the template's `onStart`.
pub fn spawn(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    Ok(run(layout_of(this)?, args.to_vec(), None, ctx))
}

/// `template.process(events | () => events | promise)`.
pub fn process(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let layout = layout_of(this)?;
    let v = args.first().cloned().unwrap_or_default();
    let feed = match v.as_object() {
        Some(o) if o.is_callable() => Feed::Generator(o.clone()),
        Some(_) if super::promise::is_promise(&v) => Feed::Promise(v),
        _ => {
            if let Err(e) = super::events::from_value(&v, ctx) {
                return Err(type_error(format!("process() takes events, a function or a promise: {e}")));
            }
            Feed::Events(v)
        }
    };
    Ok(run(layout, Vec::new(), Some(feed), ctx))
}
