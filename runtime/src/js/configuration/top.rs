//! The top of a legacy configuration: `pipy(proto)` and its context variables, the plugin
//! namespaces of `.export(ns, vars)` / `.import(vars)`, and putting a finished configuration
//! into effect (the main script's, or a plugin module's for `chain`).
//!
//! Context variables are accessors over per-context slots (see `js::vars`): on the global
//! object for the main script, on the file's own scope object for a plugin file (see
//! `js::modules::plugin`), so two plugins' `_target`s are two slots, while an exported
//! `__name` and its imports, wherever they are, share the slot named after the namespace.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use boa_engine::class::Class;
use boa_engine::property::{Attribute, PropertyDescriptor, PropertyKey};
use boa_engine::{Context, JsObject, JsResult, JsString, JsValue, js_string};

use super::{ACTIVE, Configuration, Kind, Registry, State, with};
use crate::engine::{self, Layout, Pipeline};
use crate::js::state::with_state;
use crate::js::{current, function, modules, type_error};

thread_local! {
    /// Variable names published under each namespace by `.export`.
    static EXPORTS: RefCell<HashMap<String, Vec<String>>> = RefCell::new(HashMap::new());
    /// `(variable, namespace, file)` of every `.import`, checked once all modules loaded.
    static IMPORTS: RefCell<Vec<(String, String, String)>> = const { RefCell::new(Vec::new()) };
}

/// `.export(ns, {__name: init, ...})`: context variables of this module, visible to the
/// modules that import them from `ns`.
pub(super) fn export(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let ns = args.first().map(|v| v.to_string(ctx)).transpose()?.map(|s| s.to_std_string_escaped());
    let ns = ns.filter(|n| !n.is_empty()).ok_or_else(|| type_error("export(): namespace cannot be empty"))?;
    let vars =
        args.get(1).and_then(|v| v.as_object()).ok_or_else(|| type_error("export(): variable list cannot be null"))?;
    let names = define_context_variables(&vars, |name| format!("{ns}.{name}"), ctx)?;
    EXPORTS.with(|e| e.borrow_mut().entry(ns).or_default().extend(names));
    with(this, |_| Ok(()))
}

/// `.import({__name: 'ns', ...})`: use the variables another module exported.
pub(super) fn import(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let vars =
        args.first().and_then(|v| v.as_object()).ok_or_else(|| type_error("import(): variable list cannot be null"))?;
    let (scope, file) = target(ctx);
    let file = file.unwrap_or_else(|| with_state(|s| s.script_path.display().to_string()));
    for key in vars.own_property_keys(ctx)? {
        let PropertyKey::String(name) = &key else { continue };
        let name = name.to_std_string_escaped();
        let ns = vars.get(key.clone(), ctx)?;
        let ns = ns.as_string().map(|s| s.to_std_string_escaped()).filter(|s| !s.is_empty());
        let ns = ns.ok_or_else(|| type_error(format!("namespace expected for import: {name}")))?;
        crate::js::vars::define_on(&scope, &name, &format!("{ns}.{name}"), ctx)?;
        IMPORTS.with(|i| i.borrow_mut().push((name, ns, file.clone())));
    }
    with(this, |_| Ok(()))
}

/// Every `.import` names a variable some module exported (Pipy binds imports once all
/// modules have loaded, so an export may come after its import).
pub fn check_imports() -> Result<(), String> {
    let imports = IMPORTS.with(|i| std::mem::take(&mut *i.borrow_mut()));
    for (name, ns, file) in imports {
        let found = EXPORTS.with(|e| e.borrow().get(&ns).is_some_and(|names| names.contains(&name)));
        if !found {
            return Err(format!("cannot import variable {name} in {file}"));
        }
    }
    Ok(())
}

/// `pipy(proto?)`: a new configuration; `proto`'s keys become context variables.
pub fn pipy(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let proto = match args.first() {
        Some(v) if v.as_object().is_some_and(|o| o.is_callable()) => {
            v.as_object().unwrap().call(&JsValue::undefined(), &[], ctx)?
        }
        Some(v) => v.clone(),
        None => JsValue::undefined(),
    };
    if let Some(o) = proto.as_object() {
        let file = target(ctx).1;
        define_context_variables(&o, |name| file.as_ref().map_or(name.to_string(), |f| format!("{f}#{name}")), ctx)?;
    } else if !proto.is_null_or_undefined() {
        return Err(type_error(format!("pipy(): the context prototype must be an object, got {}", proto.display())));
    }
    let registry = Rc::new(Registry::default());
    ACTIVE.with(|a| *a.borrow_mut() = Some(registry.clone()));
    let state = State { registry, sub: false, current: None, done: Vec::new() };
    Ok(Configuration::from_data(Configuration { state: RefCell::new(state) }, ctx)?.into())
}

/// Where a legacy module's variables go: the scope object of the plugin file being loaded
/// (with that file's path), else the global object.
fn target(ctx: &Context) -> (JsObject, Option<String>) {
    match modules::current_scope(ctx) {
        Some((scope, file)) => (scope, Some(file)),
        None => (ctx.global_object(), None),
    }
}

/// Defines the variables of `proto` with their initial values, each in the slot named
/// `key(name)`; returns their names.
fn define_context_variables(
    proto: &JsObject,
    key: impl Fn(&str) -> String,
    ctx: &mut Context,
) -> JsResult<Vec<String>> {
    let (scope, _) = target(ctx);
    let mut names = Vec::new();
    for k in proto.own_property_keys(ctx)? {
        let PropertyKey::String(name) = &k else { continue };
        let init = proto.get(k.clone(), ctx)?;
        let name = name.to_std_string_escaped();
        crate::js::vars::define_on(&scope, &name, &key(&name), ctx)?;
        // The setter writes the current (loading) context, which new contexts copy from.
        scope.set(k, init, false, ctx)?;
        names.push(name);
    }
    Ok(names)
}

/// Globals every script has: `pipy()` itself is in `js::pipy`; these are `__inbound` and
/// `__filename`.
pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<Configuration>()?;
    ctx.global_object().delete_property_or_throw(js_string!("Configuration"), ctx)?;
    let inbound = function(ctx, (), |_, _, _, ctx| match current().and_then(|c| c.inbound.clone()) {
        Some(info) => crate::js::inbound::to_js(&info, ctx),
        None => Ok(JsValue::null()),
    });
    let desc = PropertyDescriptor::builder().get(inbound).enumerable(false).configurable(false);
    ctx.global_object().define_property_or_throw(js_string!("__inbound"), desc, ctx)?;
    let file = with_state(|s| s.script_path.file_name().map(|n| format!("/{}", n.to_string_lossy())));
    ctx.register_global_property(
        js_string!("__filename"),
        JsString::from(file.unwrap_or_default()),
        Attribute::READONLY,
    )?;
    Ok(())
}

/// Puts a configuration that is the script's value into effect: its listeners go to the
/// worker, its tasks start once the worker runs. Other values are left alone.
/// Whether a script's value is a configuration (`pipy()...`), which is put into effect, not
/// printed, even for `-e`: `weir -e "pipy().listen(8080).serveHTTP(...)"` serves, as in Pipy.
pub fn is_configuration(value: &JsValue) -> bool {
    value.as_object().is_some_and(|o| o.is::<Configuration>())
}

pub fn apply(value: &JsValue) -> Result<(), String> {
    install(value).map(|_| ())
}

/// A plugin module's value, put into effect like the main script's; its entrance pipeline
/// (`.pipeline()`) is what `chain()` runs, its named ones what `use()` may run.
///
/// A module written the 1.0 way has no configuration: its value (an ES module's default
/// export) is a pipeline template, its entrance, or an object whose pipeline-template
/// properties are its named pipelines.
pub fn pipelines(value: &JsValue, ctx: &mut Context) -> Result<modules::Plugin, String> {
    if let Some(layout) = crate::js::pipeline::template_layout(value) {
        return Ok(modules::Plugin { entrance: Some(layout), named: None });
    }
    if let Some(o) = value.as_object().filter(|o| !o.is::<Configuration>() && !o.is_callable()) {
        return Ok(modules::Plugin { entrance: None, named: Some(templates(&o, ctx).map_err(|e| e.to_string())?) });
    }
    let named =
        value.as_object().and_then(|o| o.downcast_ref::<Configuration>().map(|c| c.state.borrow().registry.clone()));
    Ok(modules::Plugin { entrance: install(value)?, named })
}

/// The pipeline templates among `o`'s own enumerable properties, by name.
fn templates(o: &JsObject, ctx: &mut Context) -> JsResult<Rc<Registry>> {
    let registry = Rc::new(Registry::default());
    for key in o.own_property_keys(ctx)? {
        let name = match &key {
            PropertyKey::String(s) => s.to_std_string_escaped(),
            PropertyKey::Index(i) => i.get().to_string(),
            PropertyKey::Symbol(_) => continue,
        };
        if let Some(layout) = crate::js::pipeline::template_layout(&o.get(key, ctx)?) {
            registry.insert(name, layout);
        }
    }
    Ok(registry)
}

fn install(value: &JsValue) -> Result<Option<Rc<Layout>>, String> {
    let Some(obj) = value.as_object().filter(|o| o.is::<Configuration>()) else { return Ok(None) };
    let Some(config) = obj.downcast_ref::<Configuration>() else { return Ok(None) };
    let mut state = config.state.borrow_mut();
    if state.sub {
        return Ok(None);
    }
    state.close().map_err(|e| e.to_string())?;
    let mut entrance = None;
    for (kind, layout) in state.done.drain(..) {
        match kind {
            Kind::Listeners(listeners) => super::super::listener_array::apply(&listeners, layout)?,
            Kind::Listen(o) => {
                let spec = o.spec(layout);
                with_state(|s| {
                    s.listeners.retain(|l| l.addr != o.addr || l.protocol != o.protocol);
                    s.listeners.push(spec);
                });
            }
            Kind::Task(every) => {
                // The root of the script being loaded (a reload's, not the one serving yet).
                let root = crate::js::current().unwrap_or_else(crate::js::state::root);
                tokio::task::spawn_local(run_task(layout, every, root));
            }
            Kind::Watch(file) => {
                let root = crate::js::current().unwrap_or_else(crate::js::state::root);
                let path = with_state(|s| s.script_dir.join(file.trim_start_matches('/')));
                tokio::task::spawn_local(run_watch(layout, path, root));
            }
            Kind::Exit(slot) => *slot.borrow_mut() = Some(layout),
            Kind::Entrance => entrance = Some(layout),
            Kind::Named(_) | Kind::Sub => {}
        }
    }
    Ok(entrance)
}

/// Starts `layout` in `context`; the receiver hears when its output ends. The pipeline runs
/// as long as it is kept.
fn start_until_end(layout: Rc<Layout>, context: Rc<engine::Context>) -> (Pipeline, tokio::sync::oneshot::Receiver<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = RefCell::new(Some(tx));
    let sink = move |evt: engine::Event| {
        if let Some(tx) = tx.borrow_mut().take_if(|_| evt.is_stream_end()) {
            let _ = tx.send(());
        }
    };
    let p = Pipeline::new(layout, context, Rc::new(sink));
    p.start(&[]);
    (p, rx)
}

/// Runs a task pipeline once, or every `every` (a run starts only after the previous one
/// ended). Each run has a fresh context and lasts until its output ends.
async fn run_task(layout: Rc<Layout>, every: Option<Duration>, root: Rc<engine::Context>) {
    // A task of a script reloaded away ends with it.
    while !crate::js::state::retired(&root) {
        let (p, rx) = start_until_end(layout.clone(), root.copy(None));
        match every {
            None => {
                let _ = rx.await;
                return;
            }
            Some(d) => {
                let (_, _) = tokio::join!(tokio::time::sleep(d), rx);
            }
        }
        drop(p);
    }
}

/// Runs a `.watch(file)` pipeline, in a fresh context, after each change of the file seen
/// while no run is under way.
async fn run_watch(layout: Rc<Layout>, path: std::path::PathBuf, root: Rc<engine::Context>) {
    use crate::js::watch::{changed, stamp};
    while changed(&path, stamp(&path), &root).await {
        let (p, rx) = start_until_end(layout.clone(), root.copy(None));
        let _ = rx.await;
        drop(p);
    }
}

/// An `.exit()` pipeline as an exit callback: started in the callback's fresh context, it
/// returns a promise that settles when the pipeline's output ends.
pub(super) fn exit_pipeline(
    slot: &super::ExitSlot,
    _: &JsValue,
    _: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let Some(layout) = slot.borrow().clone() else { return Ok(JsValue::undefined()) };
    let context = current().unwrap_or_else(crate::js::state::root);
    let (promise, resolvers) = boa_engine::object::builtins::JsPromise::new_pending(ctx);
    // Started from a task of its own: its callbacks cannot run inside this one.
    tokio::task::spawn_local(async move {
        let (p, rx) = start_until_end(layout, context);
        let _ = rx.await;
        drop(p);
        crate::js::call_when_free(move || {
            crate::js::with_js(|ctx| {
                let _ = resolvers.resolve.call(&JsValue::undefined(), &[], ctx);
                let _ = ctx.run_jobs();
            });
        });
    });
    Ok(promise.into())
}
