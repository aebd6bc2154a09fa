//! `pipy.outbound`: this worker's outbound connections (those `connect` opened, TCP and
//! UDP), as Pipy's: `count`, and `forEach(fn)` calling `fn(outbound)` oldest first; a callback
//! that throws stops the walk. An outbound is listed from the moment its `connect` asks for
//! it until its pipeline and its socket are both gone, closed or not, as in Pipy.

use boa_engine::object::JsObject;
use boa_engine::{Context, JsResult, JsValue};

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
    super::pipy_inbound::list(ctx, for_each, || live().len())
}
