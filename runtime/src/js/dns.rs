//! `DNS`: `decode(data)` and `encode(message)`, DNS messages as Pipy's objects
//! (`codec::dns`); what does not parse or cannot be written throws Pipy's message for it.
//! `resolve(hostname)` asks the system resolver (getaddrinfo, on tokio's blocking threads so
//! the worker goes on) and settles with the addresses as strings, or `null` when it fails.

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
        .function(NativeFunction::from_fn_ptr(resolve), js_string!("resolve"), 1)
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

fn resolve(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let host = args.first().cloned().unwrap_or_default().to_string(ctx)?.to_std_string_escaped();
    let (promise, resolvers) = boa_engine::object::builtins::JsPromise::new_pending(ctx);
    // The callbacks chained on the promise run in the context that asked, as `Timeout`'s do.
    let context = super::current().unwrap_or_else(super::state::root);
    tokio::task::spawn_local(async move {
        let found = tokio::net::lookup_host((host.as_str(), 0)).await;
        if super::state::retired(&context) {
            return;
        }
        let mut addrs: Vec<String> = Vec::new();
        for a in found.into_iter().flatten() {
            let ip = a.ip().to_string();
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
        super::in_context(&context, || {
            super::with_js(|ctx| {
                let list: JsValue = match addrs.is_empty() {
                    true => JsValue::null(),
                    false => boa_engine::object::builtins::JsArray::from_iter(
                        addrs.iter().map(|a| boa_engine::JsString::from(a.as_str()).into()),
                        ctx,
                    )
                    .into(),
                };
                let _ = resolvers.resolve.call(&JsValue::undefined(), &[list], ctx);
                let _ = ctx.run_jobs();
            })
        });
    });
    Ok(promise.into())
}
