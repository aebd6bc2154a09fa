//! [`Tree`]s as script values and back: what codec filters hand to scripts in `MessageStart`
//! heads and `MessageEnd` payloads, and read from the messages scripts give them.

use boa_engine::object::builtins::JsArray;
use boa_engine::property::PropertyKey;
use boa_engine::{Context, JsBigInt, JsNativeError, JsObject, JsResult, JsString, JsValue, js_string};

use super::data::Data;
use crate::codec::tree::Tree;

/// Deeper than this, a script value is cut off (a cycle, or a value no codec can write).
const MAX_DEPTH: usize = 64;

pub fn to_js(tree: &Tree, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(match tree {
        Tree::Undefined => JsValue::undefined(),
        Tree::Null => JsValue::null(),
        Tree::Bool(b) => (*b).into(),
        Tree::Number(n) => (*n).into(),
        Tree::Int(i) => JsBigInt::from(*i).into(),
        Tree::Str(s) => JsString::from(s.as_str()).into(),
        Tree::Data(d) => Data::to_js(d.to_vec(), ctx)?,
        Tree::Error(m) => JsNativeError::error().with_message(m.clone()).into_opaque(ctx).into(),
        Tree::Array(items) => {
            let values = items.iter().map(|t| to_js(t, ctx)).collect::<JsResult<Vec<_>>>()?;
            JsArray::from_iter(values, ctx).into()
        }
        Tree::Object(fields) => {
            let obj = JsObject::with_object_proto(ctx.intrinsics());
            for (k, v) in fields {
                let v = to_js(v, ctx)?;
                obj.create_data_property_or_throw(JsString::from(k.as_str()), v, ctx)?;
            }
            obj.into()
        }
    })
}

pub fn from_js(v: &JsValue, ctx: &mut Context) -> JsResult<Tree> {
    from_js_at(v, 0, ctx)
}

fn from_js_at(v: &JsValue, depth: usize, ctx: &mut Context) -> JsResult<Tree> {
    if depth > MAX_DEPTH {
        return Ok(Tree::Undefined);
    }
    if v.is_undefined() {
        return Ok(Tree::Undefined);
    }
    if v.is_null() {
        return Ok(Tree::Null);
    }
    if let Some(b) = v.as_boolean() {
        return Ok(Tree::Bool(b));
    }
    if let Some(n) = v.as_number() {
        return Ok(Tree::Number(n));
    }
    if v.is_bigint() {
        return Ok(Tree::Int(v.to_big_int64(ctx)?));
    }
    if let Some(s) = v.as_string() {
        return Ok(Tree::Str(s.to_std_string_escaped()));
    }
    let Some(o) = v.as_object() else { return Ok(Tree::Undefined) };
    if let Some(bytes) = Data::bytes_of(v) {
        return Ok(Tree::Data(bytes));
    }
    if o.is::<boa_engine::builtins::error::Error>() {
        let m = o.get(js_string!("message"), ctx)?;
        return Ok(Tree::Error(m.to_string(ctx)?.to_std_string_escaped()));
    }
    if o.is_array() {
        let a = JsArray::from_object(o.clone())?;
        let len = a.length(ctx)?;
        let items = (0..len).map(|i| from_js_at(&a.get(i, ctx)?, depth + 1, ctx)).collect::<JsResult<_>>()?;
        return Ok(Tree::Array(items));
    }
    if o.is_callable() {
        return Ok(Tree::Undefined);
    }
    let mut fields = Vec::new();
    for key in o.own_property_keys(ctx)? {
        let PropertyKey::String(name) = &key else { continue };
        let value = o.get(key.clone(), ctx)?;
        fields.push((name.to_std_string_escaped(), from_js_at(&value, depth + 1, ctx)?));
    }
    Ok(Tree::Object(fields))
}
