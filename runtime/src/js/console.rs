//! `console.*`: log lines on stderr (not stdout), in the same format as the runtime's own.

use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsResult, JsValue, NativeFunction, js_string};

use super::print::format_args;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let console = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(info), js_string!("log"), 0)
        .function(NativeFunction::from_fn_ptr(info), js_string!("info"), 0)
        .function(NativeFunction::from_fn_ptr(warn), js_string!("warn"), 0)
        .function(NativeFunction::from_fn_ptr(error), js_string!("error"), 0)
        .function(NativeFunction::from_fn_ptr(debug), js_string!("debug"), 0)
        .build();
    ctx.register_global_property(js_string!("console"), console, Attribute::all())?;
    Ok(())
}

fn info(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    tracing::info!(target: "user", "{}", format_args(args, ctx)?);
    Ok(JsValue::undefined())
}

fn warn(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    tracing::warn!(target: "user", "{}", format_args(args, ctx)?);
    Ok(JsValue::undefined())
}

fn error(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    tracing::error!(target: "user", "{}", format_args(args, ctx)?);
    Ok(JsValue::undefined())
}

fn debug(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    tracing::debug!(target: "user", "{}", format_args(args, ctx)?);
    Ok(JsValue::undefined())
}
