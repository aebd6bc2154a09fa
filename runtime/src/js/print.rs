//! `println`, `print`, and Pipy's dump format for values that are not strings
//! (Pipy's src/api/console.cpp), in print_tests.rs value by value.

use boa_engine::object::builtins::JsArray;
use boa_engine::property::PropertyKey;
use boa_engine::string::JsStrVariant;
use boa_engine::{Context, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, js_string};
use boa_gc::{Finalize, Trace};

use super::data::Data;
use super::print_builtins::Shown;

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
            Some(t) => push_str(&mut s, &t),
            None => dump(a, ctx, &mut s, 0)?,
        }
    }
    Ok(s)
}

/// Appends a JS string as `to_std_string_escaped` writes it; an ASCII one (a head's method,
/// path, host, status text: nearly every string printed) as one copy, without the `String`
/// that method allocates.
fn push_str(out: &mut String, t: &JsString) {
    use std::fmt::Write as _;
    match t.variant() {
        JsStrVariant::Latin1(bytes) if bytes.is_ascii() => out.push_str(std::str::from_utf8(bytes).unwrap_or_default()),
        _ => {
            let _ = write!(out, "{}", t.display_escaped());
        }
    }
}

/// The mark of an object whose keys Pipy prints in quotes: one the runtime builds key by key
/// (a head's `headers` and `headerNames`, as `HttpHeaders` are), whose keys Pipy keeps in its hash table, where the keys of a script's
/// object literal are the fields of a class and print bare.
#[derive(Trace, Finalize, JsData)]
pub struct QuotedKeys;

fn quotes_keys(obj: &JsObject) -> bool {
    obj.is::<QuotedKeys>() || obj.is::<super::headers::HttpHeaders>()
}

/// A plain object (`Object.prototype`, ordinary in every way) whose keys print quoted.
pub fn object_with_quoted_keys(ctx: &mut Context) -> JsObject {
    JsObject::from_proto_and_data(ctx.intrinsics().constructors().object().prototype(), QuotedKeys)
}

/// Pipy's `Console::dump` shape: `[ 1, 2 ]`, `{ a: 1 }`, `Data[ 48 65 ]`, `[  ]` when empty.
pub fn dump(v: &JsValue, ctx: &mut Context, out: &mut String, depth: usize) -> JsResult<()> {
    Dump { seen: Vec::with_capacity(depth) }.value(v, ctx, out)
}

/// The objects being printed, outermost first: one met again is printed as recursive.
struct Dump {
    seen: Vec<JsObject>,
}

/// As Pipy, objects nested deeper than this print as `Object{ ... }`.
const DEPTH: usize = 100;

impl Dump {
    fn value(&mut self, v: &JsValue, ctx: &mut Context, out: &mut String) -> JsResult<()> {
        if let Some(s) = v.as_string() {
            quote(&s.to_std_string_escaped(), out);
            return Ok(());
        }
        if let Some(n) = v.as_number() {
            out.push_str(&number(n));
            return Ok(());
        }
        if let Some(b) = v.as_bigint() {
            out.push_str(&b.to_string());
            return Ok(());
        }
        if let Some(sym) = v.as_symbol() {
            out.push_str(&sym.descriptive_string().to_std_string_escaped());
            return Ok(());
        }
        let Some(obj) = v.as_object() else {
            out.push_str(&v.to_string(ctx)?.to_std_string_escaped());
            return Ok(());
        };
        if let Some(data) = obj.downcast_ref::<Data>() {
            data_bytes(&data.bytes, out);
            return Ok(());
        }
        if obj.is::<super::head::HttpHead>() {
            return self.fields(super::head::printed_fields(&obj, ctx)?, ctx, out);
        }
        if obj.is_callable() {
            let name = obj.get(js_string!("name"), ctx)?.to_string(ctx)?.to_std_string_escaped();
            out.push_str(&format!("Function{{ {name} }}"));
            return Ok(());
        }
        if self.seen.iter().any(|o| JsObject::equals(o, &obj)) || self.seen.len() == DEPTH {
            // Pipy names the class, which an object literal's has not.
            let kind = match (obj.is_array(), quotes_keys(&obj)) {
                (true, _) => "Array",
                (false, true) => "Object",
                (false, false) => "",
            };
            let what = if self.seen.len() == DEPTH { "..." } else { "...recursive" };
            out.push_str(&format!("{kind}{{ {what} }}"));
            return Ok(());
        }
        self.seen.push(obj.clone());
        let r = if obj.is_array() {
            self.array(&obj, ctx, out)
        } else if let Some(shown) = super::print_builtins::shown(&obj, ctx)? {
            match shown {
                Shown::Fields(fields) => self.fields(fields, ctx, out),
                Shown::Text(text) => {
                    out.push_str(&text);
                    Ok(())
                }
            }
        } else {
            self.object(&obj, ctx, out)
        };
        self.seen.pop();
        r
    }

    /// `[ 1, empty x 2 times, 3 ]`: holes counted as Pipy counts them.
    fn array(&mut self, obj: &JsObject, ctx: &mut Context, out: &mut String) -> JsResult<()> {
        let arr = JsArray::from_object(obj.clone())?;
        let len = arr.length(ctx)?;
        let mut items = Vec::new();
        let mut holes = 0u64;
        let flush = |holes: &mut u64, items: &mut Vec<String>| {
            match *holes {
                0 => {}
                1 => items.push("empty".into()),
                n => items.push(format!("empty x {n} times")),
            }
            *holes = 0;
        };
        for i in 0..len {
            if !obj.has_own_property(i, ctx)? {
                holes += 1;
                continue;
            }
            flush(&mut holes, &mut items);
            let mut s = String::new();
            self.value(&arr.get(i, ctx)?, ctx, &mut s)?;
            items.push(s);
        }
        flush(&mut holes, &mut items);
        out.push_str(&format!("[ {} ]", items.join(", ")));
        Ok(())
    }

    /// `{ name: value, ... }` for the fields a built-in object shows.
    fn fields(&mut self, fields: Vec<(String, JsValue)>, ctx: &mut Context, out: &mut String) -> JsResult<()> {
        let mut shown = Vec::with_capacity(fields.len());
        for (name, value) in fields {
            let mut s = format!("{name}: ");
            self.value(&value, ctx, &mut s)?;
            shown.push(s);
        }
        out.push_str(&format!("{{ {} }}", shown.join(", ")));
        Ok(())
    }

    /// `{ a: 1, b: "x" }` (`{ "a": 1 }` for an object with `QuotedKeys`): a class's fields first (the accessors and values of its
    /// prototypes, base first, as Pipy lists a class's fields), then own enumerable keys.
    fn object(&mut self, obj: &JsObject, ctx: &mut Context, out: &mut String) -> JsResult<()> {
        let mut fields = Vec::new();
        let class = class_fields(obj, ctx)?;
        let quoted = quotes_keys(obj);
        for (name, value) in &class {
            let mut s = format!("{name}: ");
            self.value(value, ctx, &mut s)?;
            fields.push(s);
        }
        for k in enumerable_keys(obj, ctx)? {
            let name = match &k {
                PropertyKey::String(s) => s.to_std_string_escaped(),
                PropertyKey::Index(i) => i.get().to_string(),
                PropertyKey::Symbol(_) => continue,
            };
            if class.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let mut s = String::new();
            match quoted {
                true => quote(&name, &mut s),
                false => s.push_str(&name),
            }
            s.push_str(": ");
            self.value(&obj.get(k, ctx)?, ctx, &mut s)?;
            fields.push(s);
        }
        out.push_str(&format!("{{ {} }}", fields.join(", ")));
        Ok(())
    }
}

/// The fields of an instance of a class (`Message`, `StreamEnd`, `Map`'s `size`): the getters
/// and non-function values its prototypes define, base first. Plain objects have none.
fn class_fields(obj: &JsObject, ctx: &mut Context) -> JsResult<Vec<(String, JsValue)>> {
    let object_proto = ctx.intrinsics().constructors().object().prototype();
    let mut protos = Vec::new();
    let mut p = obj.prototype();
    while let Some(proto) = p {
        if JsObject::equals(&proto, &object_proto) {
            break;
        }
        p = proto.prototype();
        protos.push(proto);
    }
    let object = ctx.intrinsics().constructors().object().constructor();
    let describe = object.get(js_string!("getOwnPropertyDescriptor"), ctx)?;
    let describe = describe.as_callable().ok_or_else(|| super::type_error("Object.getOwnPropertyDescriptor"))?;
    let mut fields = Vec::new();
    for proto in protos.iter().rev() {
        for key in proto.own_property_keys(ctx)? {
            let PropertyKey::String(name) = &key else { continue };
            let name = name.to_std_string_escaped();
            if fields.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let d = describe.call(
                &JsValue::undefined(),
                &[proto.clone().into(), JsString::from(name.as_str()).into()],
                ctx,
            )?;
            let Some(d) = d.as_object() else { continue };
            let (get, value) = (d.get(js_string!("get"), ctx)?, d.get(js_string!("value"), ctx)?);
            let value = match get.as_callable() {
                Some(getter) => getter.call(&obj.clone().into(), &[], ctx)?,
                // The instance's own value where it has one (a String's `length`).
                None if get.is_undefined() && !value.is_callable() && name != "constructor" => {
                    obj.get(JsString::from(name.as_str()), ctx)?
                }
                None => continue,
            };
            fields.push((name, value));
        }
    }
    Ok(fields)
}

/// Pipy's dump of a Data: the first 10 bytes, or all 11.
fn data_bytes(bytes: &[u8], out: &mut String) {
    let shown = if bytes.len() == 11 { 11 } else { 10 };
    out.push_str("Data[");
    for b in bytes.iter().take(shown) {
        out.push_str(&format!(" {b:02x}"));
    }
    if bytes.len() > shown {
        out.push_str(&format!(" ... and {} more bytes", bytes.len() - shown));
    }
    out.push_str(" ]");
}

/// A string in double quotes, escaped as Pipy's `utils::escape` does.
fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as Pipy prints it (`%.12f` without trailing zeros: `1e21` in full, `-0`) when
/// that reads back as the same number; else JavaScript's shortest form, because Pipy's
/// twelve decimals lose digits (`0.1 + 0.2`, `1/3`, `1e-13`).
pub fn number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-Infinity" } else { "Infinity" }.into();
    }
    // An integer below 2^53 prints as itself (what the general path below gives too, at
    // several times the cost: a status code is printed on every response); -0 keeps its sign.
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 && !(n == 0.0 && n.is_sign_negative()) {
        return (n as i64).to_string();
    }
    let fixed = format!("{n:.12}");
    let pipy = fixed.trim_end_matches('0').trim_end_matches('.');
    match pipy.parse::<f64>() {
        Ok(back) if back.to_bits() == n.to_bits() => pipy.to_string(),
        _ => JsValue::from(n).display().to_string(),
    }
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
