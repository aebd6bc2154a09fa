//! `Hessian`: `decode(data)` gives the array of values a Hessian stream holds, `encode(value)`
//! writes a value (or each element of an array) back (byte work in `codec::hessian`).
//!
//! Values look as in Pipy: strings, booleans, `null`, `Date`s and `Data`; doubles and ints
//! are numbers and longs BigInts (Pipy's `Int` objects tell ints from longs; Weir has no
//! `Int`, so an integral number in the int range is written as an int, where Pipy writes a
//! double); lists, maps and objects are `{ kind, type, elements }` with `kind` `'list'`
//! (elements an array), `'map'` (an array of `[key, value]`) or `'object'` (an object of its
//! fields), and a reference is the same object again.

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::{JsArray, JsDate};
use boa_engine::property::{Attribute, PropertyKey};
use boa_engine::{Context, JsBigInt, JsNativeError, JsObject, JsResult, JsString, JsValue, NativeFunction, js_string};

use super::data::Data;
use crate::codec::hessian::{self, MAX_DEPTH, Value};

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let ns = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(decode), js_string!("decode"), 1)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 1)
        .build();
    ctx.register_global_property(js_string!("Hessian"), ns, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

/// Malformed input throws, naming what is wrong and where (Pipy returns the values before it).
fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let arg = args.first().cloned().unwrap_or_default();
    if arg.is_null_or_undefined() {
        return Ok(JsValue::null());
    }
    let bytes = Data::bytes_of(&arg)
        .ok_or_else(|| JsNativeError::typ().with_message("Hessian.decode: the argument must be a Data"))?;
    let values =
        hessian::decode(&bytes).map_err(|e| JsNativeError::error().with_message(format!("Hessian.decode: {e}")))?;
    let mut refs = Vec::new();
    let items = values.iter().map(|v| to_js(v, &mut refs, ctx)).collect::<JsResult<Vec<_>>>()?;
    Ok(JsArray::from_iter(items, ctx).into())
}

fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let arg = args.first().cloned().unwrap_or_default();
    let mut seen = Vec::new();
    let values = match arg.as_object().filter(|o| o.is_array()) {
        Some(a) => {
            let a = JsArray::from_object(a.clone())?;
            let len = a.length(ctx)?;
            (0..len).map(|i| from_js(&a.get(i, ctx)?, &mut seen, 0, ctx)).collect::<JsResult<Vec<_>>>()?
        }
        None => vec![from_js(&arg, &mut seen, 0, ctx)?],
    };
    let mut out = Vec::new();
    hessian::encode(&values, &mut out);
    Data::to_js(out, ctx)
}

/// A `{ kind, type, elements }`, counted in `refs` before its elements are made, so that a
/// reference inside it to itself finds it.
fn collection(kind: &str, type_name: Option<&str>, refs: &mut Vec<JsValue>, ctx: &mut Context) -> JsResult<JsObject> {
    let obj = JsObject::with_object_proto(ctx.intrinsics());
    obj.create_data_property_or_throw(js_string!("kind"), JsString::from(kind), ctx)?;
    let t = type_name.map_or(JsValue::null(), |t| JsString::from(t).into());
    obj.create_data_property_or_throw(js_string!("type"), t, ctx)?;
    refs.push(obj.clone().into());
    Ok(obj)
}

fn to_js(v: &Value, refs: &mut Vec<JsValue>, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(match v {
        Value::Null => JsValue::null(),
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Long(l) => JsBigInt::from(*l).into(),
        Value::Double(d) => (*d).into(),
        Value::Date(ms) => {
            let date = JsDate::new(ctx);
            date.set_time(*ms as f64, ctx)?;
            date.into()
        }
        Value::Str(s) => JsString::from(s.as_str()).into(),
        Value::Binary(b) => Data::to_js(b.clone(), ctx)?,
        Value::List { type_name, items } => {
            let obj = collection("list", type_name.as_deref(), refs, ctx)?;
            let items = items.iter().map(|v| to_js(v, refs, ctx)).collect::<JsResult<Vec<_>>>()?;
            let elements = JsArray::from_iter(items, ctx);
            obj.create_data_property_or_throw(js_string!("elements"), elements, ctx)?;
            obj.into()
        }
        Value::Map { type_name, entries } => {
            let obj = collection("map", type_name.as_deref(), refs, ctx)?;
            let mut pairs = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let pair = [to_js(k, refs, ctx)?, to_js(v, refs, ctx)?];
                pairs.push(JsArray::from_iter(pair, ctx).into());
            }
            let elements = JsArray::from_iter(pairs, ctx);
            obj.create_data_property_or_throw(js_string!("elements"), elements, ctx)?;
            obj.into()
        }
        Value::Object { type_name, fields } => {
            let obj = collection("object", Some(type_name), refs, ctx)?;
            let elements = JsObject::with_object_proto(ctx.intrinsics());
            for (k, v) in fields {
                let v = to_js(v, refs, ctx)?;
                elements.create_data_property_or_throw(JsString::from(k.as_str()), v, ctx)?;
            }
            obj.create_data_property_or_throw(js_string!("elements"), elements, ctx)?;
            obj.into()
        }
        // The decoder checked that the reference points at a collection already begun.
        Value::Ref(n) => refs.get(*n).cloned().unwrap_or_default(),
    })
}

fn text(v: &JsValue, ctx: &mut Context) -> JsResult<String> {
    Ok(v.to_string(ctx)?.to_std_string_escaped())
}

fn from_js(v: &JsValue, seen: &mut Vec<JsObject>, depth: usize, ctx: &mut Context) -> JsResult<Value> {
    if v.is_null_or_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = v.as_boolean() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = v.as_number() {
        let int = n.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&n);
        return Ok(if int { Value::Int(n as i32) } else { Value::Double(n) });
    }
    if v.is_bigint() {
        return Ok(Value::Long(v.to_big_int64(ctx)?));
    }
    if v.is_string() {
        return Ok(Value::Str(text(v, ctx)?));
    }
    let Some(o) = v.as_object() else { return Ok(Value::Null) };
    let o = &o;
    if let Some(bytes) = Data::bytes_of(v) {
        return Ok(Value::Binary(bytes.to_vec()));
    }
    // Pipy writes a CString as a string.
    if let Some(bytes) = super::cstring::CString::bytes_of(v) {
        return Ok(Value::Str(String::from_utf8_lossy(&bytes).into_owned()));
    }
    if let Ok(date) = JsDate::from_object(o.clone()) {
        return Ok(Value::Date(date.get_time(ctx)?.to_number(ctx)? as i64));
    }
    if let Some(i) = seen.iter().position(|s| JsObject::equals(s, o)) {
        return Ok(Value::Ref(i));
    }
    if depth >= MAX_DEPTH {
        return Err(JsNativeError::range().with_message("Hessian.encode: values nested too deep").into());
    }
    seen.push(o.clone());
    if o.is_array() {
        return Ok(Value::List { type_name: None, items: items(o, seen, depth, ctx)? });
    }
    let kind = o.get(js_string!("kind"), ctx)?;
    let t = o.get(js_string!("type"), ctx)?;
    let type_name = if t.is_null_or_undefined() { None } else { Some(text(&t, ctx)?).filter(|t| !t.is_empty()) };
    let elements = o.get(js_string!("elements"), ctx)?;
    match kind.as_string().map(|k| k.to_std_string_escaped()).as_deref() {
        Some("list") => {
            let items = match elements.as_object() {
                Some(e) => items(&e, seen, depth, ctx)?,
                None => Vec::new(),
            };
            Ok(Value::List { type_name, items })
        }
        Some("map") => Ok(Value::Map { type_name, entries: entries(&elements, seen, depth, ctx)? }),
        Some("object") => {
            let type_name =
                type_name.ok_or_else(|| JsNativeError::typ().with_message("Hessian.encode: an object needs a type"))?;
            Ok(Value::Object { type_name, fields: fields(&elements, seen, depth, ctx)? })
        }
        // A plain object: an untyped map of its fields.
        None if kind.is_undefined() => {
            let entries = fields(v, seen, depth, ctx)?.into_iter().map(|(k, v)| (Value::Str(k), v)).collect();
            Ok(Value::Map { type_name: None, entries })
        }
        _ => Err(JsNativeError::typ().with_message("Hessian.encode: kind must be 'list', 'map' or 'object'").into()),
    }
}

fn items(o: &JsObject, seen: &mut Vec<JsObject>, depth: usize, ctx: &mut Context) -> JsResult<Vec<Value>> {
    let a = JsArray::from_object(o.clone())?;
    let len = a.length(ctx)?;
    (0..len).map(|i| from_js(&a.get(i, ctx)?, seen, depth + 1, ctx)).collect()
}

fn entries(
    elements: &JsValue,
    seen: &mut Vec<JsObject>,
    depth: usize,
    ctx: &mut Context,
) -> JsResult<Vec<(Value, Value)>> {
    let Some(o) = elements.as_object().filter(|o| o.is_array()) else { return Ok(Vec::new()) };
    let a = JsArray::from_object(o.clone())?;
    let mut out = Vec::new();
    for i in 0..a.length(ctx)? {
        let pair = a.get(i, ctx)?;
        let Some(p) = pair.as_object() else {
            return Err(JsNativeError::typ().with_message("Hessian.encode: a map entry must be [key, value]").into());
        };
        let k = from_js(&p.get(0, ctx)?, seen, depth + 1, ctx)?;
        out.push((k, from_js(&p.get(1, ctx)?, seen, depth + 1, ctx)?));
    }
    Ok(out)
}

fn fields(
    elements: &JsValue,
    seen: &mut Vec<JsObject>,
    depth: usize,
    ctx: &mut Context,
) -> JsResult<Vec<(String, Value)>> {
    let Some(o) = elements.as_object() else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for key in o.own_property_keys(ctx)? {
        let name = match &key {
            PropertyKey::String(s) => s.to_std_string_escaped(),
            PropertyKey::Index(i) => i.get().to_string(),
            PropertyKey::Symbol(_) => continue,
        };
        let value = o.get(key, ctx)?;
        out.push((name, from_js(&value, seen, depth + 1, ctx)?));
    }
    Ok(out)
}
