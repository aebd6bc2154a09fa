//! `dummy()`: drops every event but the `StreamEnd`, which passes on (Pipy's `dummy`, a
//! sink at the end of a pipeline whose output nobody wants).

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output, Pass};

pub fn make(_: &mut Args<'_>) -> JsResult<Made> {
    Ok(Made::Filter(Box::new(Spec)))
}

struct Spec;

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "dummy"
    }

    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(Dummy)
    }
}

struct Dummy;

impl Filter for Dummy {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if evt.is_stream_end() {
            out.emit(evt);
        }
    }

    /// Bytes nobody sees are dropped in the kernel as well as here.
    fn pass(&self) -> Pass {
        Pass::Absorb(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::Head;
    use crate::engine::host::stub::{self, StubHost};

    #[test]
    fn dummy_drops_everything_but_the_stream_end() {
        StubHost::install();
        let input = vec![Event::MessageStart(Head::None), Event::Data(Bytes::from_static(b"a")), Event::end()];
        assert_eq!(stub::run(vec![Box::new(Spec)], input), ["StreamEnd"]);
    }
}
