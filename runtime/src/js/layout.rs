//! A pipeline layout under construction, as both ways of writing one build it: the 1.0
//! designer (`$=>$.onStart(...).connect(...)`, `js/designer.rs`) and the legacy
//! configuration (`pipy().listen(8080).connect(...)`, `js/configuration`). Also the
//! [`Builder`] through which filters read sub-pipelines and script objects from their
//! arguments.

use std::rc::Rc;

use boa_engine::{Context, JsObject, JsResult, JsValue};

use super::type_error;
use crate::args::{Args, Builder};
use crate::engine::quota::Bucket;
use crate::engine::{FilterSpec, Layout, Registry, StartSpec, SubRef};
use crate::filters::{Joint, Made, Maker};
use crate::tls_material::Material;

#[derive(Default)]
pub struct LayoutBuilder {
    on_start: Option<StartSpec>,
    on_end: Option<JsObject>,
    filters: Vec<Box<dyn FilterSpec>>,
    /// A joint filter waiting for its `.to(...)`.
    joint: Option<(&'static str, Joint)>,
    /// The script file it is built in (see [`module_label`]); empty: the main script.
    module: String,
}

/// The file the running script code is in, as Pipy's `pipy_pipeline_count` names it: its
/// path from the main script's folder, with a leading slash (`/main.js`).
pub fn module_label(ctx: &Context) -> String {
    let (main, dir) = super::state::with_state(|s| (s.script_path.clone(), s.script_dir.clone()));
    let path = match ctx.get_active_script_or_module() {
        Some(boa_engine::vm::ActiveRunnable::Module(m)) => m.path().map(|p| p.to_path_buf()).unwrap_or(main),
        _ => main,
    };
    let relative = path.strip_prefix(&dir).unwrap_or(&path);
    format!("/{}", relative.display()).replace("//", "/")
}

impl LayoutBuilder {
    /// A builder in the script file running now (see [`module_label`]).
    pub fn in_module(ctx: &Context) -> LayoutBuilder {
        LayoutBuilder { module: module_label(ctx), ..Default::default() }
    }

    /// `onStart(fn | events)`, before any filter.
    pub fn on_start(&mut self, v: JsValue) -> JsResult<()> {
        if self.on_start.is_some() {
            return Err(type_error("duplicate onStart()"));
        }
        if !self.filters.is_empty() || self.joint.is_some() {
            return Err(type_error("onStart() is only allowed prior to all filters"));
        }
        self.on_start = Some(match v.as_object().filter(|o| o.is_callable()) {
            Some(f) => StartSpec::Function(f.clone()),
            None => StartSpec::Events(v),
        });
        Ok(())
    }

    /// `onEnd(fn)`.
    pub fn on_end(&mut self, v: &JsValue) -> JsResult<()> {
        if self.on_end.is_some() {
            return Err(type_error("duplicate onEnd()"));
        }
        let f = v.as_object().filter(|o| o.is_callable());
        self.on_end = Some(f.ok_or_else(|| type_error("onEnd() takes a function"))?);
        Ok(())
    }

    /// Appends what filter method `name` made; a joint waits for its `.to(...)`.
    pub fn add(&mut self, name: &'static str, made: Made) -> JsResult<()> {
        if let Some((joint, _)) = &self.joint {
            return Err(type_error(format!("missing .to(...) after {joint}()")));
        }
        match made {
            Made::Filter(spec) => self.filters.push(spec),
            Made::Joint(joint) => self.joint = Some((name, joint)),
        }
        Ok(())
    }

    /// `.to(sub)`: completes the waiting joint filter with its sub-pipeline.
    pub fn to(&mut self, sub: Rc<Layout>) -> JsResult<()> {
        let (_, joint) = self.joint.take().ok_or_else(|| type_error("calling to() without a joint-filter"))?;
        self.filters.push(joint(sub));
        Ok(())
    }

    /// The layout, named `name`, once no joint waits for its `.to(...)`.
    pub fn finish(self, name: &str) -> JsResult<Rc<Layout>> {
        if let Some((joint, _)) = self.joint {
            return Err(type_error(format!("missing .to(...) for the last filter ({joint}) of pipeline '{name}'")));
        }
        let module = match self.module.is_empty() {
            true => super::state::with_state(|s| {
                let file = s.script_path.file_name().map(|f| f.to_string_lossy().into_owned());
                format!("/{}", file.unwrap_or_default())
            }),
            false => self.module,
        };
        Ok(Rc::new(Layout {
            name: name.to_string(),
            module,
            on_start: self.on_start,
            on_end: self.on_end,
            filters: self.filters,
            ..Default::default()
        }))
    }
}

/// Makes the filter of method `name` from the arguments a script called it with.
pub fn make(name: &'static str, maker: Maker, args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    maker.make(&mut Args::new(name, args, ctx, &ScriptBuilder))
}

/// What filters read through [`Args`] beyond plain values, from this worker's script.
struct ScriptBuilder;

impl Builder for ScriptBuilder {
    fn sub(&self, v: &JsValue, ctx: &mut Context) -> JsResult<SubRef> {
        super::configuration::sub_ref(v, ctx)
    }

    fn registry(&self) -> Option<Rc<Registry>> {
        super::configuration::active_registry()
    }

    fn check_events(&self, v: &JsValue, ctx: &mut Context) -> Result<(), String> {
        super::events::from_value(v, ctx).map(drop)
    }

    fn quota(&self, v: &JsValue) -> Option<Rc<Bucket>> {
        super::algo::quota::bucket_of(v)
    }

    fn material(&self, v: &JsValue) -> Option<Material> {
        super::crypto::material_of(v)
    }
}
