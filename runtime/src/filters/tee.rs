//! `tee(filename, { append, shared })`: writes the bytes of every `Data` to a file (`'-'`
//! is stdout) and passes every event on. `filename` may be a function, asked at the first
//! `Data`. Each stream opens the file for itself (truncating it unless `append`) and closes
//! it at its end; with `shared`, the streams of the whole process write into one opening
//! of it instead. Writes are synchronous: a slow disk slows the worker.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Output};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let filename = args.given_text(0, "a file name")?;
    let mut o = args.options(1);
    let append = o.value("append")?.is_some_and(|v| v.to_boolean());
    let shared = o.value("shared")?.is_some_and(|v| v.to_boolean());
    for rotation in ["maxFileSize", "maxFileCount", "rotateInterval"] {
        if o.value(rotation)?.is_some() {
            return Err(args.error(format!("option {rotation} (file rotation) is not supported")));
        }
    }
    Ok(Made::Filter(Box::new(Spec { filename, append, shared })))
}

struct Spec {
    filename: Given<String>,
    append: bool,
    shared: bool,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "tee"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Tee { filename: self.filename.clone(), append: self.append, shared: self.shared, env, target: None })
    }
}

enum Target {
    Stdout,
    File(Arc<Mutex<File>>),
    /// Opening failed: logged once, nothing written.
    Broken,
}

/// The files `shared` tees write into, one opening per path for the whole process.
fn shared_files() -> &'static Mutex<HashMap<PathBuf, Arc<Mutex<File>>>> {
    static FILES: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<File>>>>> = OnceLock::new();
    FILES.get_or_init(Default::default)
}

struct Tee {
    filename: Given<String>,
    append: bool,
    shared: bool,
    env: FilterEnv,
    target: Option<Target>,
}

impl Tee {
    fn open(&self) -> Result<Target, String> {
        let name = self.filename.text(&self.env.context)?;
        if name == "-" {
            return Ok(Target::Stdout);
        }
        let path = std::path::absolute(&name).map_err(|e| format!("{name}: {e}"))?;
        let open = || {
            let mut o = OpenOptions::new();
            o.create(true);
            if self.append {
                o.append(true)
            } else {
                o.write(true).truncate(true)
            };
            o.open(&path).map(|f| Arc::new(Mutex::new(f))).map_err(|e| format!("{name}: {e}"))
        };
        if !self.shared {
            return open().map(Target::File);
        }
        let mut files = shared_files().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = files.get(&path) {
            return Ok(Target::File(f.clone()));
        }
        let f = open()?;
        files.insert(path, f.clone());
        Ok(Target::File(f))
    }

    fn write(&mut self, bytes: &[u8]) {
        let target = match self.target.take() {
            Some(t) => t,
            None => self.open().unwrap_or_else(|e| {
                tracing::error!(target: "pipeline", "tee: {e}");
                Target::Broken
            }),
        };
        match &target {
            Target::Stdout => crate::log::write_stdout(bytes),
            Target::File(f) => {
                if let Err(e) = f.lock().unwrap_or_else(|e| e.into_inner()).write_all(bytes) {
                    tracing::error!(target: "pipeline", "tee: {e}");
                }
            }
            Target::Broken => {}
        }
        self.target = Some(target);
    }
}

impl Filter for Tee {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match &evt {
            Event::Data(b) => self.write(b),
            // The stream's own opening closes with it; a shared one stays in the map.
            Event::StreamEnd(_) => self.target = None,
            _ => {}
        }
        out.emit(evt);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    fn run(path: &std::path::Path, append: bool, shared: bool, chunks: &[&'static [u8]]) -> Vec<String> {
        StubHost::install();
        let filename = Given::Fixed(path.to_string_lossy().into_owned());
        let spec = Spec { filename, append, shared };
        let mut input: Vec<Event> = chunks.iter().map(|c| Event::Data(Bytes::from_static(c))).collect();
        input.push(Event::end());
        stub::run(vec![Box::new(spec)], input)
    }

    #[test]
    fn data_goes_to_the_file_and_every_event_on() {
        let dir = std::env::temp_dir().join(format!("weir-tee-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out");
        assert_eq!(run(&path, false, false, &[b"ab", b"cd"]), ["Data ab", "Data cd", "StreamEnd"]);
        assert_eq!(std::fs::read(&path).unwrap(), b"abcd");
        run(&path, true, false, &[b"ef"]);
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
        run(&path, false, false, &[b"gh"]);
        assert_eq!(std::fs::read(&path).unwrap(), b"gh");
        let shared = dir.join("shared");
        run(&shared, false, true, &[b"1"]);
        run(&shared, false, true, &[b"2"]);
        assert_eq!(std::fs::read(&shared).unwrap(), b"12");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
