//! HTTP heads as scripts see them, made lazily.
//!
//! Decoders hand over Rust heads. Building a full JS object for every head costs several
//! microseconds and feeds Boa's stop-the-world GC (see `shared/spec/boa-callback.md`), and
//! most callbacks read two or three fields. So a head is one small native object whose
//! getters convert only the field read; `headers` becomes a plain object the first time it
//! is touched. Fields a script assigns are kept on the object; a head nobody changed goes
//! back into the pipeline as the original Rust head, with no conversion.

use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::type_error;
use crate::codec::http1::{RequestHead, ResponseHead};
use crate::engine::Head;

#[derive(Clone)]
enum Source {
    Request(Rc<RequestHead>),
    Response(Rc<ResponseHead>),
}

#[derive(Trace, Finalize, JsData)]
pub struct HttpHead {
    #[unsafe_ignore_trace]
    source: Source,
    /// Values a script assigned, or `headers`/`headerNames` once materialised; undefined
    /// means "read from the Rust head".
    fields: [JsValue; FIELDS.len()],
    #[unsafe_ignore_trace]
    touched: bool,
}

const FIELDS: [&str; 7] = ["method", "path", "protocol", "status", "statusText", "headers", "headerNames"];
const HEADERS: usize = 5;
const HEADER_NAMES: usize = 6;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<HttpHead>()
}

/// A lazy JS head for a Rust head.
pub fn to_js(head: &Head, ctx: &mut Context) -> JsResult<Option<JsValue>> {
    let source = match head {
        Head::Request(r) => Source::Request(r.clone()),
        Head::Response(r) => Source::Response(r.clone()),
        _ => return Ok(None),
    };
    let obj = HttpHead::from_data(HttpHead { source, fields: Default::default(), touched: false }, ctx)?;
    Ok(Some(obj.into()))
}

/// The Rust head behind a JS head that no script changed.
pub fn untouched(v: &JsValue) -> Option<Head> {
    let obj = v.as_object()?;
    let h = obj.downcast_ref::<HttpHead>()?;
    if h.touched {
        return None;
    }
    Some(match &h.source {
        Source::Request(r) => Head::Request(r.clone()),
        Source::Response(r) => Head::Response(r.clone()),
    })
}

fn read(h: &HttpHead, i: usize) -> JsValue {
    let s = |t: &str| JsValue::from(JsString::from(t));
    match (&h.source, FIELDS[i]) {
        (Source::Request(r), "method") => s(&r.method),
        (Source::Request(r), "path") => s(&r.path),
        (Source::Request(r), "protocol") => s(&r.protocol),
        (Source::Response(r), "protocol") => s(&r.protocol),
        (Source::Response(r), "status") => JsValue::from(r.status),
        (Source::Response(r), "statusText") => s(&r.status_text),
        _ => JsValue::undefined(),
    }
}

fn get(this: &JsValue, i: usize, ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this.as_object().ok_or_else(|| type_error("not an HTTP head"))?;
    let (cached, source) = {
        let h = obj.downcast_ref::<HttpHead>().ok_or_else(|| type_error("not an HTTP head"))?;
        if !h.fields[i].is_undefined() {
            return Ok(h.fields[i].clone());
        }
        if i != HEADERS && i != HEADER_NAMES {
            return Ok(read(&h, i));
        }
        (h.fields[i].clone(), h.source.clone())
    };
    debug_assert!(cached.is_undefined());
    let list = match &source {
        Source::Request(r) => &r.headers,
        Source::Response(r) => &r.headers,
    };
    let (headers, names) = super::message::headers_to_js(list, ctx)?;
    let mut h = obj.downcast_mut::<HttpHead>().ok_or_else(|| type_error("not an HTTP head"))?;
    // A script holding `headers` may change it, so the head no longer counts as untouched.
    h.touched = true;
    h.fields[HEADERS] = headers.clone().into();
    h.fields[HEADER_NAMES] = names.clone().into();
    Ok(if i == HEADERS { headers.into() } else { names.into() })
}

fn set(this: &JsValue, i: usize, value: JsValue) -> JsResult<JsValue> {
    let obj = this.as_object().ok_or_else(|| type_error("not an HTTP head"))?;
    let mut h = obj.downcast_mut::<HttpHead>().ok_or_else(|| type_error("not an HTTP head"))?;
    h.fields[i] = value;
    h.touched = true;
    Ok(JsValue::undefined())
}

/// The head as a plain object with every field (for `toJSON` and the dump format).
pub fn to_plain(obj: &JsObject, ctx: &mut Context) -> JsResult<JsObject> {
    let this: JsValue = obj.clone().into();
    let is_request = matches!(obj.downcast_ref::<HttpHead>().map(|h| h.source.clone()), Some(Source::Request(_)));
    let names: &[usize] = if is_request { &[2, 0, 1, 5, 6] } else { &[2, 3, 4, 5, 6] };
    let mut init = ObjectInitializer::new(ctx);
    let mut values = Vec::new();
    for &i in names {
        values.push((i, get(&this, i, init.context())?));
    }
    for (i, v) in values {
        init.property(JsString::from(FIELDS[i]), v, Attribute::all());
    }
    Ok(init.build())
}

macro_rules! accessors {
    ($class:ident, $($i:literal),*) => {{
        let realm = $class.context().realm().clone();
        $(
            let getter = NativeFunction::from_fn_ptr(|this, _, ctx| get(this, $i, ctx)).to_js_function(&realm);
            let setter = NativeFunction::from_fn_ptr(|this, args, _| set(this, $i, args.first().cloned().unwrap_or_default()))
                .to_js_function(&realm);
            $class.accessor(JsString::from(FIELDS[$i]), Some(getter), Some(setter), Attribute::CONFIGURABLE | Attribute::ENUMERABLE);
        )*
    }};
}

impl Class for HttpHead {
    const NAME: &'static str = "HttpHead";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("HTTP heads are made by the HTTP decoders; use a plain object"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        accessors!(class, 0, 1, 2, 3, 4, 5, 6);
        class.method(
            js_string!("toJSON"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let obj = this.as_object().ok_or_else(|| type_error("not an HTTP head"))?;
                Ok(to_plain(&obj, ctx)?.into())
            }),
        );
        Ok(())
    }
}
