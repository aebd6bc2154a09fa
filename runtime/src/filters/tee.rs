//! `tee(filename [, { append }])`: writes the bytes of every `Data` event to a file (`'-'` is
//! stdout) and passes every event on. The file opens at the first `Data` and closes at
//! `StreamEnd`.

use std::fs::{File, OpenOptions};
use std::io::Write;

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Output};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let filename = args.given_text(0, "a filename")?;
    let append = match args.options(1).value("append")? {
        Some(v) => v.to_boolean(),
        None => false,
    };
    Ok(Made::Filter(Box::new(Spec { filename, append })))
}

struct Spec {
    filename: Given<String>,
    append: bool,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "tee"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Tee { filename: self.filename.clone(), append: self.append, env, target: None })
    }
}

enum Target {
    Stdout,
    File(File),
    /// The name could not be had or the file not opened: said once, then nothing is written.
    Broken,
}

struct Tee {
    filename: Given<String>,
    append: bool,
    env: FilterEnv,
    target: Option<Target>,
}

impl Tee {
    fn open(&self) -> Target {
        let name = match self.filename.text(&self.env.context) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(target: "tee", "tee(): {e}");
                return Target::Broken;
            }
        };
        if name == "-" {
            return Target::Stdout;
        }
        let file = OpenOptions::new().create(true).write(true).append(self.append).truncate(!self.append).open(&name);
        match file {
            Ok(f) => Target::File(f),
            Err(e) => {
                tracing::error!(target: "tee", "tee(): cannot open {name}: {e}");
                Target::Broken
            }
        }
    }
}

impl Filter for Tee {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match &evt {
            Event::Data(b) => {
                if self.target.is_none() {
                    self.target = Some(self.open());
                }
                match &mut self.target {
                    Some(Target::Stdout) => crate::log::write_stdout(b),
                    Some(Target::File(f)) => {
                        if let Err(e) = f.write_all(b) {
                            tracing::error!(target: "tee", "tee(): {e}");
                            self.target = Some(Target::Broken);
                        }
                    }
                    _ => {}
                }
            }
            // A later stream through this filter opens the file anew, as Pipy does.
            Event::StreamEnd(_) => self.target = None,
            _ => {}
        }
        out.emit(evt);
    }
}
