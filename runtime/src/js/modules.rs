//! Files a script loads: ES modules (`import`/`export` and `pipy.import(path)`), legacy
//! plugin modules (`chain([...])`) and `pipy.solve(file)`.
//!
//! Paths are in the codebase, the main script's folder: `/x` starts at its root, other paths
//! of an `import` are relative to the importing module, and those of `chain`, `pipy.solve`
//! and `pipy.load` to the root, as in Pipy. Each file is loaded and run at most once per
//! worker: the [`Loader`] (Boa's module loader hook, one per worker context) keeps them.
//!
//! A module's text goes through the same `$` variable pass as the main script's (see
//! `js::vars`), then Boa parses it as a module; nothing else of the source is rewritten.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use boa_engine::builtins::promise::PromiseState;
use boa_engine::module::{ModuleLoader, ModuleRequest, Referrer};
use boa_engine::property::PropertyDescriptor;
use boa_engine::vm::ActiveRunnable;
use boa_engine::{Context, JsError, JsNativeError, JsObject, JsResult, JsString, JsValue, Module, Source, js_string};

use super::state::with_state;
use super::{arg_str, configuration, script, vars};
use crate::engine::{Layout, Registry};

/// The worker's loaded files, and Boa's hook for `import`.
pub struct Loader {
    root: PathBuf,
    modules: RefCell<HashMap<PathBuf, Module>>,
    /// The text of each module, to find the line of an import that failed.
    sources: RefCell<HashMap<PathBuf, String>>,
    /// `pipy.solve` results; `None` while that file is being solved.
    solved: RefCell<HashMap<PathBuf, Option<JsValue>>>,
    /// The pipelines of the plugin modules `chain` and `use` loaded.
    plugins: RefCell<HashMap<PathBuf, Plugin>>,
    /// Why the last `import` failed, already phrased for the user.
    failure: RefCell<Option<String>>,
    /// Scope objects (and paths) of the plugin files being evaluated, innermost last.
    scopes: RefCell<Vec<(JsObject, String)>>,
}

/// The pipelines a plugin module's configuration defined: its entrance (`.pipeline()`)
/// and its named ones (`.pipeline(name)`).
#[derive(Clone)]
pub struct Plugin {
    pub entrance: Option<Rc<Layout>>,
    pub named: Option<Rc<Registry>>,
}

/// The global property through which a plugin file's text reaches its scope object.
const SCOPE: &str = "weir plugin scope";

/// Why a module could not run.
pub enum Failure {
    /// A file could not be imported: the message names the file and the importing line.
    Load(String),
    /// The module threw (or did not parse).
    Throw(JsError),
}

impl Loader {
    pub fn new(root: PathBuf) -> Loader {
        Loader {
            root,
            modules: RefCell::default(),
            sources: RefCell::default(),
            solved: RefCell::default(),
            plugins: RefCell::default(),
            failure: RefCell::default(),
            scopes: RefCell::default(),
        }
    }

    /// Forgets every module, solved file and plugin loaded so far, so that a reload reads
    /// them again from their files.
    fn forget(&self) {
        self.modules.borrow_mut().clear();
        self.sources.borrow_mut().clear();
        self.solved.borrow_mut().clear();
        self.plugins.borrow_mut().clear();
        self.failure.borrow_mut().take();
    }

    /// `/x` from the codebase root, anything else from `base` (a folder).
    fn resolve(&self, spec: &str, base: Option<&Path>) -> PathBuf {
        let joined = match spec.strip_prefix('/') {
            Some(rest) => self.root.join(rest),
            None => base.unwrap_or(&self.root).join(spec),
        };
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                c => out.push(c),
            }
        }
        out
    }

    /// The module in `path`, read and parsed on first use.
    fn module(&self, path: &Path, ctx: &mut Context) -> Result<Module, String> {
        if let Some(m) = self.modules.borrow().get(path) {
            return Ok(m.clone());
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let prepared = script::prepare(path.to_path_buf(), &text);
        vars::define(&prepared.dollar_names, ctx).map_err(|e| e.to_string())?;
        self.parse(path, prepared.source, ctx).map_err(|e| e.to_string())
    }

    /// Parses `source` (already through the `$` pass) as the module in `path`.
    fn parse(&self, path: &Path, source: String, ctx: &mut Context) -> JsResult<Module> {
        let module = Module::parse(Source::from_bytes(source.as_bytes()).with_path(path), None, ctx)?;
        self.modules.borrow_mut().insert(path.to_path_buf(), module.clone());
        self.sources.borrow_mut().insert(path.to_path_buf(), source);
        Ok(module)
    }

    /// Boa's link error for `import { x }` of a name no module exports does not say where:
    /// a loaded module with an `import` line naming `x` is the likely importer.
    fn missing_export(&self, e: &JsError, ctx: &mut Context) -> Option<String> {
        let message = super::describe(e, ctx);
        let name = message.split("could not find export `").nth(1)?.split('`').next()?.to_string();
        let sources = self.sources.borrow();
        let mut found = sources.iter().filter_map(|(path, text)| {
            let n = text.lines().position(|l| l.trim_start().starts_with("import") && l.contains(name.as_str()))?;
            Some(format!("{}:{}: {}", path.display(), n + 1, message.lines().next().unwrap_or_default()))
        });
        found.next()
    }

    /// `file:line` of the import of `spec` in `from`.
    fn importer(&self, from: Option<&Path>, spec: &str) -> String {
        let Some(from) = from else { return with_state(|s| s.script_path.display().to_string()) };
        let quoted = [format!("'{spec}'"), format!("\"{spec}\"")];
        let line =
            self.sources.borrow().get(from).and_then(|text| {
                text.lines().position(|l| quoted.iter().any(|q| l.contains(q.as_str()))).map(|i| i + 1)
            });
        match line {
            Some(n) => format!("{}:{n}", from.display()),
            None => from.display().to_string(),
        }
    }
}

impl ModuleLoader for Loader {
    fn load_imported_module(
        self: Rc<Self>,
        referrer: Referrer,
        request: ModuleRequest,
        context: &RefCell<&mut Context>,
    ) -> impl Future<Output = JsResult<Module>> {
        let spec = request.specifier().to_std_string_escaped();
        let from = referrer.path().map(Path::to_path_buf);
        let path = self.resolve(&spec, from.as_deref().and_then(Path::parent));
        let result = self.module(&path, &mut context.borrow_mut()).map_err(|e| {
            let message = format!("{}: cannot import '{spec}': {e}", self.importer(from.as_deref(), &spec));
            *self.failure.borrow_mut() = Some(message.clone());
            JsNativeError::error().with_message(message).into()
        });
        std::future::ready(result)
    }
}

fn loader(ctx: &Context) -> JsResult<Rc<Loader>> {
    ctx.downcast_module_loader::<Loader>()
        .ok_or_else(|| JsNativeError::error().with_message("modules are not available here").into())
}

/// Forgets what the context's loader loaded (see [`Loader::forget`]).
pub fn forget(ctx: &Context) {
    if let Ok(loader) = loader(ctx) {
        loader.forget();
    }
}

/// Loads, links and runs `module` and what it imports, to the end of its top-level code.
fn settle(module: &Module, ctx: &mut Context) -> Result<(), Failure> {
    if ctx.get_active_script_or_module().is_none() {
        return settle_here(module, ctx);
    }
    let module = module.clone();
    in_own_frame(ctx, move |ctx| settle_here(&module, ctx))
}

type FrameJob = Box<dyn FnOnce(&mut Context)>;

thread_local! {
    static IN_FRAME: RefCell<Option<FrameJob>> = RefCell::new(None);
}

/// The hidden global that runs the closure given to [`in_own_frame`].
const IN_FRAME_FN: &str = "weir in frame";

/// Runs `f` from a script frame of its own. Boa 0.22 leaves two values on its VM stack for
/// every module it links (`initialize_environment` pushes a frame and pops it without
/// truncating the stack); in the middle of a JS expression (`new Message(pipy.import(...)
/// .f())`) they shift the caller's operands. A script frame truncates the stack to where it
/// began when it returns, which drops them.
fn in_own_frame<R: 'static>(ctx: &mut Context, f: impl FnOnce(&mut Context) -> R + 'static) -> R {
    let out = Rc::new(RefCell::new(None));
    let slot = out.clone();
    IN_FRAME.with(|n| *n.borrow_mut() = Some(Box::new(move |ctx| *slot.borrow_mut() = Some(f(ctx)))));
    let run = boa_engine::NativeFunction::from_fn_ptr(|_, _, ctx| {
        if let Some(f) = IN_FRAME.with(|n| n.borrow_mut().take()) {
            f(ctx);
        }
        Ok(JsValue::undefined())
    })
    .to_js_function(ctx.realm());
    let call = format!("globalThis[{IN_FRAME_FN:?}]()");
    let ran = with_hidden_global(ctx, IN_FRAME_FN, run.into(), |ctx| ctx.eval(Source::from_bytes(call.as_bytes())));
    // Nothing can fail between the script and the closure; if it did, run it here.
    if let Some(f) = IN_FRAME.with(|n| n.borrow_mut().take()) {
        tracing::debug!(target: "script", "module frame: {:?}", ran.err());
        f(ctx);
    }
    out.take().expect("the closure ran")
}

/// Runs `f` while the global object has `name` (not enumerable) set to `value`: how a
/// script text made here reaches a value made in Rust. Scripts never see it afterwards.
fn with_hidden_global<R>(ctx: &mut Context, name: &str, value: JsValue, f: impl FnOnce(&mut Context) -> R) -> R {
    let global = ctx.global_object();
    let desc = PropertyDescriptor::builder().value(value).writable(false).enumerable(false).configurable(true);
    let defined = global.define_property_or_throw(JsString::from(name), desc, ctx);
    let r = f(ctx);
    if defined.is_ok() {
        let _ = global.delete_property_or_throw(JsString::from(name), ctx);
    }
    r
}

fn settle_here(module: &Module, ctx: &mut Context) -> Result<(), Failure> {
    let loader = loader(ctx).map_err(Failure::Throw)?;
    loader.failure.borrow_mut().take();
    let promise = module.load_link_evaluate(ctx);
    ctx.run_jobs().map_err(Failure::Throw)?;
    match promise.state() {
        PromiseState::Fulfilled(_) => Ok(()),
        PromiseState::Rejected(e) => {
            let e = JsError::from_opaque(e);
            let failure = loader.failure.borrow_mut().take().or_else(|| loader.missing_export(&e, ctx));
            Err(failure.map(Failure::Load).unwrap_or(Failure::Throw(e)))
        }
        PromiseState::Pending => Err(Failure::Load(format!(
            "{}: the module's top-level await did not settle while loading",
            module.path().map(|p| p.display().to_string()).unwrap_or_default()
        ))),
    }
}

/// Runs the main script as a module. Its value, for a legacy configuration, is its default
/// export: a module has no completion value.
pub fn run_main(path: &Path, source: &str, ctx: &mut Context) -> Result<JsValue, Failure> {
    let loader = loader(ctx).map_err(Failure::Throw)?;
    let module = loader.parse(path, source.to_string(), ctx).map_err(Failure::Throw)?;
    settle(&module, ctx)?;
    module.namespace(ctx).get(js_string!("default"), ctx).map_err(Failure::Throw)
}

/// Runs a file the way the main script runs (as a script, or as a module when it has
/// `import`/`export`) and returns its value.
fn eval_file(path: &Path, text: &str, ctx: &mut Context) -> JsResult<JsValue> {
    let prepared = script::prepare(path.to_path_buf(), text);
    // A syntax error has no stack: place it in this file, not at the caller's line.
    let source = Source::from_bytes(prepared.source.as_bytes());
    let parsed = match prepared.module {
        true => Module::parse(source, None, ctx).map(drop),
        false => boa_engine::Script::parse(source, None, ctx).map(drop),
    };
    if let Err(e) = parsed {
        let message = located(&path.display().to_string(), &e.to_string(), text.lines().count());
        return Err(JsNativeError::error().with_message(message).into());
    }
    vars::define(&prepared.dollar_names, ctx)?;
    if !prepared.module {
        return ctx.eval(Source::from_bytes(prepared.source.as_bytes()).with_path(path));
    }
    match run_main(path, &prepared.source, ctx) {
        Ok(v) => Ok(v),
        Err(Failure::Throw(e)) => Err(e),
        Err(Failure::Load(m)) => Err(JsNativeError::error().with_message(m).into()),
    }
}

/// The scope object and path of the plugin file being evaluated, if one is.
pub fn current_scope(ctx: &Context) -> Option<(JsObject, String)> {
    loader(ctx).ok()?.scopes.borrow().last().cloned()
}

/// The entrance pipeline of the plugin module `name` (for `chain`), loaded once.
///
/// In Pipy each file has its own legacy context variables and `__filename`. Here the file's
/// text runs inside `with (scope) { ... }`, where `scope` is an object of its own (with no
/// prototype, so only what is defined on it shadows globals) that `pipy()`, `.export` and
/// `.import` define the file's variables on; the functions the file makes keep that scope.
/// A file that is an ES module (strict code, no `with`) keeps its variables global.
pub fn plugin(name: &str, ctx: &mut Context) -> JsResult<Rc<Layout>> {
    let path = loader(ctx)?.resolve(name, None);
    plugin_module(name, ctx)?.entrance.ok_or_else(|| {
        JsNativeError::error().with_message(format!("entrance pipeline not found in module {}", path.display())).into()
    })
}

/// The pipelines of the plugin module `name` (for `chain` and `use`), loaded once.
pub fn plugin_module(name: &str, ctx: &mut Context) -> JsResult<Plugin> {
    let loader = loader(ctx)?;
    let path = loader.resolve(name, None);
    if let Some(plugin) = loader.plugins.borrow().get(&path) {
        return Ok(plugin.clone());
    }
    let error = |m: String| -> JsError { JsNativeError::error().with_message(m).into() };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| error(format!("[chain] Cannot load module: {name} ({}: {e})", path.display())))?;
    let file = path.display().to_string();
    let scope = JsObject::with_null_proto();
    let filename = format!("/{}", path.strip_prefix(&loader.root).unwrap_or(&path).display());
    scope.define_property_or_throw(
        js_string!("__filename"),
        PropertyDescriptor::builder().value(JsString::from(filename)).writable(false).enumerable(false),
        ctx,
    )?;
    loader.scopes.borrow_mut().push((scope.clone(), file.clone()));
    let value = configuration::isolated(|| {
        let prepared = script::prepare(path.clone(), &text);
        if prepared.module {
            return eval_file(&path, &text, ctx);
        }
        // Syntax errors are found without the wrapper, whose lines are not the file's.
        if let Err(e) = boa_engine::Script::parse(Source::from_bytes(prepared.source.as_bytes()), None, ctx) {
            return Err(error(located(&file, &e.to_string(), text.lines().count())));
        }
        vars::define(&prepared.dollar_names, ctx)?;
        // `{` on the first line keeps every line number of the file.
        let source = format!("with (globalThis[{SCOPE:?}]) {{{}\n}}", prepared.source);
        with_hidden_global(ctx, SCOPE, scope.into(), |ctx| {
            ctx.eval(Source::from_bytes(source.as_bytes()).with_path(&path))
        })
    });
    loader.scopes.borrow_mut().pop();
    // A throw keeps its stack, whose first frame is in the file.
    let value = value?;
    let plugin = configuration::pipelines(&value, ctx).map_err(error)?;
    loader.plugins.borrow_mut().insert(path, plugin.clone());
    Ok(plugin)
}

/// `file:line:col: message` from Boa's `message at line N, col M` (an abrupt end, which
/// Boa does not place, is at the file's last line).
fn located(file: &str, message: &str, lines: usize) -> String {
    let message = message.trim_end_matches(" (native)");
    if message.contains("abrupt end") {
        return format!("{file}:{lines}:1: {message}");
    }
    let position = message.rsplit_once(" at line ").and_then(|(text, at)| {
        let mut numbers = at.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty());
        Some((text, numbers.next()?, numbers.next().unwrap_or("1")))
    });
    match position {
        Some((text, line, col)) => format!("{file}:{line}:{col}: {text}"),
        None => format!("{file}: {message}"),
    }
}

/// `pipy.import(path)`: the exports of a module, loaded and run on first use.
pub fn import(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let spec = arg_str(args, 0).ok_or_else(|| super::type_error("pipy.import() takes a module path"))?;
    let loader = loader(ctx)?;
    let from = match ctx.get_active_script_or_module() {
        Some(ActiveRunnable::Module(m)) => m.path().and_then(Path::parent).map(Path::to_path_buf),
        _ => None,
    };
    let path = loader.resolve(&spec, from.as_deref());
    let fail =
        |m: String| -> JsError { JsNativeError::error().with_message(format!("cannot import module: {m}")).into() };
    let module = loader.module(&path, ctx).map_err(fail)?;
    match settle(&module, ctx) {
        Ok(()) => Ok(module.namespace(ctx).into()),
        Err(Failure::Load(m)) => Err(fail(m)),
        Err(Failure::Throw(e)) => Err(e),
    }
}

/// `pipy.solve(file)`: the value of a file holding one expression, evaluated once.
pub fn solve(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let name = arg_str(args, 0).ok_or_else(|| super::type_error("pipy.solve() takes a file name"))?;
    let loader = loader(ctx)?;
    let path = loader.resolve(&name, None);
    let known = loader.solved.borrow().get(&path).cloned();
    match known {
        Some(Some(v)) => return Ok(v),
        Some(None) => {
            return Err(JsNativeError::error().with_message(format!("recursive solving file: {name}")).into());
        }
        None => {}
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        JsNativeError::error().with_message(format!("pipy.solve(): cannot read {name} ({}: {e})", path.display()))
    })?;
    loader.solved.borrow_mut().insert(path.clone(), None);
    let value = eval_file(&path, &text, ctx);
    match &value {
        Ok(v) => loader.solved.borrow_mut().insert(path, Some(v.clone())),
        Err(_) => loader.solved.borrow_mut().remove(&path),
    };
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_in_the_codebase_layout() {
        let l = Loader::new(PathBuf::from("/code"));
        assert_eq!(l.resolve("./a.js", Some(Path::new("/code/lib"))), Path::new("/code/lib/a.js"));
        assert_eq!(l.resolve("../a.js", Some(Path::new("/code/lib"))), Path::new("/code/a.js"));
        assert_eq!(l.resolve("/x/a.js", Some(Path::new("/code/lib"))), Path::new("/code/x/a.js"));
        assert_eq!(l.resolve("plugins/r.js", None), Path::new("/code/plugins/r.js"));
    }
}
