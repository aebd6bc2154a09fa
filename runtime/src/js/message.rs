//! `Message`, `MessageStart`, `MessageEnd`, `StreamEnd`, and the JS shape of HTTP heads.

use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::data::{self, Data};
use crate::codec::http1::{Header, RequestHead, ResponseHead, Text};
use crate::engine::{Head, StreamError};

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<MessageStart>()?;
    ctx.register_global_class::<MessageEnd>()?;
    ctx.register_global_class::<StreamEnd>()?;
    ctx.register_global_class::<Message>()?;
    Ok(())
}

#[derive(Debug, Trace, Finalize, JsData)]
pub struct MessageStart {
    pub head: JsValue,
}

#[derive(Debug, Trace, Finalize, JsData)]
pub struct MessageEnd {
    pub tail: JsValue,
    pub payload: JsValue,
}

#[derive(Debug, Trace, Finalize, JsData)]
pub struct StreamEnd {
    pub error: JsValue,
}

#[derive(Debug, Trace, Finalize, JsData)]
pub struct Message {
    pub head: JsValue,
    pub body: JsValue,
    pub tail: JsValue,
    pub payload: JsValue,
}

fn arg(args: &[JsValue], i: usize) -> JsValue {
    args.get(i).cloned().unwrap_or_default()
}

/// Adds a read-only accessor that reads one field of the native data `T`.
fn getter<T: Class>(class: &mut ClassBuilder<'_>, name: JsString, read: fn(&T) -> JsValue) {
    let realm = class.context().realm().clone();
    let f = NativeFunction::from_copy_closure(move |this, _, _| {
        let obj = this.as_object();
        let data = obj.as_ref().and_then(|o| o.downcast_ref::<T>());
        Ok(data.map(|d| read(&d)).unwrap_or_default())
    });
    class.accessor(name, Some(f.to_js_function(&realm)), None, Attribute::CONFIGURABLE);
}

fn type_name(class: &mut ClassBuilder<'_>, name: &'static str) {
    class.property(js_string!("type"), JsString::from(name), Attribute::READONLY);
}

impl Class for MessageStart {
    const NAME: &'static str = "MessageStart";
    const LENGTH: usize = 1;
    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Ok(MessageStart { head: arg(args, 0) })
    }
    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        type_name(class, "MessageStart");
        getter::<Self>(class, js_string!("head"), |d| d.head.clone());
        Ok(())
    }
}

impl Class for MessageEnd {
    const NAME: &'static str = "MessageEnd";
    const LENGTH: usize = 2;
    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        // Without a tail, `null`, as Pipy's.
        Ok(MessageEnd { tail: null_if_undefined(arg(args, 0)), payload: arg(args, 1) })
    }
    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        type_name(class, "MessageEnd");
        getter::<Self>(class, js_string!("tail"), |d| d.tail.clone());
        getter::<Self>(class, js_string!("payload"), |d| d.payload.clone());
        Ok(())
    }
}

impl Class for StreamEnd {
    const NAME: &'static str = "StreamEnd";
    const LENGTH: usize = 1;
    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Ok(StreamEnd { error: arg(args, 0) })
    }
    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        type_name(class, "StreamEnd");
        getter::<Self>(class, js_string!("error"), |d| d.error.clone());
        Ok(())
    }
}

impl Class for Message {
    const NAME: &'static str = "Message";
    const LENGTH: usize = 3;
    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let is_body = |v: &JsValue| v.is_string() || Data::bytes_of(v).is_some();
        let mut m = Message {
            head: JsValue::null(),
            body: JsValue::null(),
            tail: JsValue::null(),
            payload: JsValue::undefined(),
        };
        match args.len() {
            0 => {}
            1 if is_body(&args[0]) => m.body = to_body(&args[0], ctx)?,
            _ => {
                m.head = arg(args, 0);
                let body = arg(args, 1);
                if is_body(&body) || body.is_null_or_undefined() {
                    m.body = to_body(&body, ctx)?;
                } else {
                    m.payload = body;
                }
                m.tail = null_if_undefined(arg(args, 2));
            }
        }
        Ok(m)
    }
    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        // Pipy's order, which printing a message follows.
        getter::<Self>(class, js_string!("head"), |d| d.head.clone());
        getter::<Self>(class, js_string!("tail"), |d| d.tail.clone());
        getter::<Self>(class, js_string!("body"), |d| d.body.clone());
        getter::<Self>(class, js_string!("payload"), |d| d.payload.clone());
        Ok(())
    }
}

fn to_body(v: &JsValue, ctx: &mut Context) -> JsResult<JsValue> {
    if v.is_null_or_undefined() {
        return Ok(JsValue::null());
    }
    if Data::bytes_of(v).is_some() {
        return Ok(v.clone());
    }
    Data::to_js(data::encode(v, None, ctx)?, ctx)
}

/// The JS object a script sees for a head (lazy for heads from the HTTP decoders).
pub fn head_to_js(head: &Head, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(match head {
        Head::None => JsValue::null(),
        Head::Js(v) => v.clone(),
        Head::Request(_) | Head::Response(_) => super::head::to_js(head, ctx)?.unwrap_or_default(),
    })
}

/// The head of a JS `MessageStart` event, as it is now.
pub fn event_head(event: &JsValue) -> Option<Head> {
    let obj = event.as_object()?;
    let m = obj.downcast_ref::<MessageStart>()?;
    Some(head_from_js(&m.head))
}

/// A head from a script: the original Rust head when the script did not change it.
pub fn head_from_js(v: &JsValue) -> Head {
    super::head::untouched(v).unwrap_or_else(|| Head::Js(v.clone()))
}

/// Pipy's header object: lower-case keys, `cookie`/`set-cookie` as arrays, the last of
/// other repeats, and `connection` left out (the codec consumes it).
pub fn headers_to_js(list: &[Header], ctx: &mut Context) -> JsResult<(JsObject, JsObject)> {
    let headers = super::print::object_with_quoted_keys(ctx);
    let names = super::print::object_with_quoted_keys(ctx);
    for h in list {
        let lower = h.name.to_ascii_lowercase();
        if lower == "connection" {
            continue;
        }
        let key = JsString::from(lower.as_str());
        let value: JsValue = JsString::from(h.value.as_str()).into();
        if lower == "cookie" || lower == "set-cookie" {
            let existing = headers.get(key.clone(), ctx)?;
            let arr = match existing.as_object().filter(|o| o.is_array()) {
                Some(a) => JsArray::from_object(a.clone())?,
                None => JsArray::new(ctx)?,
            };
            arr.push(value, ctx)?;
            headers.create_data_property_or_throw(key.clone(), arr, ctx)?;
        } else {
            headers.create_data_property_or_throw(key.clone(), value, ctx)?;
        }
        if lower != h.name {
            names.create_data_property_or_throw(key, JsString::from(h.name.as_str()), ctx)?;
        }
    }
    Ok((headers, names))
}

/// A JS value as a `StreamEnd` error.
pub fn stream_error(v: &JsValue) -> Option<StreamError> {
    if v.is_null_or_undefined() {
        return None;
    }
    Some(match v.as_string().map(|s| s.to_std_string_escaped()) {
        Some(name) => match crate::engine::event::error_code(&name) {
            Some(code) => StreamError::Code(code),
            None => StreamError::Value(v.clone()),
        },
        None => StreamError::Value(v.clone()),
    })
}

/// The JS value of a `StreamEnd` error.
pub fn error_to_js(e: &Option<StreamError>) -> JsValue {
    match e {
        None => JsValue::undefined(),
        Some(StreamError::Code(c)) => JsString::from(*c).into(),
        Some(StreamError::Value(v)) => v.clone(),
    }
}

fn field(obj: &JsObject, name: &str, ctx: &mut Context) -> JsResult<Option<String>> {
    let v = obj.get(JsString::from(name), ctx)?;
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    Ok(Some(v.to_string(ctx)?.to_std_string_escaped()))
}

/// A script's `headers` object as header lines in property order, spelled as `headerNames`
/// says; array values become repeated lines.
pub fn js_headers(head: &JsObject, ctx: &mut Context) -> JsResult<Vec<Header>> {
    let mut out = Vec::new();
    let headers = head.get(js_string!("headers"), ctx)?;
    let Some(headers) = headers.as_object() else { return Ok(out) };
    let names = head.get(js_string!("headerNames"), ctx)?.as_object();
    let keys = super::print::enumerable_keys(&headers, ctx)?;
    for key in keys {
        let lower = key.to_string();
        let name = match &names {
            Some(n) => field(n, &lower, ctx)?.unwrap_or_else(|| lower.clone()),
            None => lower.clone(),
        };
        let value = headers.get(key, ctx)?;
        match value.as_object().filter(|o| o.is_array()) {
            Some(arr) => {
                let arr = JsArray::from_object(arr)?;
                for i in 0..arr.length(ctx)? {
                    let v = arr.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped();
                    out.push(Header::new(name.clone(), v));
                }
            }
            None if value.is_null_or_undefined() => {}
            None => out.push(Header::new(name, value.to_string(ctx)?.to_std_string_escaped())),
        }
    }
    Ok(out)
}

fn null_if_undefined(v: JsValue) -> JsValue {
    if v.is_undefined() { JsValue::null() } else { v }
}

/// A `MessageEnd` tail for trailer fields: `{ headers }` with lower-cased names, a name
/// that repeats holding an array, and `headerNames` for the spellings.
pub fn tail_to_js(trailers: &[Header], ctx: &mut Context) -> JsResult<JsValue> {
    let headers = super::print::object_with_quoted_keys(ctx);
    let names = super::print::object_with_quoted_keys(ctx);
    for t in trailers {
        let lower = JsString::from(t.name.to_ascii_lowercase());
        let value: JsValue = JsString::from(t.value.as_str()).into();
        let value = match headers.get(lower.clone(), ctx)? {
            v if v.is_undefined() => value,
            v => match v.as_object().filter(|o| o.is_array()) {
                Some(arr) => {
                    JsArray::from_object(arr.clone())?.push(value, ctx)?;
                    arr.into()
                }
                None => JsArray::from_iter([v, value], ctx).into(),
            },
        };
        headers.set(lower.clone(), value, false, ctx)?;
        names.set(lower, JsString::from(t.name.as_str()), false, ctx)?;
    }
    let tail = JsObject::with_object_proto(ctx.intrinsics());
    tail.set(js_string!("headers"), headers, false, ctx)?;
    tail.set(js_string!("headerNames"), names, false, ctx)?;
    Ok(tail.into())
}

/// A request head written by a script (`{method, path, protocol, headers}`), with Pipy's
/// defaults for what is missing.
pub fn js_request_head(v: &JsValue, ctx: &mut Context) -> JsResult<RequestHead> {
    let d = RequestHead::default();
    let Some(obj) = v.as_object() else { return Ok(d) };
    Ok(RequestHead {
        method: field(&obj, "method", ctx)?.map_or(d.method, Text::from),
        path: field(&obj, "path", ctx)?.map_or(d.path, Text::from),
        protocol: field(&obj, "protocol", ctx)?.map_or(d.protocol, Text::from),
        headers: js_headers(&obj, ctx)?,
    })
}

/// A response head written by a script (`{status, statusText, protocol, headers}`).
pub fn js_response_head(v: &JsValue, ctx: &mut Context) -> JsResult<ResponseHead> {
    let d = ResponseHead::default();
    let Some(obj) = v.as_object() else { return Ok(d) };
    let status = obj.get(js_string!("status"), ctx)?;
    Ok(ResponseHead {
        protocol: field(&obj, "protocol", ctx)?.map_or(d.protocol, Text::from),
        status: if status.is_null_or_undefined() { d.status } else { status.to_u32(ctx)? as u16 },
        status_text: field(&obj, "statusText", ctx)?.map_or(d.status_text, Text::from),
        headers: js_headers(&obj, ctx)?,
    })
}

/// The Rust request head of an event head, converting a script's head if needed.
pub fn request_head_of(head: &Head) -> Rc<RequestHead> {
    match head {
        Head::Request(r) => r.clone(),
        other => {
            let v = match other {
                Head::Js(v) => v.clone(),
                _ => JsValue::undefined(),
            };
            let r = super::with_js(|ctx| js_request_head(&v, ctx).ok()).flatten();
            Rc::new(r.unwrap_or_default())
        }
    }
}

/// The Rust response head of an event head, converting a script's head if needed.
pub fn response_head_of(head: &Head) -> Rc<ResponseHead> {
    match head {
        Head::Response(r) => r.clone(),
        other => {
            let v = match other {
                Head::Js(v) => v.clone(),
                _ => JsValue::undefined(),
            };
            let r = super::with_js(|ctx| js_response_head(&v, ctx).ok()).flatten();
            Rc::new(r.unwrap_or_default())
        }
    }
}

/// A whole message a filter collected from events, as the `Message` a script is given. Its
/// `MessageEnd`'s one value reads as both `tail` and `payload`, as the event's does (a codec's
/// decoded value is Pipy's payload: `msg.payload.type` of a BGP message).
pub fn collected(head: &Head, body: &[u8], tail: JsValue, ctx: &mut Context) -> JsResult<JsValue> {
    let m =
        Message { head: head_to_js(head, ctx)?, body: Data::to_js(body.to_vec(), ctx)?, payload: tail.clone(), tail };
    Ok(Message::from_data(m, ctx)?.into())
}
