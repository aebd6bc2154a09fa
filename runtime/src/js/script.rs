//! Turning a Pipy script's text into what Boa runs.
//!
//! PipyJS accepts a hashbang line and a top-level `return`; Boa accepts neither in a plain
//! script, so the hashbang becomes a comment and a script with a top-level `return` is
//! wrapped in a function called at once (its return value is the completion value).
//!
//! A file that is no script but parses as an ES module (it has `import` or `export`) runs
//! as a module (see `js::modules`); a script runs as before, keeping its completion value.

use std::path::PathBuf;

use boa_engine::{Context, Source};

use super::vars;
use crate::worker::{Script, WRAP_PREFIX, WRAP_SUFFIX};

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

/// Whether a line starts with an `import` or `export` statement.
fn has_module_statements(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .any(|l| ["import ", "import{", "import'", "import\"", "export "].iter().any(|p| l.starts_with(p)))
}
