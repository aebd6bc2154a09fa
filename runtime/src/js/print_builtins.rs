//! How `println` shows JavaScript's own objects that Pipy's dump knows by their class
//! (`Error`, `RegExp`) or that Pipy has not (`Date`, typed arrays): what print.rs asks
//! before it lists an object's keys.

use boa_engine::builtins::error::Error;
use boa_engine::builtins::regexp::RegExp;
use boa_engine::object::builtins::{JsDate, JsTypedArray};
use boa_engine::{Context, JsObject, JsResult, JsValue, js_string};

/// What a built-in object prints as, when it is one.
pub enum Shown {
    /// `{ name: value, ... }`, as Pipy lists a class's fields.
    Fields(Vec<(String, JsValue)>),
    /// Printed as is.
    Text(String),
}

pub fn shown(obj: &JsObject, ctx: &mut Context) -> JsResult<Option<Shown>> {
    if obj.is::<Error>() {
        return error(obj, ctx).map(Some);
    }
    if obj.is::<RegExp>() {
        let fields = ["source", "global", "ignoreCase", "lastIndex"];
        return named(obj, &fields, ctx).map(|f| Some(Shown::Fields(f)));
    }
    if let Ok(date) = JsDate::from_object(obj.clone()) {
        return date_text(&date, ctx).map(|t| Some(Shown::Text(t)));
    }
    if let Ok(array) = JsTypedArray::from_object(obj.clone()) {
        return typed_array(&array, ctx).map(|t| Some(Shown::Text(t)));
    }
    Ok(None)
}

/// Pipy's `Error` has four fields: `name`, `message`, `cause` (null without one) and
/// `stack` (Boa's frames, where Pipy writes its own).
fn error(obj: &JsObject, ctx: &mut Context) -> JsResult<Shown> {
    let mut fields = named(obj, &["name", "message"], ctx)?;
    let cause = obj.get(js_string!("cause"), ctx)?;
    fields.push(("cause".into(), if cause.is_undefined() { JsValue::null() } else { cause }));
    fields.push(("stack".into(), obj.get(js_string!("stack"), ctx)?));
    Ok(Shown::Fields(fields))
}

fn named(obj: &JsObject, names: &[&str], ctx: &mut Context) -> JsResult<Vec<(String, JsValue)>> {
    let mut fields = Vec::with_capacity(names.len());
    for name in names {
        fields.push((name.to_string(), obj.get(boa_engine::JsString::from(*name), ctx)?));
    }
    Ok(fields)
}

/// `Date{ 1970-01-01T00:00:00.000Z }`: Pipy's Date has no fields and prints `{  }`.
fn date_text(date: &JsDate, ctx: &mut Context) -> JsResult<String> {
    let iso = match date.to_iso_string(ctx) {
        Ok(iso) => iso.to_string(ctx)?.to_std_string_escaped(),
        Err(_) => "Invalid Date".into(),
    };
    Ok(format!("Date{{ {iso} }}"))
}

/// `Uint8Array[ 1, 2 ]`, shaped as `Data[ ... ]`: Pipy has no typed arrays.
fn typed_array(array: &JsTypedArray, ctx: &mut Context) -> JsResult<String> {
    let constructor = array.get(js_string!("constructor"), ctx)?;
    let name = match constructor.as_object() {
        Some(c) => c.get(js_string!("name"), ctx)?.to_string(ctx)?.to_std_string_escaped(),
        None => "TypedArray".into(),
    };
    let mut items = Vec::new();
    for i in 0..array.length(ctx)? {
        let v = array.at(i as i64, ctx)?;
        items.push(match v.as_number() {
            Some(n) => super::print::number(n),
            None => v.to_string(ctx)?.to_std_string_escaped(),
        });
    }
    Ok(format!("{name}[ {} ]", items.join(", ")))
}
