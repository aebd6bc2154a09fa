//! The `$` of `$=>$.onStart(...).connect(...)`: the pipeline designer.
//!
//! A builder is called once, at configuration time, with a designer object. Each filter
//! method appends a filter spec and returns the designer, so builders are chains. Joint
//! filters (`fork`, `demuxHTTP`, ...) wait for the `.to(...)` that gives their sub-pipeline.

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, Trace, js_string};

use super::{function, type_error};
use crate::engine::{Layout, StartSpec};
use crate::filters::{self, Joint, Made};

#[derive(Default)]
struct LayoutBuilder {
    on_start: Option<StartSpec>,
    on_end: Option<JsObject>,
    filters: Vec<Box<dyn crate::engine::FilterSpec>>,
    joint: Option<(&'static str, Joint)>,
}

#[derive(Trace, Finalize, JsData)]
pub struct Designer {
    #[unsafe_ignore_trace]
    builder: RefCell<Option<LayoutBuilder>>,
}

impl Class for Designer {
    const NAME: &'static str = "PipelineDesigner";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("a pipeline designer is made by pipy.listen() or pipeline()"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let ctx = class.context();
        let mut methods = vec![
            (js_string!("onStart"), function(ctx, (), |_, this, args, _| with(this, |b| on_start(b, args)))),
            (js_string!("onEnd"), function(ctx, (), |_, this, args, _| with(this, |b| on_end(b, args)))),
            (js_string!("to"), function(ctx, (), |_, this, args, ctx| to(this, args, ctx))),
        ];
        for (name, maker) in filters::ALL {
            let f = function(ctx, (*name, *maker), |(name, maker), this, args, ctx| {
                let made = maker.make(args, ctx)?;
                with(this, |b| {
                    if let Some((joint, _)) = &b.joint {
                        return Err(type_error(format!("missing .to(...) after {joint}()")));
                    }
                    match made {
                        Made::Filter(spec) => b.filters.push(spec),
                        Made::Joint(joint) => b.joint = Some((name, joint)),
                    }
                    Ok(())
                })
            });
            methods.push((JsString::from(*name), f));
        }
        for (name, f) in methods {
            class.property(name, f, boa_engine::property::Attribute::all());
        }
        Ok(())
    }
}

/// Runs `f` on the layout under construction; returns the designer for chaining.
fn with(this: &JsValue, f: impl FnOnce(&mut LayoutBuilder) -> JsResult<()>) -> JsResult<JsValue> {
    let obj = this.as_object().ok_or_else(|| type_error("not a pipeline designer"))?;
    let designer = obj.downcast_ref::<Designer>().ok_or_else(|| type_error("not a pipeline designer"))?;
    let mut slot = designer.builder.borrow_mut();
    let b = slot.as_mut().ok_or_else(|| type_error("pipeline layout is already built"))?;
    f(b)?;
    Ok(this.clone())
}

fn on_start(b: &mut LayoutBuilder, args: &[JsValue]) -> JsResult<()> {
    if b.on_start.is_some() {
        return Err(type_error("duplicate onStart()"));
    }
    if !b.filters.is_empty() || b.joint.is_some() {
        return Err(type_error("onStart() is only allowed prior to all filters"));
    }
    let v = args.first().cloned().unwrap_or_default();
    b.on_start = Some(match v.as_object().filter(|o| o.is_callable()) {
        Some(f) => StartSpec::Function(f.clone()),
        None => StartSpec::Events(v),
    });
    Ok(())
}

fn on_end(b: &mut LayoutBuilder, args: &[JsValue]) -> JsResult<()> {
    if b.on_end.is_some() {
        return Err(type_error("duplicate onEnd()"));
    }
    let f = args.first().and_then(|v| v.as_object()).filter(|o| o.is_callable());
    b.on_end = Some(f.ok_or_else(|| type_error("onEnd() takes a function"))?);
    Ok(())
}

fn to(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let sub = build("sub", args.first().unwrap_or(&JsValue::undefined()), ctx)?;
    with(this, |b| {
        let (_, joint) = b.joint.take().ok_or_else(|| type_error("calling to() without a joint-filter"))?;
        b.filters.push(joint(sub));
        Ok(())
    })
}

/// Builds a layout by calling `builder` with a fresh designer.
pub fn build(name: &str, builder: &JsValue, ctx: &mut Context) -> JsResult<Rc<Layout>> {
    if let Some(layout) = super::pipeline::template_layout(builder) {
        return Ok(layout);
    }
    let f = builder
        .as_object()
        .filter(|o| o.is_callable())
        .ok_or_else(|| type_error("a pipeline builder function ($=>$...) is expected"))?;
    let designer = Designer { builder: RefCell::new(Some(LayoutBuilder::default())) };
    let obj: JsValue = Designer::from_data(designer, ctx)?.into();
    f.call(&JsValue::undefined(), std::slice::from_ref(&obj), ctx)?;
    let taken = obj.as_object().and_then(|o| o.downcast_ref::<Designer>().and_then(|d| d.builder.borrow_mut().take()));
    let b = taken.ok_or_else(|| type_error("pipeline layout is already built"))?;
    if let Some((joint, _)) = b.joint {
        return Err(type_error(format!("missing .to(...) for the last filter ({joint})")));
    }
    Ok(Rc::new(Layout { name: name.to_string(), on_start: b.on_start, on_end: b.on_end, filters: b.filters }))
}
