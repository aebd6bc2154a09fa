//! HTTP heads as scripts see them, made cheaply and reused.
//!
//! Decoders hand over Rust heads. Building a full JS object for every head costs several
//! microseconds and feeds Boa's stop-the-world GC (see `shared/spec/boa-callback.md`), and
//! most callbacks read two or three fields. So a head is a native `HttpHead` object with no
//! own properties whose prototype, a plain object of its own (the *holder*), carries the
//! fields as data properties: reads are plain property reads that Boa's inline caches serve,
//! no native call. The holder's prototype is `HttpHead.prototype` (`toJSON`, `headerNames`).
//! `headers` reads its values lazily (see `headers.rs`).
//!
//! A script that assigns a field (`head.path = '/x'`) creates an own property on the head,
//! which changes its shape: one address compare tells that a head is untouched, and a head
//! nobody changed goes back into the pipeline as the original Rust head, with no conversion.
//! A head object a callback did not keep is pointed at the next head ([`renew`]), which
//! rewrites only the holder fields that differ. Writes that bypass the head and go to the
//! holder itself (`Object.getPrototypeOf(head).path = ...`) are not noticed.

use std::rc::Rc;

use boa_engine::builtins::object::OrdinaryObject;
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::ObjectInitializer;
use boa_engine::object::shape::Shape;
use boa_engine::property::{Attribute, PropertyDescriptor};
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::type_error;
use crate::codec::http1::{Header, RequestHead, ResponseHead};
use crate::engine::Head;

#[derive(Clone)]
pub enum Source {
    Request(Rc<RequestHead>),
    Response(Rc<ResponseHead>),
}

impl Source {
    fn of(head: &Head) -> Option<Source> {
        match head {
            Head::Request(r) => Some(Source::Request(r.clone())),
            Head::Response(r) => Some(Source::Response(r.clone())),
            _ => None,
        }
    }

    pub fn headers(&self) -> &[Header] {
        match self {
            Source::Request(r) => &r.headers,
            Source::Response(r) => &r.headers,
        }
    }

    fn head(&self) -> Head {
        match self {
            Source::Request(r) => Head::Request(r.clone()),
            Source::Response(r) => Head::Response(r.clone()),
        }
    }
}

#[derive(Trace, Finalize, JsData)]
pub struct HttpHead {
    #[unsafe_ignore_trace]
    source: Source,
    /// The prototype that carries the fields.
    holder: JsObject,
    /// The `headers` object the holder carries.
    headers: JsObject,
    /// The script kept `headers`: the holder's must be replaced before the object serves
    /// another head.
    #[unsafe_ignore_trace]
    stale_headers: bool,
    /// `headerNames`, once asked for.
    header_names: JsValue,
    /// The object's shape as made: no own property, on its holder.
    shape: Option<Shape>,
}

/// Forgets what the thread made for heads (at worker teardown).
pub fn uninstall() {
    super::headers::uninstall();
}

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<HttpHead>()?;
    super::headers::register(ctx)
}

/// The fields of a head, in Pipy's order (as `JSON.stringify` shows them); `headers` last.
fn field_names(source: &Source) -> [JsString; 4] {
    match source {
        Source::Request(_) => [js_string!("protocol"), js_string!("method"), js_string!("path"), js_string!("headers")],
        Source::Response(_) => {
            [js_string!("protocol"), js_string!("status"), js_string!("statusText"), js_string!("headers")]
        }
    }
}

/// The value of field `i` of [`field_names`]; `headers` is not one of them.
fn field(source: &Source, i: usize) -> JsValue {
    // The usual methods, protocols and reasons are static strings: no allocation per message.
    let s = |t: &str| {
        JsValue::from(match t {
            "GET" => js_string!("GET"),
            "POST" => js_string!("POST"),
            "HTTP/1.1" => js_string!("HTTP/1.1"),
            "OK" => js_string!("OK"),
            _ => JsString::from(t),
        })
    };
    match (source, i) {
        (Source::Request(r), 0) => s(&r.protocol),
        (Source::Request(r), 1) => s(&r.method),
        (Source::Request(r), 2) => s(&r.path),
        (Source::Response(r), 0) => s(&r.protocol),
        (Source::Response(r), 1) => JsValue::from(r.status),
        (Source::Response(r), 2) => s(&r.status_text),
        _ => JsValue::undefined(),
    }
}

/// Whether field `i` differs between two heads of the same kind.
fn differs(a: &Source, b: &Source, i: usize) -> bool {
    match (a, b, i) {
        (Source::Request(a), Source::Request(b), 0) => a.protocol != b.protocol,
        (Source::Request(a), Source::Request(b), 1) => a.method != b.method,
        (Source::Request(a), Source::Request(b), 2) => a.path != b.path,
        (Source::Response(a), Source::Response(b), 0) => a.protocol != b.protocol,
        (Source::Response(a), Source::Response(b), 1) => a.status != b.status,
        (Source::Response(a), Source::Response(b), 2) => a.status_text != b.status_text,
        _ => true,
    }
}

fn data_property(value: impl Into<JsValue>) -> PropertyDescriptor {
    PropertyDescriptor::builder().value(value).writable(true).enumerable(true).configurable(true).build()
}

/// A JS head for a Rust head from the HTTP codec; `None` for other heads.
pub fn to_js(head: &Head, ctx: &mut Context) -> JsResult<Option<JsValue>> {
    let Some(source) = Source::of(head) else { return Ok(None) };
    let class = ctx.get_global_class::<HttpHead>().ok_or_else(|| type_error("HttpHead is not registered"))?;
    let holder = JsObject::from_proto_and_data(class.prototype(), OrdinaryObject);
    let headers = super::headers::make(source.clone(), ctx)?;
    for (i, name) in field_names(&source).into_iter().enumerate() {
        let value = if i == 3 { headers.clone().into() } else { field(&source, i) };
        holder.insert_property(name, data_property(value));
    }
    let data = HttpHead {
        source,
        holder: holder.clone(),
        headers,
        stale_headers: false,
        header_names: JsValue::undefined(),
        shape: None,
    };
    let obj = HttpHead::from_data(data, ctx)?;
    obj.set_prototype(Some(holder));
    let shape = obj.borrow().shape().clone();
    if let Some(mut h) = obj.downcast_mut::<HttpHead>() {
        h.shape = Some(shape);
    }
    Ok(Some(obj.into()))
}

/// Which kind of head a head object stands for, as far as reuse goes: [`renew`] points a
/// head object only at a head of its own kind.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Request,
    Response,
    Other,
}

/// The kind of a Rust head.
pub fn kind(head: &Head) -> Kind {
    match head {
        Head::Request(_) => Kind::Request,
        Head::Response(_) => Kind::Response,
        _ => Kind::Other,
    }
}

/// The kind of a head object (`Other` for anything but an `HttpHead`).
pub fn kind_of(obj: &JsObject) -> Kind {
    obj.downcast_ref::<HttpHead>().map_or(Kind::Other, |h| match h.source {
        Source::Request(_) => Kind::Request,
        Source::Response(_) => Kind::Response,
    })
}

/// Whether the head object has no own property and is still on its holder (the shape says
/// both).
fn as_made(obj: &JsObject, h: &HttpHead) -> bool {
    let o = obj.borrow();
    h.shape.as_ref().is_some_and(|s| s.to_addr_usize() == o.shape().to_addr_usize())
        && o.properties().index_property_keys().next().is_none()
}

/// Takes back a head object a callback was given, to stand for the next head: `None` if
/// the script kept it (more than the `refs` strong references the caller knows of, the
/// handle passed in included), or gave it own properties, or froze it. A `headers` object
/// that was kept is marked for replacement and the head is still reused.
pub fn recycle(obj: JsObject, refs: u32, ctx: &mut Context) -> Option<JsObject> {
    if super::refs::strong_count(&obj) != Some(refs) || !obj.is_extensible(ctx).unwrap_or(false) {
        return None;
    }
    let headers = {
        let h = obj.downcast_ref::<HttpHead>()?;
        if !as_made(&obj, &h) {
            return None;
        }
        h.headers.clone()
    };
    // Ours: the holder's slot, `h.headers` and `headers`.
    let kept = super::refs::strong_count(&headers) != Some(3);
    drop(headers);
    if kept {
        obj.downcast_mut::<HttpHead>()?.stale_headers = true;
    }
    Some(obj)
}

/// Points a head object [`recycle`] gave back at another Rust head. False when it cannot
/// stand for that head (not from the HTTP codec, or of the other kind).
pub fn renew(obj: &JsObject, head: &Head, ctx: &mut Context) -> JsResult<bool> {
    let Some(source) = Source::of(head) else { return Ok(false) };
    let (holder, headers, stale) = {
        let Some(h) = obj.downcast_ref::<HttpHead>() else { return Ok(false) };
        if std::mem::discriminant(&h.source) != std::mem::discriminant(&source) {
            return Ok(false);
        }
        for i in 0..3 {
            if differs(&h.source, &source, i) {
                let name = field_names(&source)[i].clone();
                h.holder.insert_property(name, data_property(field(&source, i)));
            }
        }
        (h.holder.clone(), h.headers.clone(), h.stale_headers)
    };
    let fresh = if stale || !super::headers::renew(&headers, &source, ctx) {
        let headers = super::headers::make(source.clone(), ctx)?;
        holder.insert_property(js_string!("headers"), data_property(headers.clone()));
        Some(headers)
    } else {
        None
    };
    drop(headers);
    let Some(mut h) = obj.downcast_mut::<HttpHead>() else { return Ok(false) };
    if let Some(headers) = fresh {
        h.headers = headers;
        h.stale_headers = false;
    }
    h.header_names = JsValue::undefined();
    h.source = source;
    Ok(true)
}

/// The Rust head behind a JS head that no script changed.
pub fn untouched(v: &JsValue) -> Option<Head> {
    let obj = v.as_object()?;
    let h = obj.downcast_ref::<HttpHead>()?;
    if !as_made(&obj, &h) || super::headers::written(&h.headers) {
        return None;
    }
    Some(h.source.head())
}

/// The fields `println` shows, in the order Pipy's dump lists them: a message head's
/// (`protocol`, `headers`, `headerNames`) first, then a request's or a response's.
pub fn printed_fields(obj: &JsObject, ctx: &mut Context) -> JsResult<Vec<(String, JsValue)>> {
    let request = match &obj.downcast_ref::<HttpHead>().ok_or_else(|| type_error("not an HTTP head"))?.source {
        Source::Request(_) => true,
        Source::Response(_) => false,
    };
    let own: &[&str] = if request { &["method", "scheme", "authority", "path"] } else { &["status", "statusText"] };
    let mut fields = Vec::new();
    for name in ["protocol", "headers", "headerNames"].iter().chain(own) {
        fields.push((name.to_string(), obj.get(JsString::from(*name), ctx)?));
    }
    Ok(fields)
}

/// The head as a plain object with every field (for `toJSON`).
pub fn to_plain(obj: &JsObject, ctx: &mut Context) -> JsResult<JsObject> {
    let source =
        obj.downcast_ref::<HttpHead>().map(|h| h.source.clone()).ok_or_else(|| type_error("not an HTTP head"))?;
    let names = field_names(&source);
    let mut values = Vec::new();
    for name in names.iter().chain([&js_string!("headerNames")]) {
        values.push((name.clone(), obj.get(name.clone(), ctx)?));
    }
    let mut init = ObjectInitializer::new(ctx);
    for (name, v) in values {
        init.property(name, v, Attribute::all());
    }
    Ok(init.build())
}

fn header_names(this: &JsValue, ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this.as_object().ok_or_else(|| type_error("not an HTTP head"))?;
    let source = {
        let h = obj.downcast_ref::<HttpHead>().ok_or_else(|| type_error("not an HTTP head"))?;
        if !h.header_names.is_undefined() {
            return Ok(h.header_names.clone());
        }
        h.source.clone()
    };
    let (_, names) = super::message::headers_to_js(source.headers(), ctx)?;
    let mut h = obj.downcast_mut::<HttpHead>().ok_or_else(|| type_error("not an HTTP head"))?;
    h.header_names = names.clone().into();
    Ok(names.into())
}

impl Class for HttpHead {
    const NAME: &'static str = "HttpHead";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("HTTP heads are made by the HTTP decoders; use a plain object"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        // The fields, for a head whose holder lost them (a script deleted them there) and
        // for the class's own description; a head reads them from its holder.
        let fields = ["protocol", "method", "path", "status", "statusText", "headers"];
        for name in fields {
            let get = NativeFunction::from_copy_closure(move |this, _, _| {
                let obj = this.as_object().ok_or_else(|| type_error("not an HTTP head"))?;
                let h = obj.downcast_ref::<HttpHead>().ok_or_else(|| type_error("not an HTTP head"))?;
                let names = match h.source {
                    Source::Request(_) => ["protocol", "method", "path", "headers"],
                    Source::Response(_) => ["protocol", "status", "statusText", "headers"],
                };
                let i = names.iter().position(|n| *n == name);
                Ok(match i {
                    Some(3) => h.headers.clone().into(),
                    Some(i) => field(&h.source, i),
                    None => JsValue::undefined(),
                })
            })
            .to_js_function(&realm);
            let set = NativeFunction::from_copy_closure(move |this, args, ctx| {
                let obj = this.as_object().ok_or_else(|| type_error("not an HTTP head"))?;
                obj.create_data_property_or_throw(
                    JsString::from(name),
                    args.first().cloned().unwrap_or_default(),
                    ctx,
                )?;
                Ok(JsValue::undefined())
            })
            .to_js_function(&realm);
            class.accessor(JsString::from(name), Some(get), Some(set), Attribute::CONFIGURABLE);
        }
        let get = NativeFunction::from_fn_ptr(|this, _, ctx| header_names(this, ctx)).to_js_function(&realm);
        // An assigned `headerNames` is an own property: the head then counts as changed.
        let set = NativeFunction::from_fn_ptr(|this, args, ctx| {
            let obj = this.as_object().ok_or_else(|| type_error("not an HTTP head"))?;
            obj.create_data_property_or_throw(
                js_string!("headerNames"),
                args.first().cloned().unwrap_or_default(),
                ctx,
            )?;
            Ok(JsValue::undefined())
        })
        .to_js_function(&realm);
        class.accessor(
            js_string!("headerNames"),
            Some(get),
            Some(set),
            Attribute::CONFIGURABLE | Attribute::ENUMERABLE,
        );
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
