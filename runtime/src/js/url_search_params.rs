//! `URLSearchParams(search | object)`, as Pipy's: a name with one value holds a string, a
//! name given twice or set to an array holds an array; `get`, `getAll`, `set`, `toObject`
//! and `toString` (names and values percent-encoded but for `A-Za-z0-9-_.~`).

use std::cell::RefCell;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::{print, type_error};

#[derive(Clone, Debug, PartialEq)]
enum Param {
    One(String),
    Many(Vec<String>),
}

#[derive(Trace, Finalize, JsData)]
pub struct UrlSearchParams {
    /// In the order names first came.
    #[unsafe_ignore_trace]
    params: RefCell<Vec<(String, Param)>>,
}

/// Pipy's `decode_uri`: `%XX` to its byte, `+` kept; a `%` too near the end stops there.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() {
                break;
            }
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.unwrap_or(0));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl UrlSearchParams {
    /// Parses `?a=1&b&a=2`.
    pub fn parse(search: &str) -> UrlSearchParams {
        let p = UrlSearchParams { params: RefCell::new(Vec::new()) };
        for pair in search.strip_prefix('?').unwrap_or(search).split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            p.append(decode(k), decode(v));
        }
        p
    }

    fn append(&self, name: String, value: String) {
        let mut params = self.params.borrow_mut();
        match params.iter_mut().find(|(k, _)| *k == name) {
            Some((_, Param::Many(vs))) => vs.push(value),
            Some((_, p @ Param::One(_))) => {
                let Param::One(old) = std::mem::replace(p, Param::Many(Vec::new())) else { return };
                *p = Param::Many(vec![old, value]);
            }
            None => params.push((name, Param::One(value))),
        }
    }

    fn set(&self, name: String, value: Option<Param>) {
        let mut params = self.params.borrow_mut();
        let at = params.iter().position(|(k, _)| *k == name);
        match (at, value) {
            (Some(i), None) => {
                params.remove(i);
            }
            (Some(i), Some(v)) => params[i].1 = v,
            (None, Some(v)) => params.push((name, v)),
            (None, None) => {}
        }
    }

    fn find(&self, name: &str) -> Option<Param> {
        self.params.borrow().iter().find(|(k, _)| k == name).map(|(_, p)| p.clone())
    }

    fn text(&self) -> String {
        let mut pairs = Vec::new();
        for (k, p) in self.params.borrow().iter() {
            let values = match p {
                Param::One(v) => std::slice::from_ref(v),
                Param::Many(vs) => vs.as_slice(),
            };
            pairs.extend(values.iter().map(|v| format!("{}={}", encode(k), encode(v))));
        }
        pairs.join("&")
    }
}

fn strings(values: &[String], ctx: &mut Context) -> JsValue {
    JsArray::from_iter(values.iter().map(|v| JsString::from(v.as_str()).into()), ctx).into()
}

fn this_params(this: &JsValue) -> JsResult<JsObject> {
    this.as_object().filter(|o| o.is::<UrlSearchParams>()).ok_or_else(|| type_error("not a URLSearchParams"))
}

fn name_arg(args: &[JsValue], ctx: &mut Context) -> JsResult<String> {
    Ok(args.first().cloned().unwrap_or_default().to_string(ctx)?.to_std_string_escaped())
}

/// `set()`'s value: gone for null or undefined, each item as a string for an array.
fn param_of(v: &JsValue, ctx: &mut Context) -> JsResult<Option<Param>> {
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    if let Some(arr) = v.as_object().filter(|o| o.is_array()) {
        let arr = JsArray::from_object(arr)?;
        let mut items = Vec::new();
        for i in 0..arr.length(ctx)? {
            items.push(arr.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped());
        }
        return Ok(Some(Param::Many(items)));
    }
    Ok(Some(Param::One(v.to_string(ctx)?.to_std_string_escaped())))
}

impl Class for UrlSearchParams {
    const NAME: &'static str = "URLSearchParams";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let first = args.first().cloned().unwrap_or_default();
        let Some(obj) = first.as_object().filter(|o| !o.is_callable()) else {
            let search =
                if first.is_undefined() { String::new() } else { first.to_string(ctx)?.to_std_string_escaped() };
            return Ok(UrlSearchParams::parse(&search));
        };
        let p = UrlSearchParams { params: RefCell::new(Vec::new()) };
        for key in print::enumerable_keys(&obj, ctx)? {
            let name = key.to_string();
            let value = obj.get(key, ctx)?;
            p.set(name, param_of(&value, ctx)?);
        }
        Ok(p)
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(js_string!("get"), 1, NativeFunction::from_fn_ptr(get));
        class.method(js_string!("getAll"), 1, NativeFunction::from_fn_ptr(get_all));
        class.method(js_string!("set"), 2, NativeFunction::from_fn_ptr(set));
        class.method(js_string!("toObject"), 0, NativeFunction::from_fn_ptr(to_object));
        class.method(js_string!("toString"), 0, NativeFunction::from_fn_ptr(to_string));
        Ok(())
    }
}

fn get(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this_params(this)?;
    let name = name_arg(args, ctx)?;
    let found = obj.downcast_ref::<UrlSearchParams>().and_then(|p| p.find(&name));
    Ok(match found {
        Some(Param::One(v)) => JsString::from(v.as_str()).into(),
        Some(Param::Many(vs)) if !vs.is_empty() => JsString::from(vs[0].as_str()).into(),
        _ => JsValue::null(),
    })
}

fn get_all(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this_params(this)?;
    let name = name_arg(args, ctx)?;
    let found = obj.downcast_ref::<UrlSearchParams>().and_then(|p| p.find(&name));
    Ok(match found {
        Some(Param::One(v)) => strings(&[v], ctx),
        Some(Param::Many(vs)) => strings(&vs, ctx),
        None => strings(&[], ctx),
    })
}

fn set(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this_params(this)?;
    let name = name_arg(args, ctx)?;
    let value = param_of(&args.get(1).cloned().unwrap_or_default(), ctx)?;
    if let Some(p) = obj.downcast_ref::<UrlSearchParams>() {
        p.set(name, value);
    }
    Ok(JsValue::undefined())
}

fn to_object(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this_params(this)?;
    let params = obj.downcast_ref::<UrlSearchParams>().map(|p| p.params.borrow().clone()).unwrap_or_default();
    let out = JsObject::with_object_proto(ctx.intrinsics());
    for (k, p) in params {
        let v = match p {
            Param::One(v) => JsString::from(v.as_str()).into(),
            Param::Many(vs) => strings(&vs, ctx),
        };
        out.set(JsString::from(k.as_str()), v, false, ctx)?;
    }
    Ok(out.into())
}

fn to_string(this: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let obj = this_params(this)?;
    let text = obj.downcast_ref::<UrlSearchParams>().map(|p| p.text()).unwrap_or_default();
    Ok(JsString::from(text).into())
}

#[cfg(test)]
mod tests {
    use crate::js::eval_to_string as eval;

    #[test]
    fn a_query_gives_strings_and_arrays_as_pipy() {
        let src = "var u = new URL('http://h/p?a=1&b=x%20y&a=2&c'); var s = u.searchParams; \
            [s.get('a'), s.getAll('a').join('|'), s.get('b'), JSON.stringify(s.get('c')), String(s.get('none')), \
             JSON.stringify(s.toObject()), s.toString()].join(' ')";
        assert_eq!(eval(src), "1 1|2 x y \"\" null {\"a\":[\"1\",\"2\"],\"b\":\"x y\",\"c\":\"\"} a=1&a=2&b=x%20y&c=");
    }

    #[test]
    fn set_replaces_or_removes_and_an_object_makes_params() {
        let src = "var s = new URLSearchParams({ x: 1, y: ['a', 'b'] }); s.set('x', 'é'); s.set('y', null); \
            s.set('z', ['1']); [s.toString(), s.getAll('z').length, new URL('/q', 'https://h').port].join(' ')";
        assert_eq!(eval(src), "x=%C3%A9&z=1 1 443");
    }
}
