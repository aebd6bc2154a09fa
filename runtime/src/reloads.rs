//! When to load the script again: on SIGHUP (which `pipy.restart()` sends too), and with
//! `--watch` when a file in the script's folder changes. The main thread reads the script
//! and hands it to the workers, which evaluate it beside the running one (see
//! `worker::reload`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::js::script::{self, Script};

/// How often `--watch` looks at the files.
const POLL: Duration = Duration::from_millis(250);
/// Files looked at under the script's folder, at most (a codebase, not a disk).
const MAX_FILES: usize = 10_000;

pub struct Reloads {
    /// The script file; `None` for `-e`, which has nothing to read again.
    path: Option<PathBuf>,
    sighup: Signal,
    /// With `--watch`: what the folder looked like when last loaded.
    watched: Option<Vec<Stamp>>,
}

/// What tells one version of a file from another.
type Stamp = (PathBuf, u64, Option<SystemTime>, u64);

impl Reloads {
    pub fn new(path: Option<PathBuf>, watch: bool) -> std::io::Result<Reloads> {
        let sighup = signal(SignalKind::hangup())?;
        let watched = path.as_deref().filter(|_| watch).map(folder_of).map(|d| stamps(&d));
        Ok(Reloads { path, sighup, watched })
    }

    /// The script as it is now, once it is to be loaded again. A script that cannot be read
    /// is logged, and the running one goes on.
    pub async fn next(&mut self) -> Arc<Script> {
        loop {
            tokio::select! {
                _ = self.sighup.recv() => {}
                _ = changed(self.path.as_deref(), &mut self.watched) => {}
            }
            let Some(path) = &self.path else {
                tracing::warn!(target: "restart", "nothing to reload: the script was given with -e");
                continue;
            };
            match std::fs::read_to_string(path) {
                Ok(text) => return Arc::new(script::prepare(path.clone(), &text)),
                Err(e) => tracing::error!(target: "restart", "cannot read script {}: {e}", path.display()),
            }
        }
    }
}

fn folder_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Returns once the watched folder changed and then stayed the same for one more look (an
/// editor's save, or a copy, is over); never without `--watch`.
async fn changed(path: Option<&Path>, watched: &mut Option<Vec<Stamp>>) {
    let (Some(path), Some(before)) = (path, watched.as_mut()) else { return std::future::pending().await };
    let dir = folder_of(path);
    let mut last = before.clone();
    loop {
        tokio::time::sleep(POLL).await;
        let now = stamps(&dir);
        if now == last && now != *before {
            *before = now;
            return;
        }
        last = now;
    }
}

/// Every file under `dir` (hidden ones left out), sorted by path.
fn stamps(dir: &Path) -> Vec<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') || out.len() >= MAX_FILES {
                continue;
            }
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                dirs.push(e.path());
            } else {
                out.push((e.path(), m.len(), m.modified().ok(), m.ino()));
            }
        }
    }
    out.sort();
    out
}
