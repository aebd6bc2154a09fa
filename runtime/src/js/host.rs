//! The engine's [`Host`] for Boa: how pipelines and filters reach the script.

use std::rc::Rc;

use boa_engine::{JsObject, JsString, js_string};

use crate::codec::http1::{Header, RequestHead, ResponseHead};
use crate::engine::host::{CertificatePair, Settled};
use crate::engine::quota::Bucket;
use crate::engine::{Callback, Context, Event, Head, Host, Inbound, Value};

/// The worker's Boa context, reached through the thread-local slot `js::install` fills.
pub struct JsHost;

const BUSY: &str = "re-entrant call into JS";

impl Host for JsHost {
    fn tree_value(&self, tree: &crate::codec::tree::Tree) -> Result<Value, String> {
        super::with_js(|ctx| super::tree::to_js(tree, ctx).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn value_tree(&self, v: &Value) -> crate::codec::tree::Tree {
        super::with_js(|ctx| super::tree::from_js(v, ctx).ok()).flatten().unwrap_or(crate::codec::tree::Tree::Undefined)
    }

    fn call(&self, context: &Rc<Context>, f: &Callback, args: &[Value]) -> Result<Value, String> {
        super::call(context, f, args)
    }

    fn is_promise(&self, v: &Value) -> bool {
        super::promise::is_promise(v)
    }

    fn on_settled(&self, promise: &Value, context: &Rc<Context>, done: Settled) {
        super::promise::on_settled(promise, context, done)
    }

    fn to_events(&self, v: &Value) -> Result<Vec<Event>, String> {
        super::events::to_events(v)
    }

    fn to_list(&self, v: &Value) -> Option<Vec<Value>> {
        let arr = boa_engine::object::builtins::JsArray::from_object(v.as_object().filter(|o| o.is_array())?).ok()?;
        super::with_js(|ctx| {
            let len = arr.length(ctx).unwrap_or(0);
            (0..len).map(|i| arr.get(i, ctx).unwrap_or_default()).collect()
        })
    }

    fn head_value(&self, head: &Head) -> Result<Value, String> {
        super::with_js(|ctx| super::message::head_to_js(head, ctx).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn event_value(&self, evt: &Event) -> Result<Value, String> {
        super::with_js(|ctx| super::events::to_value(evt, ctx).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn recycle(&self, value: Value) {
        super::with_js(|ctx| super::events::recycle(value, ctx));
    }

    fn head_of(&self, event: &Value) -> Option<Head> {
        super::message::event_head(event)
    }

    fn message_value(&self, head: &Head, body: &[u8], tail: Value) -> Result<Value, String> {
        super::with_js(|ctx| super::message::collected(head, body, tail, ctx).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn tail_value(&self, trailers: &[Header]) -> Result<Value, String> {
        super::with_js(|ctx| super::message::tail_to_js(trailers, ctx).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn trailers_of(&self, tail: &Value) -> Vec<Header> {
        let Some(obj) = tail.as_object() else { return Vec::new() };
        super::with_js(|ctx| super::message::js_headers(&obj, ctx).ok()).flatten().unwrap_or_default()
    }

    fn to_text(&self, v: &Value) -> Result<String, String> {
        super::with_js(|ctx| v.to_string(ctx).map(|s| s.to_std_string_escaped()).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn inbound_value(&self, inbound: &Rc<Inbound>) -> Result<Value, String> {
        super::with_js(|ctx| super::inbound::to_js(inbound, ctx).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn when_free(&self, f: Box<dyn FnOnce()>) {
        super::call_when_free(f)
    }

    fn collect_metrics(&self) {
        super::stats::collect()
    }

    fn object(&self, fields: &[(&str, Value)]) -> Result<Value, String> {
        super::with_js(|ctx| {
            let obj = JsObject::with_object_proto(ctx.intrinsics());
            for (name, value) in fields {
                obj.create_data_property_or_throw(JsString::from(*name), value.clone(), ctx)
                    .map_err(|e| super::describe(&e, ctx))?;
            }
            Ok(obj.into())
        })
        .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn array(&self, items: &[Value]) -> Result<Value, String> {
        super::with_js(|ctx| Ok(boa_engine::object::builtins::JsArray::from_iter(items.iter().cloned(), ctx).into()))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn certificate_pair(&self, v: &Value) -> Result<Option<CertificatePair>, String> {
        super::with_js(|ctx| super::tls_values::certificate_pair(v, ctx)).unwrap_or_else(|| Err(BUSY.into()))
    }

    fn certificates(&self, v: &Value) -> Result<Vec<Vec<u8>>, String> {
        super::tls_values::certificates(v)
    }

    fn certificate_value(&self, der: &[u8]) -> Result<Value, String> {
        super::with_js(|ctx| super::tls_values::certificate_value(der, ctx)).unwrap_or_else(|| Err(BUSY.into()))
    }

    fn script_header(&self, head: &Value, name: &str) -> Option<String> {
        super::with_js(|ctx| {
            let headers = head.as_object()?.get(js_string!("headers"), ctx).ok()?.as_object()?;
            let value = headers.get(JsString::from(name), ctx).ok()?;
            if value.is_null_or_undefined() {
                return None;
            }
            Some(value.to_string(ctx).ok()?.to_std_string_escaped())
        })
        .flatten()
    }

    fn set_script_header(&self, head: &Value, name: &str, value: Option<&str>) -> Value {
        super::with_js(|ctx| {
            let obj = match head.as_object() {
                Some(o) => o,
                None if value.is_none() => return head.clone(),
                None => JsObject::with_object_proto(ctx.intrinsics()),
            };
            let headers = match obj.get(js_string!("headers"), ctx).ok().and_then(|h| h.as_object()) {
                Some(h) => h,
                None if value.is_none() => return obj.into(),
                None => {
                    let h = JsObject::with_object_proto(ctx.intrinsics());
                    let _ = obj.set(js_string!("headers"), h.clone(), false, ctx);
                    h
                }
            };
            let _ = match value {
                Some(v) => headers.set(JsString::from(name), JsString::from(v), false, ctx),
                None => headers.delete_property_or_throw(JsString::from(name), ctx),
            };
            obj.into()
        })
        .unwrap_or_else(|| head.clone())
    }

    fn request_head(&self, head: &Head) -> Rc<RequestHead> {
        super::message::request_head_of(head)
    }

    fn response_head(&self, head: &Head) -> Rc<ResponseHead> {
        super::message::response_head_of(head)
    }

    fn quota_of(&self, v: &Value) -> Option<Rc<Bucket>> {
        super::algo::quota::bucket_of(v)
    }

    fn head_number(&self, head: &Value, name: &str) -> Option<f64> {
        super::with_js(|ctx| {
            let v = head.as_object()?.get(JsString::from(name), ctx).ok()?;
            if v.is_null_or_undefined() {
                return None;
            }
            v.to_number(ctx).ok()
        })
        .flatten()
    }

    fn fields(&self, v: &Value) -> Option<Vec<(String, Value)>> {
        let obj = v.as_object()?;
        super::with_js(|ctx| {
            let keys = obj.own_property_keys(ctx).ok()?;
            let keys = keys.into_iter().filter(|k| !matches!(k, boa_engine::property::PropertyKey::Symbol(_)));
            keys.map(|k| Some((k.to_string(), obj.get(k, ctx).ok()?))).collect()
        })
        .flatten()
    }

    fn hub_of(&self, v: &Value) -> Option<Rc<crate::engine::hub::Hub>> {
        super::pipeline::hub_of(v)
    }

    fn layout_of(&self, v: &Value) -> Option<Rc<crate::engine::Layout>> {
        super::pipeline::template_layout(v)
    }

    fn field(&self, v: &Value, name: &str) -> Value {
        let Some(obj) = v.as_object() else { return Value::undefined() };
        super::with_js(|ctx| obj.get(JsString::from(name), ctx).ok()).flatten().unwrap_or_default()
    }
}
