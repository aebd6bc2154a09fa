//! `pipy.outbound`: this worker's outbound connections (those `connect` opened, TCP and
//! UDP), as Pipy's: `count`, and `forEach(fn)` calling `fn(outbound)` oldest first; a callback
//! that throws stops the walk. An outbound is listed from the moment its `connect` asks for
//! it until its pipeline and its socket are both gone, closed or not, as in Pipy.

use boa_engine::object::{FunctionObjectBuilder, JsObject, ObjectInitializer};
use boa_engine::property::PropertyDescriptor;
use boa_engine::{Context, JsResult, JsValue, NativeFunction, js_string};

use super::{function_arg, outbound};
use crate::engine::outbound::live;

fn for_each(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = function_arg(args, 0, "pipy.outbound.forEach")?;
    for info in live() {
        let ob = outbound::to_js(&info, ctx)?;
        f.call(&JsValue::undefined(), &[ob], ctx)?;
    }
    Ok(JsValue::undefined())
}

pub fn make(ctx: &mut Context) -> JsResult<JsObject> {
    let o =
        ObjectInitializer::new(ctx).function(NativeFunction::from_fn_ptr(for_each), js_string!("forEach"), 1).build();
    let count = NativeFunction::from_fn_ptr(|_, _, _| Ok((live().len() as u32).into()));
    let count = FunctionObjectBuilder::new(ctx.realm(), count).name(js_string!("count")).build();
    let desc = PropertyDescriptor::builder().get(count).enumerable(true).configurable(true);
    o.define_property_or_throw(js_string!("count"), desc, ctx)?;
    Ok(o)
}
