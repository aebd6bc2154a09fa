//! `pipy.watch(path)`: a promise resolved, with `[path]`, once the file (relative to the
//! script's folder, as `pipy.load` reads it) changes: its size, modification time or inode
//! (a file replaced by rename) differs from when the watch began, or it appears or goes.
//! Each call watches for one change; scripts call it again to go on watching.
//!
//! The file is looked at every [`POLL`], as Pipy's file-system codebase does.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use boa_engine::object::builtins::{JsArray, JsPromise};
use boa_engine::{Context, JsResult, JsString, JsValue};

use super::state::with_state;
use super::{type_error, with_js};

const POLL: Duration = Duration::from_millis(200);

/// What tells one version of a file from another (`None`: no file).
pub type Stamp = Option<(u64, SystemTime, u64)>;

pub fn stamp(path: &PathBuf) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?, m.ino()))
}

/// Waits until the file at `path` differs from `before`; false if the script of `context`
/// was reloaded away first (what it watched ends with it).
pub async fn changed(path: &PathBuf, before: Stamp, context: &std::rc::Rc<crate::engine::Context>) -> bool {
    while stamp(path) == before {
        tokio::time::sleep(POLL).await;
        if super::state::retired(context) {
            return false;
        }
    }
    true
}

pub fn watch(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let name = super::arg_str(args, 0).ok_or_else(|| type_error("pipy.watch() takes a file name"))?;
    let path = with_state(|s| s.script_dir.join(name.trim_start_matches('/')));
    let (promise, resolvers) = JsPromise::new_pending(ctx);
    let context = super::current().unwrap_or_else(super::state::root);
    let before = stamp(&path);
    tokio::task::spawn_local(async move {
        if !changed(&path, before, &context).await {
            return;
        }
        super::in_context(&context, || {
            with_js(|ctx| {
                let changed = JsArray::from_iter([JsString::from(name.as_str()).into()], ctx);
                let _ = resolvers.resolve.call(&JsValue::undefined(), &[changed.into()], ctx);
                let _ = ctx.run_jobs();
            })
        });
    });
    Ok(promise.into())
}
