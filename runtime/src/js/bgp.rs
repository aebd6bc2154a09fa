//! `BGP`: `decode(data, enableAS4)` (every whole message in `data`, up to the first that does
//! not parse) and `encode(message, enableAS4)`, as the `decodeBGP`/`encodeBGP` filters read
//! and write them (`codec::bgp`).

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsNativeError, JsResult, JsValue, NativeFunction, js_string};

use super::data::Data;
use super::tree;
use crate::codec::{bgp, bgp_encode};

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let namespace = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(decode), js_string!("decode"), 2)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 2)
        .build();
    ctx.register_global_property(js_string!("BGP"), namespace, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let Some(bytes) = args.first().and_then(Data::bytes_of) else {
        return Err(JsNativeError::typ().with_message("BGP.decode: a Data is expected").into());
    };
    let as4 = args.get(1).is_some_and(|v| v.to_boolean());
    let values = bgp::decode_all(&bytes, as4).iter().map(|t| tree::to_js(t, ctx)).collect::<JsResult<Vec<_>>>()?;
    Ok(JsArray::from_iter(values, ctx).into())
}

fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let msg = args.first().cloned().unwrap_or_default();
    if !msg.is_object() {
        return Err(JsNativeError::typ().with_message("BGP.encode: an object is expected").into());
    }
    let as4 = args.get(1).is_some_and(|v| v.to_boolean());
    let mut out = Vec::new();
    bgp_encode::encode(&tree::from_js(&msg, ctx)?, as4, &mut out);
    Data::to_js(out, ctx)
}
