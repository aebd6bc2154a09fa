//! `println`, `print`, and Pipy's dump format for values that are not strings.

use boa_engine::object::builtins::JsArray;
use boa_engine::property::PropertyKey;
use boa_engine::{Context, JsResult, JsValue, NativeFunction, js_string};

use super::data::Data;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_builtin_callable(js_string!("println"), 0, NativeFunction::from_fn_ptr(println))?;
    ctx.register_global_builtin_callable(js_string!("print"), 0, NativeFunction::from_fn_ptr(print))?;
    Ok(())
}

fn println(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let mut line = format_args(args, ctx)?;
    line.push('\n');
    crate::log::write_stdout(line.as_bytes());
    Ok(JsValue::undefined())
}

fn print(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    crate::log::write_stdout(format_args(args, ctx)?.as_bytes());
    Ok(JsValue::undefined())
}

/// Arguments joined by one space: strings raw, everything else dumped.
pub fn format_args(args: &[JsValue], ctx: &mut Context) -> JsResult<String> {
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        match a.as_string() {
            Some(t) => s.push_str(&t.to_std_string_escaped()),
            None => dump(a, ctx, &mut s, 0)?,
        }
    }
    Ok(s)
}

/// Pipy's `Console::dump` shape: `[ 1, 2 ]`, `{ "a": 1 }`, `Data[ 48 65 ]`.
pub fn dump(v: &JsValue, ctx: &mut Context, out: &mut String, depth: usize) -> JsResult<()> {
    if let Some(s) = v.as_string() {
        out.push_str(&format!("{:?}", s.to_std_string_escaped()));
        return Ok(());
    }
    if let Some(b) = v.as_bigint() {
        out.push_str(&b.to_string());
        return Ok(());
    }
    let Some(obj) = v.as_object() else {
        out.push_str(&v.to_string(ctx)?.to_std_string_escaped());
        return Ok(());
    };
    if depth > 8 {
        out.push_str("{ ... }");
        return Ok(());
    }
    if let Some(data) = obj.downcast_ref::<Data>() {
        out.push_str("Data[");
        for b in data.bytes.iter().take(10) {
            out.push_str(&format!(" {b:02x}"));
        }
        if data.bytes.len() > 10 {
            out.push_str(&format!(" ... and {} more bytes", data.bytes.len() - 10));
        }
        out.push_str(" ]");
        return Ok(());
    }
    if obj.is::<super::head::HttpHead>() {
        let plain = super::head::to_plain(&obj, ctx)?;
        return dump(&plain.into(), ctx, out, depth);
    }
    if obj.is_callable() {
        let name = obj.get(js_string!("name"), ctx)?.to_string(ctx)?.to_std_string_escaped();
        out.push_str(&format!("Function{{ {name} }}"));
        return Ok(());
    }
    if obj.is_array() {
        let arr = JsArray::from_object(obj.clone())?;
        let len = arr.length(ctx)?;
        if len == 0 {
            out.push_str("[]");
            return Ok(());
        }
        out.push_str("[ ");
        for i in 0..len {
            if i > 0 {
                out.push_str(", ");
            }
            dump(&arr.get(i, ctx)?, ctx, out, depth + 1)?;
        }
        out.push_str(" ]");
        return Ok(());
    }
    let keys = enumerable_keys(&obj, ctx)?;
    let mut first = true;
    out.push('{');
    for k in keys {
        let name = match &k {
            PropertyKey::String(s) => s.to_std_string_escaped(),
            PropertyKey::Index(i) => i.get().to_string(),
            PropertyKey::Symbol(_) => continue,
        };
        out.push_str(if first { " " } else { ", " });
        first = false;
        out.push_str(&format!("{name:?}: "));
        let value = obj.get(k, ctx)?;
        dump(&value, ctx, out, depth + 1)?;
    }
    out.push_str(if first { "}" } else { " }" });
    Ok(())
}

/// `Object.keys(obj)`: own enumerable string keys, in property order.
pub fn enumerable_keys(obj: &boa_engine::JsObject, ctx: &mut Context) -> JsResult<Vec<PropertyKey>> {
    let object = ctx.intrinsics().constructors().object().constructor();
    let keys = object.get(js_string!("keys"), ctx)?;
    let keys = keys.as_callable().ok_or_else(|| super::type_error("Object.keys is missing"))?;
    let arr = keys.call(&JsValue::undefined(), &[obj.clone().into()], ctx)?;
    let arr = JsArray::from_object(arr.as_object().ok_or_else(|| super::type_error("Object.keys"))?)?;
    let len = arr.length(ctx)?;
    (0..len).map(|i| arr.get(i, ctx)?.to_property_key(ctx)).collect()
}
