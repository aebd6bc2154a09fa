//! `print()` (legacy): writes the bytes of every `Data` event to stdout and passes every
//! event on.

use boa_engine::{Context, JsResult, JsValue};

use super::Made;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output};

pub fn make(_: &[JsValue], _: &mut Context) -> JsResult<Made> {
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
            crate::js::print::write_stdout(b);
        }
        out.emit(evt);
    }
}
