//! `YAML`: `decode(data | string)` / `encode(value)` (with `Data`), and `parse(string)` /
//! `stringify(value)` (with strings), the counterpart of PipyJS's `JSON` additions.
//!
//! YAML goes through yaml-rust2: pure Rust (no C libyaml translated to unsafe Rust, unlike
//! the serde_yaml family), released regularly, and it passes the YAML test suite.

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsNativeError, JsObject, JsResult, JsString, JsValue, NativeFunction, js_string};
use yaml_rust2::{Yaml, YamlEmitter, YamlLoader};

use super::data::Data;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let yaml = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(decode), js_string!("decode"), 1)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 1)
        .function(NativeFunction::from_fn_ptr(parse), js_string!("parse"), 1)
        .function(NativeFunction::from_fn_ptr(stringify), js_string!("stringify"), 1)
        .build();
    ctx.register_global_property(js_string!("YAML"), yaml, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let arg = args.first().cloned().unwrap_or_default();
    if arg.is_null_or_undefined() {
        return Ok(JsValue::null());
    }
    let text = match Data::bytes_of(&arg) {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => arg.to_string(ctx)?.to_std_string_escaped(),
    };
    from_text(&text, ctx)
}

fn parse(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let text = args.first().cloned().unwrap_or_default().to_string(ctx)?.to_std_string_escaped();
    from_text(&text, ctx)
}

fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    if args.first().is_none_or(|v| v.is_undefined()) {
        return Ok(JsValue::undefined());
    }
    let text = to_text(args.first().cloned().unwrap_or_default(), ctx)?;
    Data::to_js(text.into_bytes(), ctx)
}

fn stringify(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    if args.first().is_none_or(|v| v.is_undefined()) {
        return Ok(JsValue::undefined());
    }
    Ok(JsString::from(to_text(args.first().cloned().unwrap_or_default(), ctx)?.as_str()).into())
}

/// The last document of `text`, as in Pipy (`undefined` for a stream with none). Scalars are
/// typed by the YAML 1.2 core schema, where Pipy makes every scalar a string.
fn from_text(text: &str, ctx: &mut Context) -> JsResult<JsValue> {
    let docs =
        YamlLoader::load_from_str(text).map_err(|e| JsNativeError::syntax().with_message(format!("YAML: {e}")))?;
    match docs.last() {
        Some(doc) => to_js(doc, ctx),
        None => Ok(JsValue::undefined()),
    }
}

fn to_text(value: JsValue, ctx: &mut Context) -> JsResult<String> {
    let yaml = from_js(&value, 0, ctx)?.unwrap_or(Yaml::Null);
    let mut out = String::new();
    YamlEmitter::new(&mut out).dump(&yaml).map_err(|e| JsNativeError::typ().with_message(format!("YAML: {e:?}")))?;
    // The emitter opens with a document marker; YAML files written by hand rarely do.
    let body = out.strip_prefix("---\n").or_else(|| out.strip_prefix("--- ")).unwrap_or(&out);
    Ok(format!("{body}\n"))
}

/// Mappings become plain objects in the document's key order (serde_json's map would sort
/// them, and order matters to configs such as URL routes).
fn to_js(y: &Yaml, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(match y {
        Yaml::Real(_) => y.as_f64().map(JsValue::from).unwrap_or_default(),
        Yaml::Integer(i) => JsValue::from(*i as f64),
        Yaml::String(s) => JsString::from(s.as_str()).into(),
        Yaml::Boolean(b) => JsValue::from(*b),
        Yaml::Array(a) => {
            let items = a.iter().map(|v| to_js(v, ctx)).collect::<JsResult<Vec<_>>>()?;
            JsArray::from_iter(items, ctx).into()
        }
        Yaml::Hash(h) => {
            let obj = JsObject::with_object_proto(ctx.intrinsics());
            for (k, v) in h {
                let v = to_js(v, ctx)?;
                obj.create_data_property_or_throw(JsString::from(key(k).as_str()), v, ctx)?;
            }
            obj.into()
        }
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => JsValue::null(),
    })
}

/// A mapping key as a JS property name: scalars by their text, others as YAML flow text.
fn key(k: &Yaml) -> String {
    match k {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => "null".into(),
        other => {
            let mut out = String::new();
            let _ = YamlEmitter::new(&mut out).dump(other);
            out.trim_start_matches("---").trim().to_string()
        }
    }
}

/// As `JSON.stringify` sees values: functions and `undefined` are left out of objects (and
/// are `null` in arrays), `toJSON` is honoured, and cycles are an error.
fn from_js(v: &JsValue, depth: usize, ctx: &mut Context) -> JsResult<Option<Yaml>> {
    if depth > 256 {
        return Err(JsNativeError::typ().with_message("YAML.encode: value is cyclic or too deep").into());
    }
    if let Some(o) = v.as_object() {
        let to_json = o.get(js_string!("toJSON"), ctx)?;
        if let Some(f) = to_json.as_object().filter(|f| f.is_callable()) {
            let v = f.call(v, &[], ctx)?;
            if !v.as_object().is_some_and(|n| JsObject::equals(&n, &o)) {
                return from_js(&v, depth + 1, ctx);
            }
        }
        if o.is_callable() {
            return Ok(None);
        }
        if o.is_array() {
            let arr = JsArray::from_object(o.clone())?;
            let mut items = Vec::new();
            for i in 0..arr.length(ctx)? {
                items.push(from_js(&arr.get(i, ctx)?, depth + 1, ctx)?.unwrap_or(Yaml::Null));
            }
            return Ok(Some(Yaml::Array(items)));
        }
        let mut hash = yaml_rust2::yaml::Hash::new();
        // `Object.keys`: own enumerable string keys, in property order.
        let object = ctx.intrinsics().constructors().object().constructor();
        let keys = object.get(js_string!("keys"), ctx)?;
        let keys = keys.as_callable().ok_or_else(|| JsNativeError::typ().with_message("Object.keys is gone"))?;
        let keys =
            JsArray::from_object(keys.call(&object.clone().into(), std::slice::from_ref(v), ctx)?.to_object(ctx)?)?;
        for i in 0..keys.length(ctx)? {
            let k = keys.get(i, ctx)?.to_string(ctx)?;
            let v = o.get(k.clone(), ctx)?;
            if let Some(y) = from_js(&v, depth + 1, ctx)? {
                hash.insert(Yaml::String(k.to_std_string_escaped()), y);
            }
        }
        return Ok(Some(Yaml::Hash(hash)));
    }
    Ok(match v {
        v if v.is_null() => Some(Yaml::Null),
        v if v.is_undefined() => None,
        v if v.is_symbol() => None,
        v => match (v.as_boolean(), v.as_number(), v.as_string()) {
            (Some(b), _, _) => Some(Yaml::Boolean(b)),
            (_, Some(n), _) if n.fract() == 0.0 && n.abs() < 9.0e15 => Some(Yaml::Integer(n as i64)),
            (_, Some(n), _) if n.is_finite() => Some(Yaml::Real(n.to_string())),
            (_, Some(_), _) => Some(Yaml::Null),
            (_, _, Some(s)) => Some(Yaml::String(s.to_std_string_escaped())),
            _ => Some(Yaml::String(v.to_string(ctx)?.to_std_string_escaped())),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let mut ctx = Context::default();
        let v = from_text(text, &mut ctx).unwrap();
        to_text(v, &mut ctx).unwrap()
    }

    #[test]
    fn round_trips_in_document_order() {
        assert_eq!(
            round_trip("z: 1\nb: [x, 2.5, true, ~]\nc: {d: e}\n"),
            "z: 1\nb:\n  - x\n  - 2.5\n  - true\n  - ~\nc:\n  d: e\n"
        );
    }

    #[test]
    fn anchors_are_resolved() {
        assert_eq!(round_trip("base: &b {port: 80}\nuse: *b\n"), "base:\n  port: 80\nuse:\n  port: 80\n");
    }
}
