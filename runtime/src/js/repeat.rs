//! The global `repeat(f)`, `repeat(count, f)` and `repeat(array, f)`: calls `f` with each
//! index (or item and index) until it returns something other than `undefined`, and returns
//! that (or `undefined` once the count or array is used up). `repeat(f)` alone goes on for
//! as long as `f` returns `undefined`, which is how scripts write loops as expressions.

use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, JsObject, JsResult, JsValue, NativeFunction, js_string};

use super::type_error;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_builtin_callable(js_string!("repeat"), 1, NativeFunction::from_fn_ptr(repeat))?;
    Ok(())
}

fn callable(v: Option<&JsValue>) -> Option<JsObject> {
    v?.as_object().filter(|o| o.is_callable())
}

fn repeat(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let first = args.first().cloned().unwrap_or_default();
    if let Some(f) = callable(Some(&first)) {
        for i in 0u32.. {
            let r = f.call(&JsValue::undefined(), &[i.into()], ctx)?;
            if !r.is_undefined() {
                return Ok(r);
            }
        }
    }
    let f = callable(args.get(1))
        .ok_or_else(|| type_error("repeat() takes a function, or a count or an array and a function"))?;
    if let Some(arr) = first.as_object().filter(|o| o.is_array()) {
        let arr = JsArray::from_object(arr.clone())?;
        for i in 0..arr.length(ctx)? {
            let item = arr.get(i, ctx)?;
            let r = f.call(&JsValue::undefined(), &[item, JsValue::from(i as u32)], ctx)?;
            if !r.is_undefined() {
                return Ok(r);
            }
        }
    } else if let Some(n) = first.as_number() {
        for i in 0..n.max(0.0) as u32 {
            let r = f.call(&JsValue::undefined(), &[i.into()], ctx)?;
            if !r.is_undefined() {
                return Ok(r);
            }
        }
    } else {
        return Err(type_error("repeat() takes a function, or a count or an array and a function"));
    }
    Ok(JsValue::undefined())
}
