//! `pipeline($=>$...)`: a layout built once, usable wherever a builder is accepted, and run
//! on its own with `spawn`/`process` (js/pipeline_run.rs); and `new pipeline.Hub()`, what
//! `swap` joins streams to.

use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::type_error;
use crate::engine::Layout;
use crate::engine::hub::Hub;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<PipelineTemplate>()?;
    ctx.register_global_builtin_callable(js_string!("pipeline"), 1, NativeFunction::from_fn_ptr(pipeline))?;
    // `Hub` lives under `pipeline`, as in Pipy, not as a global.
    ctx.register_global_class::<HubValue>()?;
    let global = ctx.global_object();
    let hub = global.get(js_string!("Hub"), ctx)?;
    global.delete_property_or_throw(js_string!("Hub"), ctx)?;
    let f = global.get(js_string!("pipeline"), ctx)?;
    let f = f.as_object().ok_or_else(|| type_error("pipeline is missing"))?;
    f.define_property_or_throw(
        js_string!("Hub"),
        boa_engine::property::PropertyDescriptor::builder()
            .value(hub)
            .writable(true)
            .enumerable(false)
            .configurable(true),
        ctx,
    )?;
    // Pipy's legacy `Swap`, which `link(() => swap)` joins two streams with: here a hub.
    let swap =
        NativeFunction::from_fn_ptr(|_, _, ctx| Ok(HubValue::from_data(HubValue { hub: Rc::default() }, ctx)?.into()));
    let swap = boa_engine::object::FunctionObjectBuilder::new(ctx.realm(), swap)
        .name(js_string!("Swap"))
        .constructor(true)
        .build();
    ctx.register_global_property(js_string!("Swap"), swap, boa_engine::property::Attribute::all())?;
    Ok(())
}

#[derive(Trace, Finalize, JsData)]
struct HubValue {
    #[unsafe_ignore_trace]
    hub: Rc<Hub>,
}

impl Class for HubValue {
    const NAME: &'static str = "Hub";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Ok(HubValue { hub: Rc::default() })
    }

    fn init(_: &mut ClassBuilder<'_>) -> JsResult<()> {
        Ok(())
    }
}

/// The hub of a `pipeline.Hub` value.
pub fn hub_of(v: &JsValue) -> Option<Rc<Hub>> {
    v.as_object()?.downcast_ref::<HubValue>().map(|h| h.hub.clone())
}

#[derive(Trace, Finalize, JsData)]
pub struct PipelineTemplate {
    #[unsafe_ignore_trace]
    layout: Rc<Layout>,
}

impl Class for PipelineTemplate {
    const NAME: &'static str = "PipelineTemplate";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("use pipeline($=>$...) to make a pipeline template"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(js_string!("spawn"), 0, NativeFunction::from_fn_ptr(super::pipeline_run::spawn));
        class.method(js_string!("process"), 1, NativeFunction::from_fn_ptr(super::pipeline_run::process));
        Ok(())
    }
}

fn pipeline(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let layout = super::designer::build("pipeline", args.first().unwrap_or(&JsValue::undefined()), ctx)?;
    Ok(PipelineTemplate::from_data(PipelineTemplate { layout }, ctx)?.into())
}

/// The layout of a template made by `pipeline(...)`.
pub fn template_layout(v: &JsValue) -> Option<Rc<Layout>> {
    v.as_object()?.downcast_ref::<PipelineTemplate>().map(|t| t.layout.clone())
}
