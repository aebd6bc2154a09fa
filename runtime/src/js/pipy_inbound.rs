//! `pipy.inbound`: this worker's open inbound connections (TCP, and UDP peers), as Pipy's:
//! `count`, and `forEach(fn)` calling `fn(inbound)` with the same inbound objects a
//! listener's `onStart` gets, oldest first; a callback that throws stops the walk.

use boa_engine::native_function::NativeFunctionPointer;
use boa_engine::object::{FunctionObjectBuilder, JsObject, ObjectInitializer};
use boa_engine::property::PropertyDescriptor;
use boa_engine::{Context, JsResult, JsValue, NativeFunction, js_string};

use super::{function_arg, inbound};
use crate::engine::inbound::live;

fn for_each(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = function_arg(args, 0, "pipy.inbound.forEach")?;
    for info in live() {
        let ib = inbound::to_js(&info, ctx)?;
        f.call(&JsValue::undefined(), &[ib], ctx)?;
    }
    Ok(JsValue::undefined())
}

pub fn make(ctx: &mut Context) -> JsResult<JsObject> {
    list(ctx, for_each, || live().len())
}

/// `{ count, forEach }` over a worker's live connections (also `pipy.outbound`'s).
pub(super) fn list(ctx: &mut Context, for_each: NativeFunctionPointer, count: fn() -> usize) -> JsResult<JsObject> {
    let o =
        ObjectInitializer::new(ctx).function(NativeFunction::from_fn_ptr(for_each), js_string!("forEach"), 1).build();
    let count = NativeFunction::from_copy_closure(move |_, _, _| Ok((count() as u32).into()));
    let count = FunctionObjectBuilder::new(ctx.realm(), count).name(js_string!("count")).build();
    let desc = PropertyDescriptor::builder().get(count).enumerable(true).configurable(true);
    o.define_property_or_throw(js_string!("count"), desc, ctx)?;
    Ok(o)
}
