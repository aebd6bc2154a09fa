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
use boa_engine::object::shape::Shape;
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
    /// The object behind the `headers` proxy, once a script asked for `headers`.
    headers_target: JsValue,
    #[unsafe_ignore_trace]
    touched: bool,
}

/// What the `headers` proxy serves reads from until a script does more than read.
#[derive(Trace, Finalize, JsData)]
struct HeadersData {
    #[unsafe_ignore_trace]
    source: Source,
    /// Copied into the target as plain properties: from then on the target is the truth.
    #[unsafe_ignore_trace]
    materialized: std::cell::Cell<bool>,
    #[unsafe_ignore_trace]
    written: std::cell::Cell<bool>,
}

thread_local! {
    static HANDLER: std::cell::RefCell<Option<JsObject>> = const { std::cell::RefCell::new(None) };
    /// The shape of an untouched object of each class [`pristine`] was asked about; held,
    /// so that no other shape can take its address.
    static SHAPES: std::cell::RefCell<Vec<(std::any::TypeId, Shape)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Forgets the handler and the shapes (at worker teardown).
pub fn uninstall() {
    HANDLER.with(|h| h.borrow_mut().take());
    SHAPES.with(|s| s.borrow_mut().clear());
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
    let obj = HttpHead::from_data(
        HttpHead { source, fields: Default::default(), headers_target: JsValue::undefined(), touched: false },
        ctx,
    )?;
    Ok(Some(obj.into()))
}

/// Takes back a head object a callback was given, to stand for the next head: `None` if
/// the script kept it (a reference besides `obj`), assigned a field, or added to, froze or
/// re-parented the object or its `headers`. A `headers` that was kept or written is
/// dropped and the head is still reused: the next head makes its own.
pub fn recycle(obj: JsObject, ctx: &mut Context) -> Option<JsObject> {
    if super::refs::strong_count(&obj) != Some(1) || !pristine::<HttpHead>(&obj, ctx) {
        return None;
    }
    let (proxy, target) = {
        let mut h = obj.downcast_mut::<HttpHead>()?;
        if h.touched {
            return None;
        }
        let proxy = std::mem::take(&mut h.fields[HEADERS]);
        h.fields = Default::default();
        (proxy, std::mem::take(&mut h.headers_target))
    };
    let (p, t) = (proxy.as_object(), target.as_object());
    drop((proxy, target));
    let (Some(proxy), Some(target)) = (p, t) else { return Some(obj) };
    // Ours: `proxy`, and `target` twice (here and inside the proxy).
    let kept = super::refs::strong_count(&proxy) != Some(1) || super::refs::strong_count(&target) != Some(2);
    let changed = target.downcast_ref::<HeadersData>().is_none_or(|d| d.materialized.get() || d.written.get())
        || !target.is_extensible(ctx).unwrap_or(false)
        || !same_prototype(&target, &ctx.intrinsics().constructors().object().prototype());
    if !kept && !changed {
        let mut h = obj.downcast_mut::<HttpHead>()?;
        h.fields[HEADERS] = proxy.into();
        h.headers_target = target.into();
    }
    Some(obj)
}

/// Points a head object [`recycle`] gave back at another Rust head. False for heads that
/// are not from the HTTP codec, which need an object of their own.
pub fn renew(obj: &JsObject, head: &Head) -> bool {
    let source = match head {
        Head::Request(r) => Source::Request(r.clone()),
        Head::Response(r) => Source::Response(r.clone()),
        _ => return false,
    };
    let Some(mut h) = obj.downcast_mut::<HttpHead>() else { return false };
    if let Some(target) = h.headers_target.as_object()
        && let Some(mut data) = target.downcast_mut::<HeadersData>()
    {
        data.source = source.clone();
    }
    h.source = source;
    true
}

/// Whether a native object of class `T` is as it was made: no own properties (its fields
/// are accessors on the prototype), still extensible, still on its class's prototype.
/// All such objects share one shape, which says the first two; the first object that
/// passes the long check gives the shape the others are compared with.
pub fn pristine<T: Class>(obj: &JsObject, ctx: &mut Context) -> bool {
    let (shape, indexed) = {
        let o = obj.borrow();
        (o.shape().to_addr_usize(), o.properties().index_property_keys().next().is_some())
    };
    if indexed || !obj.is_extensible(ctx).unwrap_or(false) {
        return false;
    }
    let id = std::any::TypeId::of::<T>();
    let known = SHAPES.with(|s| s.borrow().iter().find(|(t, _)| *t == id).map(|(_, s)| s.to_addr_usize()));
    if let Some(known) = known {
        return known == shape;
    }
    let Some(class) = ctx.get_global_class::<T>() else { return false };
    let plain = obj.own_property_keys(ctx).is_ok_and(|k| k.is_empty()) && same_prototype(obj, &class.prototype());
    if plain {
        SHAPES.with(|s| s.borrow_mut().push((id, obj.borrow().shape().clone())));
    }
    plain
}

fn same_prototype(obj: &JsObject, proto: &JsObject) -> bool {
    obj.prototype().is_some_and(|p| JsObject::equals(&p, proto))
}

/// The Rust head behind a JS head that no script changed.
pub fn untouched(v: &JsValue) -> Option<Head> {
    let obj = v.as_object()?;
    let h = obj.downcast_ref::<HttpHead>()?;
    let written =
        h.headers_target.as_object().is_some_and(|t| t.downcast_ref::<HeadersData>().is_some_and(|d| d.written.get()));
    if h.touched || written {
        return None;
    }
    Some(match &h.source {
        Source::Request(r) => Head::Request(r.clone()),
        Source::Response(r) => Head::Response(r.clone()),
    })
}

fn read(h: &HttpHead, i: usize) -> JsValue {
    // The usual methods and protocols are static strings: no allocation per message.
    let s = |t: &str| {
        JsValue::from(match t {
            "GET" => js_string!("GET"),
            "POST" => js_string!("POST"),
            "HTTP/1.1" => js_string!("HTTP/1.1"),
            "OK" => js_string!("OK"),
            _ => JsString::from(t),
        })
    };
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
    if i == HEADERS {
        let (proxy, target) = headers_proxy(source, ctx)?;
        let mut h = obj.downcast_mut::<HttpHead>().ok_or_else(|| type_error("not an HTTP head"))?;
        h.fields[HEADERS] = proxy.clone();
        h.headers_target = target.into();
        return Ok(proxy);
    }
    let list = match &source {
        Source::Request(r) => &r.headers,
        Source::Response(r) => &r.headers,
    };
    let (_, names) = super::message::headers_to_js(list, ctx)?;
    let mut h = obj.downcast_mut::<HttpHead>().ok_or_else(|| type_error("not an HTTP head"))?;
    h.fields[HEADER_NAMES] = names.clone().into();
    Ok(names.into())
}

/// `headers` as a Proxy: reading a header converts just that value; anything else a
/// script does (write, enumerate, delete) first copies every header into the target.
fn headers_proxy(source: Source, ctx: &mut Context) -> JsResult<(JsValue, JsObject)> {
    let data = HeadersData { source, materialized: Default::default(), written: Default::default() };
    let target = JsObject::from_proto_and_data(ctx.intrinsics().constructors().object().prototype(), data);
    let handler = match HANDLER.with(|h| h.borrow().clone()) {
        Some(h) => h,
        None => {
            let h = make_handler(ctx)?;
            HANDLER.with(|slot| *slot.borrow_mut() = Some(h.clone()));
            h
        }
    };
    let proxy = ctx.intrinsics().constructors().proxy().constructor().construct(
        &[target.clone().into(), handler.into()],
        None,
        ctx,
    )?;
    Ok((proxy.into(), target))
}

/// The proxy handler, made once per thread: `get` in Rust (the hot path), the other traps
/// in JS after a native `materialize`.
fn make_handler(ctx: &mut Context) -> JsResult<JsObject> {
    let make = ctx.eval(boa_engine::Source::from_bytes(
        r#"(function (materialize, get) { return {
            get: get,
            set(t, k, v) { materialize(t, true); t[k] = v; return true },
            has(t, k) { materialize(t, false); return k in t },
            ownKeys(t) { materialize(t, false); return Reflect.ownKeys(t) },
            getOwnPropertyDescriptor(t, k) { materialize(t, false); return Reflect.getOwnPropertyDescriptor(t, k) },
            defineProperty(t, k, d) { materialize(t, true); return Reflect.defineProperty(t, k, d) },
            deleteProperty(t, k) { materialize(t, true); return delete t[k] },
        } })"#,
    ))?;
    let make = make.as_callable().ok_or_else(|| type_error("headers handler"))?;
    let materialize = NativeFunction::from_fn_ptr(|_, args, ctx| {
        let target = args.first().and_then(|t| t.as_object()).ok_or_else(|| type_error("headers target"))?;
        let write = args.get(1).is_some_and(|w| w.to_boolean());
        materialize(&target, write, ctx)?;
        Ok(JsValue::undefined())
    })
    .to_js_function(ctx.realm());
    let get = NativeFunction::from_fn_ptr(|_, args, ctx| {
        let target = args.first().and_then(|t| t.as_object()).ok_or_else(|| type_error("headers target"))?;
        let key = args.get(1).cloned().unwrap_or_default();
        let found = {
            let data = target.downcast_ref::<HeadersData>().ok_or_else(|| type_error("headers target"))?;
            match (data.materialized.get(), key.as_string()) {
                (false, Some(name)) => match name.variant() {
                    // Header names are ASCII: read them in place, without a copy.
                    boa_engine::string::JsStrVariant::Latin1(b) if b.is_ascii() => {
                        Some(lookup(&data.source, std::str::from_utf8(b).unwrap_or_default(), ctx)?)
                    }
                    _ => Some(lookup(&data.source, &name.to_std_string_escaped(), ctx)?),
                },
                _ => None,
            }
        };
        match found {
            Some(v) => Ok(v),
            None => target.get(key.to_property_key(ctx)?, ctx),
        }
    })
    .to_js_function(ctx.realm());
    let handler = make.call(&JsValue::undefined(), &[materialize.into(), get.into()], ctx)?;
    handler.as_object().ok_or_else(|| type_error("headers handler"))
}

/// One header as Pipy shows it: `cookie`/`set-cookie` as arrays, the last of other repeats,
/// no `connection`.
fn lookup(source: &Source, name: &str, ctx: &mut Context) -> JsResult<JsValue> {
    let list = match source {
        Source::Request(r) => &r.headers,
        Source::Response(r) => &r.headers,
    };
    if name.eq_ignore_ascii_case("connection") || name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Ok(JsValue::undefined());
    }
    if name == "cookie" || name == "set-cookie" {
        let values: Vec<JsValue> = list
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| JsString::from(h.value.as_str()).into())
            .collect();
        if values.is_empty() {
            return Ok(JsValue::undefined());
        }
        return Ok(boa_engine::object::builtins::JsArray::from_iter(values, ctx).into());
    }
    Ok(list
        .iter()
        .rev()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| JsString::from(h.value.as_str()).into())
        .unwrap_or_default())
}

fn materialize(target: &JsObject, write: bool, ctx: &mut Context) -> JsResult<()> {
    let source = {
        let data = target.downcast_ref::<HeadersData>().ok_or_else(|| type_error("headers target"))?;
        if write {
            data.written.set(true);
        }
        if data.materialized.replace(true) {
            return Ok(());
        }
        data.source.clone()
    };
    let list = match &source {
        Source::Request(r) => &r.headers,
        Source::Response(r) => &r.headers,
    };
    let (headers, _) = super::message::headers_to_js(list, ctx)?;
    for key in super::print::enumerable_keys(&headers, ctx)? {
        let v = headers.get(key.clone(), ctx)?;
        target.create_data_property_or_throw(key, v, ctx)?;
    }
    Ok(())
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
