//! The legacy configuration style: `pipy({_var: init}).listen(8080).serveHTTP(...)...`.
//!
//! `pipy(proto?)` returns a `Configuration`. Its `listen`, `pipeline` and `task` methods each
//! start a new pipeline definition, and the filter methods (the same makers as the 1.0
//! designer's, plus the legacy ones) append to the latest. Joint filters take `.to(...)` with
//! a builder (which gets a configurator for an anonymous sub-pipeline) or the name of a
//! `.pipeline(name)`. Names may refer to pipelines defined further down, so they are looked up
//! when a pipeline is instantiated, in the configuration's [`Registry`].
//!
//! Nothing is listened on while the script runs: when the script's value is a
//! configuration, the worker calls [`apply`], which hands the listeners to the worker and
//! starts the tasks.
//!
//! Legacy context variables (the keys of `proto`) become global accessors over per-context
//! slots, like `$` variables (see `js::vars`); `__inbound` reads the current context's
//! inbound and `__filename` names the script.

mod chain;
mod top;
mod use_;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, Trace};

use super::layout::{self, LayoutBuilder};
use super::listen_options::ListenOptions;
use super::{function, type_error};
use crate::engine::{Layout, Registry, SubRef};
use crate::filters::{self, Made};
use crate::net::listener::{self, Transport};
pub use top::{apply, check_imports, is_configuration, pipelines, pipy, register};
pub use use_::make as make_use;

thread_local! {
    /// The registry of the configuration made last: pipeline names in the script refer to it.
    static ACTIVE: RefCell<Option<Rc<Registry>>> = const { RefCell::new(None) };
    /// Above zero while a configuration method runs, so that builders given to filters
    /// (`branch`, `.to`) get a legacy configurator rather than a 1.0 designer.
    static LEGACY: Cell<usize> = const { Cell::new(0) };
}

/// Forgets the registry (at worker teardown: its layouts hold script functions).
pub fn uninstall() {
    ACTIVE.with(|a| a.borrow_mut().take());
}

/// Puts `registry` in place of the active one and returns that (a reload starts the new
/// script with none, and puts the old one back if the new script fails).
pub fn replace_active(registry: Option<Rc<Registry>>) -> Option<Rc<Registry>> {
    ACTIVE.with(|a| std::mem::replace(&mut *a.borrow_mut(), registry))
}

pub fn active_registry() -> Option<Rc<Registry>> {
    ACTIVE.with(|a| a.borrow().clone())
}

struct LegacyGuard;

impl LegacyGuard {
    fn enter(registry: &Rc<Registry>) -> LegacyGuard {
        ACTIVE.with(|a| *a.borrow_mut() = Some(registry.clone()));
        LEGACY.with(|l| l.set(l.get() + 1));
        LegacyGuard
    }
}

impl Drop for LegacyGuard {
    fn drop(&mut self) {
        LEGACY.with(|l| l.set(l.get() - 1));
    }
}

/// A sub-pipeline argument: a pipeline name, a template, or a builder function.
pub fn sub_ref(v: &JsValue, ctx: &mut Context) -> JsResult<SubRef> {
    if let Some(name) = v.as_string() {
        let name = name.to_std_string_escaped();
        let registry = active_registry()
            .ok_or_else(|| type_error(format!("pipeline name '{name}' needs a legacy pipy() configuration")))?;
        return Ok(SubRef::Named(registry, name));
    }
    build_sub(v, ctx).map(SubRef::Layout)
}

fn build_sub(v: &JsValue, ctx: &mut Context) -> JsResult<Rc<Layout>> {
    match active_registry() {
        Some(registry) if LEGACY.with(|l| l.get()) > 0 && super::pipeline::template_layout(v).is_none() => {
            let f = v.as_object().filter(|o| o.is_callable()).ok_or_else(|| {
                type_error(format!("a sub-pipeline builder function is expected, got {}", v.display()))
            })?;
            build_legacy(&f, registry, ctx)
        }
        _ => super::designer::build("sub", v, ctx),
    }
}

/// Calls a legacy sub-pipeline builder with a configurator of its own.
fn build_legacy(f: &JsObject, registry: Rc<Registry>, ctx: &mut Context) -> JsResult<Rc<Layout>> {
    let state = State { registry, sub: true, current: Some(Pending::new(Kind::Sub)), done: Vec::new() };
    let obj: JsValue = Configuration::from_data(Configuration { state: RefCell::new(state) }, ctx)?.into();
    f.call(&JsValue::undefined(), std::slice::from_ref(&obj), ctx)?;
    let config =
        obj.as_object().and_then(|o| o.downcast_ref::<Configuration>().map(|c| c.state.borrow_mut().current.take()));
    let pending = config.flatten().ok_or_else(|| type_error("pipeline layout is already built"))?;
    pending.layout.finish("sub")
}

enum Kind {
    Listen(Box<ListenOptions>),
    /// `.listen(listenerArray)`: every address of the array, as it changes.
    Listeners(super::listener_array::Shared),
    Named(String),
    Entrance,
    Task(Option<Duration>),
    /// `.watch(file)`: run each time the file changes.
    Watch(String),
    /// `.exit()`: run when the worker stops; the slot its exit callback reads the layout from.
    Exit(ExitSlot),
    Sub,
}

/// The layout of an `.exit()` pipeline, once its configuration is put into effect.
type ExitSlot = Rc<RefCell<Option<Rc<Layout>>>>;

struct Pending {
    kind: Kind,
    layout: LayoutBuilder,
}

impl Pending {
    fn new(kind: Kind) -> Pending {
        Pending { kind, layout: LayoutBuilder::default() }
    }

    fn name(&self) -> String {
        match &self.kind {
            Kind::Listen(o) => format!("Listen on {}", o.addr),
            Kind::Listeners(_) => "Listen on ListenerArray".into(),
            Kind::Named(n) => n.clone(),
            Kind::Entrance => "entrance".into(),
            Kind::Task(_) => "task".into(),
            Kind::Watch(f) => format!("Watch {f}"),
            Kind::Exit(_) => "exit".into(),
            Kind::Sub => "sub".into(),
        }
    }
}

struct State {
    registry: Rc<Registry>,
    /// A configurator given to a sub-pipeline builder: filters only.
    sub: bool,
    current: Option<Pending>,
    done: Vec<(Kind, Rc<Layout>)>,
}

impl State {
    /// Completes the pipeline being defined, making it reachable by name.
    fn close(&mut self) -> JsResult<()> {
        let Some(p) = self.current.take() else { return Ok(()) };
        let name = p.name();
        let layout = p.layout.finish(&name)?;
        if let Kind::Named(n) = &p.kind {
            self.registry.insert(n.clone(), layout.clone());
        }
        self.done.push((p.kind, layout));
        Ok(())
    }
}

#[derive(Trace, Finalize, JsData)]
pub struct Configuration {
    #[unsafe_ignore_trace]
    state: RefCell<State>,
}

type Method = fn(&JsValue, &[JsValue], &mut Context) -> JsResult<JsValue>;

impl Class for Configuration {
    const NAME: &'static str = "Configuration";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("a configuration is made by pipy()"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let own: [(&str, Method); 14] = [
            ("listen", listen),
            ("pipeline", pipeline),
            ("task", task),
            ("watch", watch),
            ("exit", exit),
            ("repeat", repeat),
            ("onStart", on_start),
            ("onEnd", on_end),
            ("to", to),
            ("fork", fork),
            ("chain", |this, args, ctx| add_filter(this, "chain", filters::Maker::Plain(chain::make), args, ctx)),
            ("use", |this, args, ctx| add_filter(this, "use", filters::Maker::Plain(use_::make), args, ctx)),
            ("export", top::export),
            ("import", top::import),
        ];
        let ctx = class.context();
        let mut methods: Vec<(JsString, _)> = Vec::new();
        for (name, f) in own {
            methods.push((JsString::from(name), function(ctx, f, |f, this, args, ctx| f(this, args, ctx))));
        }
        for (name, maker) in filters::ALL.iter().chain(filters::LEGACY) {
            if own.iter().any(|(n, _)| n == name) {
                continue;
            }
            let f = function(ctx, (*name, *maker), |(name, maker), this, args, ctx| {
                add_filter(this, name, *maker, args, ctx)
            });
            methods.push((JsString::from(*name), f));
        }
        for (name, f) in methods {
            class.property(name, f, Attribute::all());
        }
        Ok(())
    }
}

fn state_of(this: &JsValue) -> JsResult<JsObject> {
    this.as_object().filter(|o| o.is::<Configuration>()).ok_or_else(|| type_error("not a pipy() configuration"))
}

/// Runs `f` on the configuration's state; returns the configuration for chaining.
fn with(this: &JsValue, f: impl FnOnce(&mut State) -> JsResult<()>) -> JsResult<JsValue> {
    let obj = state_of(this)?;
    let config = obj.downcast_ref::<Configuration>().ok_or_else(|| type_error("not a pipy() configuration"))?;
    f(&mut config.state.borrow_mut())?;
    Ok(this.clone())
}

fn registry_of(this: &JsValue) -> JsResult<Rc<Registry>> {
    let obj = state_of(this)?;
    let config = obj.downcast_ref::<Configuration>().ok_or_else(|| type_error("not a pipy() configuration"))?;
    Ok(config.state.borrow().registry.clone())
}

/// Runs `f` on the pipeline being defined.
fn with_pending(this: &JsValue, what: &str, f: impl FnOnce(&mut Pending) -> JsResult<()>) -> JsResult<JsValue> {
    with(this, |s| {
        let p = s.current.as_mut().ok_or_else(|| {
            if s.sub {
                type_error("pipeline layout is already built")
            } else {
                type_error(format!("{what}(): no pipeline found; start one with .listen(), .pipeline() or .task()"))
            }
        })?;
        f(p)
    })
}

/// Starts a new pipeline definition (configuration level only).
fn begin(this: &JsValue, what: &str, kind: Kind) -> JsResult<JsValue> {
    with(this, |s| {
        if s.sub {
            return Err(type_error(format!("{what}() is not allowed inside a sub-pipeline")));
        }
        s.close()?;
        s.current = Some(Pending::new(kind));
        Ok(())
    })
}

fn add_filter(
    this: &JsValue,
    name: &'static str,
    maker: filters::Maker,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let _legacy = LegacyGuard::enter(&registry_of(this)?);
    if matches!(name, "branch") && is_static_branch(args) {
        return static_branch(this, args, ctx);
    }
    let made = layout::make(name, maker, args, ctx)?;
    with_pending(this, name, |p| p.layout.add(name, made))
}

/// `branch(value1, builder1, ..., default?)` with no condition functions is decided at
/// configuration time: the chosen builder is applied to this very pipeline.
fn is_static_branch(args: &[JsValue]) -> bool {
    let conds = args.len() / 2;
    args.len() >= 2 && (0..conds).all(|i| !args[i * 2].as_object().is_some_and(|o| o.is_callable()))
}

fn static_branch(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let conds = args.len() / 2;
    let chosen = (0..conds).find(|i| args[i * 2].to_boolean()).map(|i| i * 2 + 1);
    let chosen = chosen.or_else(|| (args.len() % 2 == 1).then(|| args.len() - 1));
    if let Some(i) = chosen {
        let f = args[i]
            .as_object()
            .filter(|o| o.is_callable())
            .ok_or_else(|| type_error(format!("branch(): argument {i} must be a builder function")))?;
        f.call(&JsValue::undefined(), std::slice::from_ref(this), ctx)?;
    }
    Ok(this.clone())
}

/// Legacy `fork(name, initArg?)` is `fork(initArg).to(name)`.
fn fork(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let maker = filters::maker("fork").ok_or_else(|| type_error("fork() is not available"))?;
    match args.first() {
        Some(name) if name.is_string() => {
            add_filter(this, "fork", maker, &args[1..], ctx)?;
            to(this, std::slice::from_ref(name), ctx)
        }
        _ => add_filter(this, "fork", maker, args, ctx),
    }
}

fn to(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let registry = registry_of(this)?;
    let _legacy = LegacyGuard::enter(&registry);
    let target = args.first().cloned().unwrap_or_default();
    let layout = match target.as_string().map(|s| s.to_std_string_escaped()) {
        Some(name) => match registry.get(&name) {
            Some(layout) => layout,
            // Not defined yet: a stand-in that links to it once it is.
            None => {
                let link = layout::make(
                    "link",
                    filters::Maker::Plain(filters::link::make),
                    std::slice::from_ref(&target),
                    ctx,
                )?;
                let Made::Filter(link) = link else {
                    return Err(type_error("link() is not a plain filter"));
                };
                Rc::new(Layout { name, on_start: None, on_end: None, filters: vec![link], ..Default::default() })
            }
        },
        None => build_sub(&target, ctx)?,
    };
    with_pending(this, "to", |p| p.layout.to(layout))
}

fn on_start(this: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    with_pending(this, "onStart", |p| p.layout.on_start(args.first().cloned().unwrap_or_default()))
}

fn on_end(this: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    with_pending(this, "onEnd", |p| p.layout.on_end(&args.first().cloned().unwrap_or_default()))
}

/// `.listen(port | 'ip:port', options?)`.
fn listen(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let port = args.first().cloned().unwrap_or_default();
    if let Some(listeners) = super::listener_array::of(&port) {
        return begin(this, "listen", Kind::Listeners(listeners));
    }
    let addr = if let Some(s) = port.as_string() {
        listener::parse_address(&s.to_std_string_escaped())
    } else if let Some(n) = port.as_number().filter(|n| n.fract() == 0.0 && *n >= 0.0) {
        listener::port_only(n as u32)
    } else {
        Err(format!("listen() takes a port number or an 'ip:port' string, got {}", port.display()))
    }
    .map_err(type_error)?;
    let options = ListenOptions::read(addr, Transport::Tcp, args.get(1).and_then(|v| v.as_object()).as_ref(), ctx)?;
    begin(this, "listen", Kind::Listen(Box::new(options)))
}

/// `.pipeline(name)` defines a named pipeline; `.pipeline()` the module's entrance.
fn pipeline(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let kind = match args.first() {
        None => Kind::Entrance,
        Some(v) if v.is_undefined() => Kind::Entrance,
        Some(v) => Kind::Named(v.to_string(ctx)?.to_std_string_escaped()),
    };
    begin(this, "pipeline", kind)
}

/// `.task()` runs once at start; `.task(interval)` runs periodically. An optional second
/// argument gives the starting events, as `onStart` does.
fn task(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let every = match args.first() {
        None => None,
        Some(v) if v.is_null_or_undefined() => None,
        Some(v) => {
            let text = v.to_string(ctx)?.to_std_string_escaped();
            if text.starts_with("SIG") {
                return Err(type_error(format!("task('{text}'): signal tasks are not supported yet")));
            }
            let d = crate::options::duration(v, ctx)?;
            if d < Duration::from_millis(10) || d > Duration::from_secs(86400) {
                return Err(type_error(format!("task('{text}'): the interval must be between 0.01s and 24h")));
            }
            Some(d)
        }
    };
    begin(this, "task", Kind::Task(every))?;
    match args.get(1) {
        Some(events) if !events.is_undefined() => on_start(this, std::slice::from_ref(events), ctx),
        _ => Ok(this.clone()),
    }
}

/// `.watch(file)`: a pipeline started each time the file (relative to the script's folder)
/// changes, unless its last run has not ended yet.
fn watch(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let file = args.first().map(|v| v.to_string(ctx)).transpose()?.map(|s| s.to_std_string_escaped());
    let file = file.filter(|f| !f.is_empty()).ok_or_else(|| type_error("watch(): filename cannot be empty"))?;
    begin(this, "watch", Kind::Watch(file))
}

/// `.exit(start?)`: a pipeline run when the worker stops, beside the `pipy.exit` callbacks;
/// the worker waits for its output to end.
fn exit(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let slot = ExitSlot::default();
    begin(this, "exit", Kind::Exit(slot.clone()))?;
    let f = function(ctx, slot, top::exit_pipeline);
    crate::js::state::with_state(|s| s.exit_callbacks.push(f.into()));
    match args.first() {
        Some(events) if !events.is_null_or_undefined() => on_start(this, std::slice::from_ref(events), ctx),
        _ => Ok(this.clone()),
    }
}

/// `.repeat(count, ($, i) => ...)` / `.repeat(array, ($, item, i) => ...)`.
fn repeat(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = args
        .get(1)
        .and_then(|v| v.as_object())
        .filter(|o| o.is_callable())
        .ok_or_else(|| type_error("repeat() takes a count or an array, then a function"))?;
    let what = args.first().cloned().unwrap_or_default();
    if let Some(arr) = what.as_object().filter(|o| o.is_array()) {
        let arr = JsArray::from_object(arr.clone())?;
        for i in 0..arr.length(ctx)? {
            let item = arr.get(i, ctx)?;
            f.call(&JsValue::undefined(), &[this.clone(), item, JsValue::from(i as u32)], ctx)?;
        }
    } else if let Some(n) = what.as_number() {
        for i in 0..n.max(0.0) as u32 {
            f.call(&JsValue::undefined(), &[this.clone(), JsValue::from(i)], ctx)?;
        }
    } else {
        return Err(type_error(format!("repeat(): a number or an array is expected, got {}", what.display())));
    }
    Ok(this.clone())
}

/// Runs `f` (another module's top-level code, loaded while this configuration is being
/// built) as if no configuration were being built, then comes back to this one.
pub fn isolated<R>(f: impl FnOnce() -> R) -> R {
    let active = ACTIVE.with(|a| a.borrow_mut().take());
    let legacy = LEGACY.with(|l| l.replace(0));
    let r = f();
    ACTIVE.with(|a| *a.borrow_mut() = active);
    LEGACY.with(|l| l.set(legacy));
    r
}
