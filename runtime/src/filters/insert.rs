//! `insert(events)`: at the stream's first event, outputs `events` (an event, a Message, an
//! array of them, or a function returning one of those or a Promise of one) before it.
//! A Promise does not hold the stream: its events go out when it resolves; a rejection
//! ends the stream with its error. Every event passes on unchanged.

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output, Pass, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let events = args.value(0);
    if !args.is_function(0) {
        args.check_events(&events)?;
    }
    Ok(Made::Filter(Box::new(Spec { events })))
}

struct Spec {
    events: Value,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "insert"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Insert { events: self.events.clone(), env, inserted: false })
    }
}

struct Insert {
    events: Value,
    env: FilterEnv,
    inserted: bool,
}

impl Insert {
    fn insert(&self, out: &mut Output<'_>) -> Result<(), String> {
        let host = host();
        let value = match self.events.as_object().filter(|o| o.is_callable()) {
            Some(f) => host.call(&self.env.context, &f, &[])?,
            None => self.events.clone(),
        };
        if !host.is_promise(&value) {
            host.to_events(&value)?.into_iter().for_each(|e| out.emit(e));
            return Ok(());
        }
        let env = self.env.clone();
        let settled = move |r: Result<Value, String>| match r.and_then(|v| crate::engine::host().to_events(&v)) {
            Ok(events) => events.into_iter().for_each(|e| env.emit(e)),
            Err(e) => {
                tracing::error!(target: "pipeline", "insert: {e}");
                env.emit(runtime_error(e));
            }
        };
        host.on_settled(&value, &self.env.context, Box::new(settled));
        Ok(())
    }
}

impl Filter for Insert {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if !self.inserted {
            self.inserted = true;
            if let Err(e) = self.insert(out) {
                tracing::error!(target: "pipeline", "insert: {e}");
                out.emit(runtime_error(e));
            }
        }
        out.emit(evt);
    }

    fn pass(&self) -> Pass {
        if self.inserted { Pass::Through(u64::MAX) } else { Pass::No }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    #[test]
    fn the_events_go_out_once_before_the_first_event() {
        let stub = StubHost::install();
        stub.events.borrow_mut().push_back(vec![Event::Data(Bytes::from_static(b"x"))]);
        stub.events.borrow_mut().push_back(vec![Event::Data(Bytes::from_static(b"again"))]);
        let input = [&b"a"[..], b"b"].map(|b| Event::Data(Bytes::from_static(b)));
        let out = stub::run(vec![Box::new(Spec { events: Value::undefined() })], input.into());
        assert_eq!(out, ["Data x", "Data a", "Data b"]);
    }
}
