//! `pipeline($=>$...)`: a layout built once, usable wherever a builder is accepted, and run
//! on its own with `spawn`/`process` (js/pipeline_run.rs).

use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::type_error;
use crate::engine::Layout;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<PipelineTemplate>()?;
    ctx.register_global_builtin_callable(js_string!("pipeline"), 1, NativeFunction::from_fn_ptr(pipeline))?;
    Ok(())
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
