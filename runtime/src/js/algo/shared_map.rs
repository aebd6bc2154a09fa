//! `algo.SharedMap(name)`: a string-keyed map every worker thread shares; `new SharedMap('x')`
//! on any thread opens the same map. Values cross threads as copies: primitives and strings
//! as they are, objects and arrays as their JSON (so they come back as plain data, as Pipy's
//! shared values do).
//!
//! One `Mutex` per map, held only for one operation; `add`/`sub` are atomic read-modify-writes.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::{arg, method};
use crate::js::type_error;

#[derive(Clone, Debug, PartialEq)]
enum Shared {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Json(String),
}

type Map = Arc<Mutex<HashMap<String, Shared>>>;

static MAPS: LazyLock<Mutex<HashMap<String, Map>>> = LazyLock::new(Mutex::default);

/// The map named `name`, made on first use; maps live as long as the process.
fn open(name: &str) -> Map {
    let mut maps = MAPS.lock().unwrap_or_else(|e| e.into_inner());
    maps.entry(name.to_string()).or_default().clone()
}

fn json(ctx: &mut Context, name: &str, v: &JsValue) -> JsResult<JsValue> {
    let json = ctx.global_object().get(js_string!("JSON"), ctx)?;
    let f = json.as_object().map(|o| o.get(JsString::from(name), ctx)).transpose()?.unwrap_or_default();
    let f = f.as_callable().ok_or_else(|| type_error("JSON is missing"))?.clone();
    f.call(&json, std::slice::from_ref(v), ctx)
}

fn to_shared(v: &JsValue, ctx: &mut Context) -> JsResult<Shared> {
    Ok(match v {
        v if v.is_undefined() => Shared::Undefined,
        v if v.is_null() => Shared::Null,
        v if v.is_boolean() => Shared::Bool(v.to_boolean()),
        v if v.is_number() => Shared::Number(v.to_number(ctx)?),
        v if v.is_string() => Shared::String(v.to_string(ctx)?.to_std_string_escaped()),
        v if v.is_object() && !v.as_object().is_some_and(|o| o.is_callable()) => {
            Shared::Json(json(ctx, "stringify", v)?.to_string(ctx)?.to_std_string_escaped())
        }
        v => return Err(type_error(format!("SharedMap cannot hold {}", v.type_of()))),
    })
}

fn from_shared(v: Shared, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(match v {
        Shared::Undefined => JsValue::undefined(),
        Shared::Null => JsValue::null(),
        Shared::Bool(b) => b.into(),
        Shared::Number(n) => n.into(),
        Shared::String(s) => JsString::from(s).into(),
        Shared::Json(s) => json(ctx, "parse", &JsString::from(s).into())?,
    })
}

#[derive(Trace, Finalize, JsData)]
pub struct SharedMap {
    #[unsafe_ignore_trace]
    map: Map,
}

fn with_map<R>(this: &JsValue, f: impl FnOnce(MutexGuard<'_, HashMap<String, Shared>>) -> R) -> JsResult<R> {
    let obj = this.as_object().ok_or_else(|| type_error("not a SharedMap"))?;
    let m = obj.downcast_ref::<SharedMap>().ok_or_else(|| type_error("not a SharedMap"))?;
    Ok(f(m.map.lock().unwrap_or_else(|e| e.into_inner())))
}

fn key(args: &[JsValue], ctx: &mut Context) -> JsResult<String> {
    Ok(arg(args, 0).to_string(ctx)?.to_std_string_escaped())
}

/// `add`/`sub`: the key's number plus `sign * n` (a missing or non-number value counts as 0).
fn add(this: &JsValue, args: &[JsValue], ctx: &mut Context, sign: f64) -> JsResult<JsValue> {
    let (k, n) = (key(args, ctx)?, arg(args, 1).to_number(ctx)?);
    with_map(this, |mut m| {
        let now = match m.get(&k) {
            Some(Shared::Number(x)) => *x,
            _ => 0.0,
        } + sign * n;
        m.insert(k, Shared::Number(now));
        now.into()
    })
}

impl Class for SharedMap {
    const NAME: &'static str = "SharedMap";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        if !arg(args, 0).is_string() {
            return Err(type_error("SharedMap() takes the map's name"));
        }
        Ok(SharedMap { map: open(&key(args, ctx)?) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let size = NativeFunction::from_fn_ptr(|this, _, _| with_map(this, |m| JsValue::from(m.len() as u32)))
            .to_js_function(&realm);
        class.accessor(js_string!("size"), Some(size), None, Attribute::CONFIGURABLE);
        let clear = |this: &JsValue, _: &[JsValue], _: &mut Context| {
            with_map(this, |mut m| m.clear()).map(|_| JsValue::undefined())
        };
        method(class, "clear", 0, NativeFunction::from_fn_ptr(clear));
        let delete = |this: &JsValue, args: &[JsValue], ctx: &mut Context| {
            let k = key(args, ctx)?;
            with_map(this, |mut m| m.remove(&k).is_some().into())
        };
        method(class, "delete", 1, NativeFunction::from_fn_ptr(delete));
        let has = |this: &JsValue, args: &[JsValue], ctx: &mut Context| {
            let k = key(args, ctx)?;
            with_map(this, |m| m.contains_key(&k).into())
        };
        method(class, "has", 1, NativeFunction::from_fn_ptr(has));
        let get = |this: &JsValue, args: &[JsValue], ctx: &mut Context| {
            let k = key(args, ctx)?;
            let v = with_map(this, |m| m.get(&k).cloned())?;
            from_shared(v.unwrap_or(Shared::Undefined), ctx)
        };
        method(class, "get", 1, NativeFunction::from_fn_ptr(get));
        let set = |this: &JsValue, args: &[JsValue], ctx: &mut Context| {
            let (k, v) = (key(args, ctx)?, to_shared(&arg(args, 1), ctx)?);
            with_map(this, |mut m| m.insert(k, v)).map(|_| JsValue::undefined())
        };
        method(class, "set", 2, NativeFunction::from_fn_ptr(set));
        method(class, "add", 2, NativeFunction::from_fn_ptr(|this, args, ctx| add(this, args, ctx, 1.0)));
        method(class, "sub", 2, NativeFunction::from_fn_ptr(|this, args, ctx| add(this, args, ctx, -1.0)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_opens_the_same_map() {
        let name = "shared_map unit test";
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        let m = open(name);
                        let mut m = m.lock().unwrap();
                        let n = match m.get("n") {
                            Some(Shared::Number(n)) => *n,
                            _ => 0.0,
                        };
                        m.insert("n".into(), Shared::Number(n + 1.0));
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(open(name).lock().unwrap().get("n"), Some(&Shared::Number(4000.0)));
    }
}
