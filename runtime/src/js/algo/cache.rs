//! `algo.Cache(allocate?, free?, { size, ttl })`: a key-value cache, as Pipy's.
//!
//! Keys compare as JS `Map` keys do. Entries are kept oldest-used first: `get` and `find` of a
//! live entry make it the newest, and once `set` adds a key past `size`, the oldest go, each
//! given to `free(key, value)`. An entry older than `ttl` (seconds or a duration string) counts
//! as absent. `get` of an absent key asks `allocate(key)` and keeps what it returns.

use std::time::Instant;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::{JsArray, JsMap};
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace};

use super::{arg, method};
use crate::js::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct Cache {
    allocate: Option<JsObject>,
    free: Option<JsObject>,
    /// Key to `[value, deadline]`, the deadline in milliseconds since `origin`.
    map: JsMap,
    #[unsafe_ignore_trace]
    size: usize,
    #[unsafe_ignore_trace]
    ttl_ms: f64,
    #[unsafe_ignore_trace]
    origin: Instant,
}

impl Class for Cache {
    const NAME: &'static str = "Cache";

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let callable = |i: usize| args.get(i).and_then(|v| v.as_object()).filter(|o| o.is_callable());
        let (allocate, free) = (callable(0), callable(1));
        let mut cache = Cache { allocate, free, map: JsMap::new(ctx), size: 0, ttl_ms: 0.0, origin: Instant::now() };
        // The options are the first argument that is an object and no function.
        let options = args.iter().take(3).find_map(|v| v.as_object().filter(|o| !o.is_callable()));
        if let Some(o) = options {
            let size = o.get(JsString::from("size"), ctx)?;
            if !size.is_null_or_undefined() {
                cache.size = size.to_length(ctx)? as usize;
            }
            let ttl = o.get(JsString::from("ttl"), ctx)?;
            if !ttl.is_null_or_undefined() {
                cache.ttl_ms = crate::options::duration(&ttl, ctx)?.as_secs_f64() * 1000.0;
            }
        }
        Ok(cache)
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        method(class, "get", 1, NativeFunction::from_fn_ptr(get));
        method(class, "set", 2, NativeFunction::from_fn_ptr(set));
        method(class, "has", 1, NativeFunction::from_fn_ptr(has));
        method(class, "find", 1, NativeFunction::from_fn_ptr(find));
        method(class, "remove", 1, NativeFunction::from_fn_ptr(remove));
        method(class, "clear", 0, NativeFunction::from_fn_ptr(clear));
        Ok(())
    }
}

/// What the methods need of a cache, copied out so that no borrow is held across a callback.
struct View {
    allocate: Option<JsObject>,
    free: Option<JsObject>,
    map: JsMap,
    size: usize,
    ttl_ms: f64,
    now: f64,
}

fn view(this: &JsValue) -> JsResult<View> {
    let obj = this.as_object().ok_or_else(|| type_error("not a Cache"))?;
    let c = obj.downcast_ref::<Cache>().ok_or_else(|| type_error("not a Cache"))?;
    let now = c.origin.elapsed().as_secs_f64() * 1000.0;
    Ok(View {
        allocate: c.allocate.clone(),
        free: c.free.clone(),
        map: c.map.clone(),
        size: c.size,
        ttl_ms: c.ttl_ms,
        now,
    })
}

impl View {
    /// The entry of `key` as `(value, live)`, if there is one.
    fn entry(&self, key: &JsValue, ctx: &mut Context) -> JsResult<Option<(JsValue, bool)>> {
        let Some(e) = self.map.get(key.clone(), ctx)?.as_object() else { return Ok(None) };
        let e = JsArray::from_object(e)?;
        let deadline = e.get(1, ctx)?.as_number().unwrap_or(f64::INFINITY);
        Ok(Some((e.get(0, ctx)?, self.ttl_ms <= 0.0 || self.now < deadline)))
    }

    /// Pipy's `use`: the entry of `key`, made the newest.
    fn touch(&self, key: &JsValue, ctx: &mut Context) -> JsResult<Option<(JsValue, bool)>> {
        let found = self.entry(key, ctx)?;
        if found.is_some() {
            let e = self.map.get(key.clone(), ctx)?;
            self.map.delete(key.clone(), ctx)?;
            self.map.set(key.clone(), e, ctx)?;
        }
        Ok(found)
    }

    fn put(&self, key: JsValue, value: JsValue, ctx: &mut Context) -> JsResult<bool> {
        let added = !self.map.has(key.clone(), ctx)?.to_boolean();
        let e = JsArray::from_iter([value, (self.now + self.ttl_ms).into()], ctx);
        self.map.set(key, e, ctx)?;
        Ok(added)
    }

    fn keys(&self) -> JsResult<Vec<JsValue>> {
        let mut keys = Vec::new();
        self.map.for_each_native(|k, _| {
            keys.push(k);
            Ok(())
        })?;
        Ok(keys)
    }
}

fn get(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = view(this)?;
    let key = arg(args, 0);
    match v.touch(&key, ctx)? {
        Some((value, true)) => Ok(value),
        _ => match &v.allocate {
            Some(f) => {
                let value = f.call(&JsValue::undefined(), std::slice::from_ref(&key), ctx)?;
                v.put(key, value.clone(), ctx)?;
                Ok(value)
            }
            None => Ok(JsValue::undefined()),
        },
    }
}

fn set(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = view(this)?;
    if !v.put(arg(args, 0), arg(args, 1), ctx)? || v.size == 0 {
        return Ok(JsValue::undefined());
    }
    let keys = v.keys()?;
    for key in keys.iter().take(keys.len().saturating_sub(v.size)) {
        if let (Some(f), Some((value, _))) = (&v.free, v.entry(key, ctx)?) {
            f.call(&JsValue::undefined(), &[key.clone(), value], ctx)?;
        }
        v.map.delete(key.clone(), ctx)?;
    }
    Ok(JsValue::undefined())
}

fn find(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = view(this)?;
    let key = arg(args, 0);
    match v.touch(&key, ctx)? {
        Some((value, true)) => Ok(value),
        Some((_, false)) => {
            v.map.delete(key, ctx)?;
            Ok(JsValue::undefined())
        }
        None => Ok(JsValue::undefined()),
    }
}

fn has(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = view(this)?;
    let key = arg(args, 0);
    let live = matches!(v.touch(&key, ctx)?, Some((_, true)));
    if !live {
        v.map.delete(key, ctx)?;
    }
    Ok(live.into())
}

/// Removes `key`, telling `free` (also of an expired entry); true if it was live.
fn remove(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = view(this)?;
    let key = arg(args, 0);
    let Some((value, live)) = v.entry(&key, ctx)? else { return Ok(false.into()) };
    if let Some(f) = &v.free {
        f.call(&JsValue::undefined(), &[key.clone(), value], ctx)?;
    }
    v.map.delete(key, ctx)?;
    Ok((live || v.free.is_none()).into())
}

fn clear(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = view(this)?;
    if let Some(f) = &v.free {
        for key in v.keys()? {
            if let Some((value, _)) = v.entry(&key, ctx)? {
                f.call(&JsValue::undefined(), &[key, value], ctx)?;
            }
        }
    }
    v.map.clear(ctx)?;
    Ok(JsValue::undefined())
}

#[cfg(test)]
mod tests {
    use crate::js::eval_to_string as eval;

    #[test]
    fn get_allocates_once_and_set_evicts_the_least_recently_used() {
        let src = "var made = [], freed = []; \
            var c = new algo.Cache(k => (made.push(k), k + '!'), (k, v) => freed.push(k + '=' + v), { size: 2 }); \
            var a = c.get('a'); c.get('a'); c.set('b', 2); c.find('a'); c.set('c', 3); \
            [a, made.join(), freed.join(), c.has('a'), c.has('b'), c.find('c')].join(' ')";
        assert_eq!(eval(src), "a! a b=2 true false 3");
    }

    #[test]
    fn remove_and_clear_give_entries_to_free() {
        let src = "var freed = []; var c = new algo.Cache(null, (k, v) => freed.push(k + v)); \
            c.set('x', 1); c.set('y', 2); c.set('z', 3); \
            var r = [c.remove('x'), c.remove('nope')]; c.clear(); \
            [r.join(), freed.join(), c.has('y'), String(new algo.Cache().get('k'))].join(' ')";
        assert_eq!(eval(src), "true,false x1,y2,z3 false undefined");
    }

    #[test]
    fn an_entry_older_than_the_ttl_is_absent() {
        let src = "var c = new algo.Cache({ ttl: 0.001 }); c.set('k', 1); var t = Date.now(); \
            while (Date.now() - t < 5); [c.find('k'), c.has('k')].join()";
        assert_eq!(eval(src), ",false");
        assert_eq!(eval("var c = new algo.Cache({ ttl: '1d' }); c.set(1, 'one'); c.get(1)"), "one");
    }
}
