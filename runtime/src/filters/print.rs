//! `print()` (legacy): writes the bytes of every `Data` event to stdout and passes every
//! event on.

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "print"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(Print)
    }
}

struct Print;

impl Filter for Print {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if let Event::Data(b) = &evt {
            crate::log::write_stdout(b);
        }
        out.emit(evt);
    }
}
