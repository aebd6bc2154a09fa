//! The `$` of `$=>$.onStart(...).connect(...)`: the pipeline designer.
//!
//! A builder is called once, at configuration time, with a designer object. Each filter
//! method appends a filter spec and returns the designer, so builders are chains. Joint
//! filters (`fork`, `demuxHTTP`, ...) wait for the `.to(...)` that gives their sub-pipeline.

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsString, JsValue, Trace, js_string};

use super::layout::{self, LayoutBuilder};
use super::{function, type_error};
use crate::engine::Layout;
use crate::filters;

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
            (js_string!("onStart"), function(ctx, (), |_, this, args, _| with(this, |b| b.on_start(first(args))))),
            (js_string!("onEnd"), function(ctx, (), |_, this, args, _| with(this, |b| b.on_end(&first(args))))),
            (js_string!("to"), function(ctx, (), |_, this, args, ctx| to(this, args, ctx))),
            // The legacy configuration's `use` (js/configuration/use_.rs), on the designer too.
            (
                js_string!("use"),
                function(ctx, (), |_, this, args, ctx| {
                    let made = layout::make("use", filters::Maker::Plain(super::configuration::make_use), args, ctx)?;
                    with(this, |b| b.add("use", made))
                }),
            ),
        ];
        for (name, maker) in filters::ALL {
            let f = function(ctx, (*name, *maker), |(name, maker), this, args, ctx| {
                let made = layout::make(name, *maker, args, ctx)?;
                with(this, |b| b.add(name, made))
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

fn first(args: &[JsValue]) -> JsValue {
    args.first().cloned().unwrap_or_default()
}

fn to(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let sub = build("sub", args.first().unwrap_or(&JsValue::undefined()), ctx)?;
    with(this, |b| b.to(sub))
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
    let builder = LayoutBuilder::in_module(ctx);
    let designer = Designer { builder: RefCell::new(Some(builder)) };
    let obj: JsValue = Designer::from_data(designer, ctx)?.into();
    f.call(&JsValue::undefined(), std::slice::from_ref(&obj), ctx)?;
    let taken = obj.as_object().and_then(|o| o.downcast_ref::<Designer>().and_then(|d| d.builder.borrow_mut().take()));
    let b = taken.ok_or_else(|| type_error("pipeline layout is already built"))?;
    b.finish(name)
}
