//! `DNS`: `decode(data)` and `encode(message)`, DNS messages as Pipy's objects
//! (`codec::dns`); what does not parse or cannot be written throws Pipy's message for it.

use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsNativeError, JsResult, JsValue, NativeFunction, js_string};

use super::data::Data;
use super::tree;
use crate::codec::dns;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let namespace = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(decode), js_string!("decode"), 1)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 1)
        .build();
    ctx.register_global_property(js_string!("DNS"), namespace, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let Some(bytes) = args.first().and_then(Data::bytes_of) else {
        return Err(JsNativeError::typ().with_message("DNS.decode: a Data is expected").into());
    };
    let msg = dns::decode(&bytes).map_err(|e| JsNativeError::error().with_message(e))?;
    tree::to_js(&msg, ctx)
}

fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let msg = args.first().cloned().unwrap_or_default();
    if !msg.is_object() {
        return Err(JsNativeError::typ().with_message("DNS.encode: an object is expected").into());
    }
    let bytes = dns::encode(&tree::from_js(&msg, ctx)?).map_err(|e| JsNativeError::error().with_message(e))?;
    Data::to_js(bytes, ctx)
}
