//! The `content-encoding` header of a message head, read and changed for `compressHTTP`
//! and `decompressHTTP`, whether the head is a decoder's Rust head or a script's object.

use std::rc::Rc;

use boa_engine::{JsObject, JsString, js_string};

use crate::codec::http1::Header;
use crate::engine::Head;
use crate::js;

const NAME: &str = "content-encoding";

/// The head's `content-encoding`, if it has one.
pub fn get(head: &Head) -> Option<String> {
    match head {
        Head::None => None,
        Head::Request(r) => r.header(NAME).map(str::to_string),
        Head::Response(r) => r.header(NAME).map(str::to_string),
        Head::Js(v) => js::with_js(|ctx| {
            let headers = v.as_object()?.get(js_string!("headers"), ctx).ok()?.as_object()?;
            let value = headers.get(js_string!("content-encoding"), ctx).ok()?;
            if value.is_null_or_undefined() {
                return None;
            }
            Some(value.to_string(ctx).ok()?.to_std_string_escaped())
        })
        .flatten(),
    }
}

/// The head with `content-encoding: value`. A script's head is changed in place, as in Pipy.
pub fn set(head: Head, value: &str) -> Head {
    match head {
        Head::Request(r) => {
            let mut r = Rc::unwrap_or_clone(r);
            r.headers.retain(|h| !h.name.eq_ignore_ascii_case(NAME));
            r.headers.push(Header::new(NAME, value));
            Head::Request(Rc::new(r))
        }
        Head::Response(r) => {
            let mut r = Rc::unwrap_or_clone(r);
            r.headers.retain(|h| !h.name.eq_ignore_ascii_case(NAME));
            r.headers.push(Header::new(NAME, value));
            Head::Response(Rc::new(r))
        }
        // A message made without a head (`new Message(body)`) gets one.
        Head::Js(v) if !v.is_object() => set(Head::None, value),
        Head::None => js::with_js(|ctx| {
            let headers = JsObject::with_object_proto(ctx.intrinsics());
            let head = JsObject::with_object_proto(ctx.intrinsics());
            let _ = headers.set(js_string!("content-encoding"), JsString::from(value), false, ctx);
            let _ = head.set(js_string!("headers"), headers, false, ctx);
            Head::Js(head.into())
        })
        .unwrap_or(Head::None),
        Head::Js(v) => {
            js::with_js(|ctx| {
                let Some(obj) = v.as_object() else { return };
                let headers = match obj.get(js_string!("headers"), ctx).ok().and_then(|h| h.as_object()) {
                    Some(h) => h,
                    None => {
                        let h = JsObject::with_object_proto(ctx.intrinsics());
                        let _ = obj.set(js_string!("headers"), h.clone(), false, ctx);
                        h
                    }
                };
                let _ = headers.set(js_string!("content-encoding"), JsString::from(value), false, ctx);
            });
            Head::Js(v)
        }
    }
}

/// The head without `content-encoding`.
pub fn remove(head: Head) -> Head {
    match head {
        Head::Request(r) => {
            let mut r = Rc::unwrap_or_clone(r);
            r.headers.retain(|h| !h.name.eq_ignore_ascii_case(NAME));
            Head::Request(Rc::new(r))
        }
        Head::Response(r) => {
            let mut r = Rc::unwrap_or_clone(r);
            r.headers.retain(|h| !h.name.eq_ignore_ascii_case(NAME));
            Head::Response(Rc::new(r))
        }
        Head::Js(v) => {
            js::with_js(|ctx| {
                let headers = v.as_object().and_then(|o| o.get(js_string!("headers"), ctx).ok()?.as_object());
                if let Some(h) = headers {
                    let _ = h.delete_property_or_throw(js_string!("content-encoding"), ctx);
                }
            });
            Head::Js(v)
        }
        Head::None => Head::None,
    }
}
