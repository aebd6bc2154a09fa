//! `algo.Quota(initial, { per, max, produce, key })`: a token bucket, as in Pipy.
//!
//! `consume(n)` takes up to `n` tokens and returns how many it got. The first consumption
//! after a refill arms a timer: `per` seconds later the bucket is refilled to `initial` (or
//! by `produce` at most, the timer then staying armed until it is full). `max` caps
//! `produce(n)`. Consumers that could not get what they wanted wait in a queue and are
//! resumed in order whenever tokens come back (the throttle filters wait here). The bucket
//! itself is `engine::quota`, which the filters use at traffic time.

use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::{arg, method};
use crate::engine::quota::{Bucket, Tokens};
use crate::js::type_error;

/// The bucket of an `algo.Quota` object.
pub fn bucket_of(v: &JsValue) -> Option<Rc<Bucket>> {
    v.as_object()?.downcast_ref::<Quota>().map(|q| q.bucket.clone())
}

#[derive(Trace, Finalize, JsData)]
pub struct Quota {
    #[unsafe_ignore_trace]
    bucket: Rc<Bucket>,
}

impl Class for Quota {
    const NAME: &'static str = "Quota";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let initial = arg(args, 0).to_number(ctx)?;
        let mut t = Tokens::new(initial);
        let mut key = None;
        if let Some(o) = arg(args, 1).as_object() {
            let get = |name: &str, ctx: &mut Context| o.get(JsString::from(name), ctx);
            let v = get("max", ctx)?;
            if !v.is_null_or_undefined() {
                t = t.max(v.to_number(ctx)?);
            }
            let v = get("produce", ctx)?;
            if !v.is_null_or_undefined() {
                t = t.produce_per_refill(v.to_number(ctx)?);
            }
            let v = get("per", ctx)?;
            if !v.is_null_or_undefined() {
                t = t.per(Some(crate::options::duration(&v, ctx)?).filter(|d| !d.is_zero()));
            }
            let v = get("key", ctx)?;
            if !v.is_null_or_undefined() {
                key = Some(v.to_string(ctx)?.to_std_string_escaped());
            }
        }
        Ok(Quota { bucket: Bucket::new(t, key.as_deref()) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let getter = |f: fn(&Bucket) -> f64| {
            NativeFunction::from_copy_closure(move |this, _, _| Ok(with_bucket(this, f)?.into())).to_js_function(&realm)
        };
        class.accessor(js_string!("initial"), Some(getter(Bucket::initial)), None, Attribute::CONFIGURABLE);
        class.accessor(js_string!("current"), Some(getter(Bucket::current)), None, Attribute::CONFIGURABLE);
        method(
            class,
            "consume",
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let n = arg(args, 0).to_number(ctx)?;
                Ok(with_bucket(this, |b| b.consume(n))?.into())
            }),
        );
        method(
            class,
            "produce",
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let n = arg(args, 0).to_number(ctx)?;
                with_bucket(this, |b| b.produce(n))?;
                Ok(JsValue::undefined())
            }),
        );
        method(
            class,
            "reset",
            0,
            NativeFunction::from_fn_ptr(|this, _, _| {
                with_bucket(this, |b| b.reset())?;
                Ok(JsValue::undefined())
            }),
        );
        Ok(())
    }
}

fn with_bucket<R>(this: &JsValue, f: impl FnOnce(&Bucket) -> R) -> JsResult<R> {
    bucket_of(this).map(|b| f(&b)).ok_or_else(|| type_error("not an algo.Quota"))
}
