//! `algo.ResourcePool(allocator)`: reusable resources per tag, as Pipy's.
//!
//! `allocate(tag)` hands out a freed resource of that tag, oldest first, or makes a new one
//! with `allocator(tag)`; `free(resource)` gives one back to its tag's pool (a resource this
//! pool did not hand out is ignored). Resources and tags compare as JS `Map` keys do: by
//! value for strings and numbers, by identity for objects, as Pipy's value maps.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::{JsArray, JsMap};
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsValue, NativeFunction, Trace};

use super::{arg, method};
use crate::js::{function_arg, type_error};

#[derive(Trace, Finalize, JsData)]
pub struct ResourcePool {
    allocator: JsObject,
    /// Tag to the array of its free resources.
    pools: JsMap,
    /// Resource handed out to its tag.
    allocated: JsMap,
}

impl Class for ResourcePool {
    const NAME: &'static str = "ResourcePool";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let allocator = function_arg(args, 0, "ResourcePool")?;
        Ok(ResourcePool { allocator, pools: JsMap::new(ctx), allocated: JsMap::new(ctx) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        method(class, "allocate", 1, NativeFunction::from_fn_ptr(allocate));
        method(class, "free", 1, NativeFunction::from_fn_ptr(free));
        Ok(())
    }
}

fn pool_of(this: &JsValue) -> JsResult<(JsObject, JsMap, JsMap)> {
    let obj = this.as_object().ok_or_else(|| type_error("not a ResourcePool"))?;
    let p = obj.downcast_ref::<ResourcePool>().ok_or_else(|| type_error("not a ResourcePool"))?;
    Ok((p.allocator.clone(), p.pools.clone(), p.allocated.clone()))
}

fn allocate(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (allocator, pools, allocated) = pool_of(this)?;
    let tag = arg(args, 0);
    let free = pools.get(tag.clone(), ctx)?;
    let reused = match free.as_object() {
        Some(list) => {
            let list = JsArray::from_object(list)?;
            if list.length(ctx)? > 0 { Some(list.shift(ctx)?) } else { None }
        }
        None => None,
    };
    let resource = match reused {
        Some(r) => r,
        None => allocator.call(&JsValue::undefined(), std::slice::from_ref(&tag), ctx)?,
    };
    allocated.set(resource.clone(), tag, ctx)?;
    Ok(resource)
}

fn free(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (_, pools, allocated) = pool_of(this)?;
    let resource = arg(args, 0);
    if !allocated.has(resource.clone(), ctx)?.to_boolean() {
        return Ok(JsValue::undefined());
    }
    let tag = allocated.get(resource.clone(), ctx)?;
    allocated.delete(resource.clone(), ctx)?;
    let list = match pools.get(tag.clone(), ctx)?.as_object() {
        Some(list) => JsArray::from_object(list)?,
        None => {
            let list = JsArray::new(ctx)?;
            pools.set(tag, list.clone(), ctx)?;
            list
        }
    };
    list.push(resource, ctx)?;
    Ok(JsValue::undefined())
}

#[cfg(test)]
mod tests {
    use crate::js::eval_to_string as eval;

    /// As the bpf/load-balancer sample uses it: ids from a counter, freed ids reused first.
    #[test]
    fn freed_resources_are_handed_out_again_before_new_ones() {
        let src = "var n = 1; var p = new algo.ResourcePool(() => n++); \
            var a = p.allocate(), b = p.allocate(), c = p.allocate(); \
            p.free(b); p.free(a); p.free('1'); p.free(99); \
            [a, b, c, p.allocate(), p.allocate(), p.allocate()].join(' ')";
        assert_eq!(eval(src), "1 2 3 2 1 4");
    }

    #[test]
    fn each_tag_has_its_own_pool_and_the_allocator_sees_the_tag() {
        let src = "var p = new algo.ResourcePool(t => ({ t })); \
            var x = p.allocate('x'); p.free(x); \
            [p.allocate('y').t, p.allocate('x') === x, p.allocate('x') === x].join(' ')";
        assert_eq!(eval(src), "y true false");
    }
}
