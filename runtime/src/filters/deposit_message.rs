//! `depositMessage(filename, { threshold, keep })`, of legacy configurations: the first
//! message of the stream goes on with the first `threshold` bytes of its body (0 unless
//! given); the rest is written to the file (`filename` or a function returning it, asked
//! when the body passes the threshold) and read back from it once the message ends, then
//! the end goes on and the file is removed unless `keep`. As Pipy's: events outside that
//! message are dropped, the file holds the whole body, and a body within the threshold never
//! touches the disk.
//!
//! Unlike Pipy, the file is written synchronously (as `tee` writes), and one that cannot be
//! written or read ends the stream with an error.

use std::fs::File;
use std::io::{Seek, Write};
use std::path::PathBuf;

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Output};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let filename = args.given_text(0, "a filename")?;
    let mut o = args.options(1);
    let threshold = o.size("threshold")?.unwrap_or(0);
    let keep = o.value("keep")?.is_some_and(|v| v.to_boolean());
    Ok(Made::Filter(Box::new(Spec { filename, threshold, keep })))
}

struct Spec {
    filename: Given<String>,
    threshold: usize,
    keep: bool,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "depositMessage"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let (filename, threshold, keep) = (self.filename.clone(), self.threshold, self.keep);
        Box::new(Deposit {
            filename,
            threshold,
            keep,
            env,
            started: false,
            passed: Vec::new(),
            file: None,
            ended: false,
        })
    }
}

struct Deposit {
    filename: Given<String>,
    threshold: usize,
    keep: bool,
    env: FilterEnv,
    started: bool,
    /// Body bytes that went on before the file took over: the file starts with them, and is
    /// read back after them.
    passed: Vec<u8>,
    file: Option<(PathBuf, File)>,
    ended: bool,
}

impl Deposit {
    /// The file, opened with the bytes that went on before it.
    fn open(&mut self) -> Result<&mut File, String> {
        if self.file.is_none() {
            let path = PathBuf::from(self.filename.text(&self.env.context)?);
            let mut file = File::create(&path).map_err(|e| format!("depositMessage: {}: {e}", path.display()))?;
            file.write_all(&self.passed).map_err(|e| format!("depositMessage: {}: {e}", path.display()))?;
            self.file = Some((path, file));
        }
        Ok(&mut self.file.as_mut().unwrap().1)
    }

    fn fail(&mut self, e: String, out: &mut Output<'_>) {
        tracing::error!(target: "pipeline", "{e}");
        self.ended = true;
        out.emit(runtime_error(e));
    }
}

impl Filter for Deposit {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        match evt {
            Event::MessageStart(_) if !self.started => {
                self.started = true;
                out.emit(evt);
            }
            Event::Data(b) if self.started && !b.is_empty() => {
                if self.file.is_none() && self.passed.len() < self.threshold {
                    self.passed.extend_from_slice(&b);
                    return out.emit(Event::Data(b));
                }
                if let Err(e) = self.open().and_then(|f| f.write_all(&b).map_err(|e| e.to_string())) {
                    self.fail(e, out);
                }
            }
            Event::MessageEnd(_) | Event::StreamEnd(_) if self.started => {
                self.ended = true;
                let Some((path, file)) = self.file.take() else { return out.emit(evt) };
                drop(file);
                let (env, offset, keep) = (self.env.clone(), self.passed.len() as u64, self.keep);
                tokio::task::spawn_local(read_back(path, offset, keep, evt, env));
            }
            _ => {}
        }
    }
}

/// Outputs the file's bytes from `offset` on, then `end`; removes the file unless `keep`,
/// before `end` goes on: what `end` sets off downstream (an answer sent) may be the sign a
/// user waits for, and the file must be gone by then.
async fn read_back(path: PathBuf, offset: u64, keep: bool, end: Event, env: FilterEnv) {
    let read = async {
        let mut f = File::open(&path)?;
        f.seek(std::io::SeekFrom::Start(offset))?;
        super::read::pour(&mut f, None, &env).await
    };
    let read = read.await;
    if !keep {
        let _ = std::fs::remove_file(&path);
    }
    match read {
        Ok(()) => env.emit(end),
        Err(e) => {
            let e = format!("depositMessage: {}: {e}", path.display());
            tracing::error!(target: "pipeline", "{e}");
            env.emit(runtime_error(e));
        }
    }
}
