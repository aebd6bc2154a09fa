//! Turning a Pipy script's text into what Boa runs.
//!
//! PipyJS accepts a hashbang line and a top-level `return`; Boa accepts neither in a plain
//! script, so the hashbang becomes a comment and a script with a top-level `return` is
//! wrapped in a function called at once (its return value is the completion value).
//!
//! A file that is no script but parses as an ES module (it has `import` or `export`) runs
//! as a module (see `js::modules`); a script runs as before, keeping its completion value.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use boa_engine::{Context, Source};

use super::vars;

/// A script as every worker runs it, prepared once.
pub struct Script {
    pub path: PathBuf,
    /// The source as it runs (see `js::vars::prepare`).
    pub source: String,
    pub dollar_names: Vec<String>,
    /// Whether the script had to be wrapped in a function for a top-level `return`.
    pub wrapped: bool,
    /// Whether it is an ES module (it has `import` or `export`).
    pub module: bool,
}

/// What a script with a top-level `return` is wrapped in (PipyJS allows that return).
pub const WRAP_PREFIX: &str = "(function(){";
pub const WRAP_SUFFIX: &str = "\n})()";

pub fn prepare(path: PathBuf, source: &str) -> Script {
    let mut text = source.to_string();
    if text.starts_with("#!") {
        text.replace_range(0..2, "//");
    }
    let (text, dollar_names) = vars::prepare(&text);
    let mut ctx = Context::default();
    let (needs_wrap, module) = match boa_engine::Script::parse(Source::from_bytes(text.as_bytes()), None, &mut ctx) {
        Ok(_) => (false, false),
        Err(e) => {
            let wrapped = format!("{WRAP_PREFIX}{text}{WRAP_SUFFIX}");
            if e.to_string().contains("return")
                && boa_engine::Script::parse(Source::from_bytes(wrapped.as_bytes()), None, &mut ctx).is_ok()
            {
                (true, false)
            } else {
                // A module with a syntax error is still a module: its parser's error is the one
                // that makes sense to the author.
                let parsed = boa_engine::Module::parse(Source::from_bytes(text.as_bytes()), None, &mut ctx).is_ok();
                (false, parsed || has_module_statements(&text))
            }
        }
    };
    let source = if needs_wrap { format!("{WRAP_PREFIX}{text}{WRAP_SUFFIX}") } else { text };
    Script { path, source, dollar_names, wrapped: needs_wrap, module }
}

/// Runs the script on this thread (whose state [`super::state::start`] set): makes the Boa
/// context, evaluates the script (see [`evaluate`]) and installs the context as this thread's
/// host. The error is already formatted for the user.
pub fn run(script: &Script, print_result: bool) -> Result<(), String> {
    let mut ctx = super::new_context().map_err(|e| format!("cannot set up the JS host: {e}"))?;
    let root = evaluate(script, &mut ctx, print_result)?;
    super::install(Rc::new(RefCell::new(ctx)));
    super::state::set_root(root);
    Ok(())
}

/// Evaluates the script in the context's current realm and applies a returned configuration
/// (or, for `-e`, prints the value when `print_result`). Returns the root pipeline context
/// the script's `$` values start from. The error is already formatted for the user.
pub fn evaluate(script: &Script, ctx: &mut Context, print_result: bool) -> Result<Rc<crate::engine::Context>, String> {
    let name = script.path.display().to_string();
    vars::define(&script.dollar_names, ctx).map_err(|e| format!("{name}: {e}"))?;
    let root = crate::engine::Context::root();
    let result = super::in_context(&root, || {
        if script.module {
            return super::modules::run_main(&script.path, &script.source, ctx).map_err(|e| match e {
                super::modules::Failure::Load(m) => Err(m),
                super::modules::Failure::Throw(e) => Ok(super::describe(&e, ctx)),
            });
        }
        let r = ctx.eval(Source::from_bytes(script.source.as_bytes()).with_path(&script.path));
        let r = r.and_then(|v| ctx.run_jobs().map(|_| v));
        r.map_err(|e| Ok(super::describe(&e, ctx)))
    });
    let result = result.and_then(|v| super::configuration::check_imports().map(|_| v).map_err(Err));
    match result {
        // Already names the file and line.
        Err(Err(e)) => return Err(e),
        Err(Ok(e)) => {
            return Err(super::script_error::format(&name, &e, script.wrapped, script.source.lines().count()));
        }
        Ok(v) if print_result && !v.is_undefined() && !super::configuration::is_configuration(&v) => {
            let text = match v.as_string() {
                Some(s) => s.to_std_string_escaped(),
                None => super::print::format_args(&[v], ctx).unwrap_or_default(),
            };
            crate::log::write_stdout(format!("{text}\n").as_bytes());
        }
        Ok(v) => super::in_context(&root, || super::configuration::apply(&v)).map_err(|e| format!("{name}: {e}"))?,
    }
    Ok(root)
}

/// Whether a line starts with an `import` or `export` statement.
fn has_module_statements(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .any(|l| ["import ", "import{", "import'", "import\"", "export "].iter().any(|p| l.starts_with(p)))
}
