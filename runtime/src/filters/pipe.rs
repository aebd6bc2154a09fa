//! `pipe(target, map?, args?)`: the input goes into a sub-pipeline sharing this context,
//! whose output is this filter's output. `target` is a pipeline (`pipeline(...)`), a key of
//! `map`, an array of those (a chain: each pipeline's `pipeNext` goes on to the next), or a
//! function called with each event until it returns one of those; the events before that
//! wait (past [`Gauge::LIMIT`](crate::engine::Gauge::LIMIT) bytes the connection's readers
//! pause). `args` (an array, or a function of the first event returning one) is what the
//! pipeline's `onStart` gets, and what a chain hands down its `pipeNext`s.
//!
//! `pipeNext(args?)` goes on to the next pipeline of the chain its own pipeline is in, or
//! passes its input on when there is none.

use std::collections::HashMap;
use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use super::held::Held;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::pipeline::Chain;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Layout, Output, Pass, Sub, SubRef, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    if args.is_absent(0) {
        return Err(args.takes("a pipeline, a key, an array of those, or a function returning one"));
    }
    let (map, init) = match args.value(1) {
        v if v.is_callable() || is_array(&v) => (HashMap::new(), init(args, 1)?),
        _ => (map(args)?, init(args, 2)?),
    };
    let target = match args.value(0) {
        v if v.is_callable() => Target::Dynamic(v.as_object().unwrap_or_else(Callback::with_null_proto)),
        v => Target::Fixed(v),
    };
    Ok(Made::Filter(Box::new(Spec(Rc::new(Shared { target, map, init })))))
}

fn is_array(v: &Value) -> bool {
    v.as_object().is_some_and(|o| o.is_array())
}

/// The pipelines of `map`, by key: each a pipeline or a builder.
fn map(args: &mut Args<'_>) -> JsResult<HashMap<String, SubRef>> {
    let mut map = HashMap::new();
    if args.is_absent(1) || args.value(1).is_null() {
        return Ok(map);
    }
    for (key, v) in args.entries(1)? {
        let sub =
            args.sub(&v).map_err(|_| args.error(format!("map entry '{key}' doesn't contain a valid pipeline")))?;
        map.insert(key, sub);
    }
    Ok(map)
}

fn init(args: &mut Args<'_>, i: usize) -> JsResult<Init> {
    match args.value(i) {
        v if v.is_null_or_undefined() => Ok(Init::None),
        v if v.is_callable() => Ok(Init::Dynamic(v.as_object().unwrap_or_else(Callback::with_null_proto))),
        v if is_array(&v) => Ok(Init::Fixed(v)),
        _ => Err(args.error(format!("argument {} must be an array or a function", i + 1))),
    }
}

/// What a pipe goes to, as the script gave it.
enum Target {
    Fixed(Value),
    Dynamic(Callback),
}

/// The arguments the piped pipeline starts with.
enum Init {
    None,
    Fixed(Value),
    Dynamic(Callback),
}

struct Shared {
    target: Target,
    map: HashMap<String, SubRef>,
    init: Init,
}

struct Spec(Rc<Shared>);

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "pipe"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let held = Held::new(env.context.clone());
        Box::new(Pipe { spec: self.0.clone(), env, held, sub: None, ended: false })
    }
}

/// The pipeline to pipe to, and the chain its `pipeNext` goes on to.
type Piped = (Rc<Layout>, Rc<Chain>);

struct Pipe {
    spec: Rc<Shared>,
    env: FilterEnv,
    /// Events before the target is known.
    held: Rc<Held>,
    sub: Option<Sub>,
    ended: bool,
}

impl Pipe {
    /// One pipeline: a template, or a key of the map.
    fn layout(&self, v: &Value) -> Result<Rc<Layout>, String> {
        let h = host();
        if let Some(layout) = h.layout_of(v) {
            return Ok(layout);
        }
        let key = h.to_text(v)?;
        match self.spec.map.get(&key) {
            Some(sub) => sub.resolve(),
            None => Err(format!("pipe: pipeline '{key}' not found")),
        }
    }

    /// The pipeline `v` names and the chain it goes on to; `None` for null or undefined.
    fn resolve(&self, v: &Value, args: Vec<Value>) -> Result<Option<Piped>, String> {
        if v.is_null_or_undefined() {
            return Ok(None);
        }
        let Some(list) = host().to_list(v) else {
            // A single pipeline goes on to wherever this filter's own pipeline goes.
            let chain = Rc::new(Chain { next: self.env.chain.next.clone(), args: self.env.chain.args.clone() });
            return Ok(Some((self.layout(v)?, chain)));
        };
        let mut layouts = Vec::with_capacity(list.len());
        for (i, v) in list.iter().enumerate() {
            layouts.push(self.layout(v).map_err(|e| format!("{e}: cannot create pipeline array at index {i}"))?);
        }
        if layouts.is_empty() {
            return Err("pipe: an empty array of pipelines".into());
        }
        let first = layouts.remove(0);
        Ok(Some((first, Rc::new(Chain { next: layouts, args }))))
    }

    fn start_args(&self, evt: &Event) -> Result<Vec<Value>, String> {
        let h = host();
        let v = match &self.spec.init {
            Init::None => return Ok(Vec::new()),
            Init::Fixed(v) => v.clone(),
            Init::Dynamic(f) => h.call(&self.env.context, f, &[h.event_value(evt)?])?,
        };
        Ok(spread(v))
    }

    /// Starts the sub-pipeline when the target is known; whether it started.
    fn try_start(&mut self, evt: &Event, out: &mut Output<'_>) -> Result<bool, String> {
        let h = host();
        let v = match &self.spec.target {
            Target::Fixed(v) => v.clone(),
            Target::Dynamic(f) => h.call(&self.env.context, f, &[h.event_value(evt)?])?,
        };
        if v.is_null_or_undefined() {
            return Ok(false);
        }
        let args = self.start_args(evt)?;
        let Some((layout, chain)) = self.resolve(&v, args.clone())? else { return Ok(false) };
        self.sub = Some(Sub::start_chained(layout, chain, &args, &self.env, out));
        Ok(true)
    }
}

/// Start arguments as Pipy passes them: an array's elements, or the one value.
pub fn spread(v: Value) -> Vec<Value> {
    if v.is_undefined() {
        return Vec::new();
    }
    host().to_list(&v).unwrap_or_else(|| vec![v])
}

impl Filter for Pipe {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if self.sub.is_none() {
            match self.try_start(&evt, out) {
                Ok(true) => {}
                Ok(false) => {
                    if !self.held.waiting() {
                        self.held.wait(None);
                    }
                    return self.held.push(evt);
                }
                Err(e) => {
                    tracing::error!(target: "pipeline", "pipe: {e}");
                    self.ended = true;
                    self.held.take();
                    self.held.resume();
                    return out.emit(runtime_error(e));
                }
            }
        }
        let Some(sub) = &self.sub else { return };
        if self.held.waiting() {
            self.held.take().into_iter().for_each(|e| sub.input(e, out));
            self.held.resume();
        }
        sub.input(evt, out);
    }

    /// Once piped, the bytes go wherever the piped pipeline sends them.
    fn pass(&self) -> Pass {
        Sub::pass(self.sub.as_ref().filter(|_| !self.ended && !self.held.waiting()))
    }

    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        Sub::passed(self.sub.as_ref(), n, out);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use boa_engine::JsString;
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, Record, StubHost};

    type Seen = Rc<RefCell<Vec<String>>>;

    fn input() -> Vec<Event> {
        vec![Event::Data(Bytes::from_static(b"a")), Event::Data(Bytes::from_static(b"b")), Event::end()]
    }

    fn spec(target: Target, seen: &Seen) -> Vec<Box<dyn FilterSpec>> {
        let up = stub::layout(vec![Box::new(Record("up", seen.clone()))]);
        let map = HashMap::from([("up".to_string(), SubRef::Layout(up))]);
        vec![Box::new(Spec(Rc::new(Shared { target, map, init: Init::None })))]
    }

    #[test]
    fn pipe_holds_events_until_its_function_names_a_pipeline_then_feeds_them_all() {
        let stub = StubHost::install();
        stub.returns.borrow_mut().extend([Value::undefined(), Value::from(JsString::from("up"))]);
        let seen = Seen::default();
        let out = stub::run(spec(Target::Dynamic(StubHost::callback()), &seen), input());
        assert_eq!(out, ["Data a", "Data b", "StreamEnd"]);
        assert_eq!(*seen.borrow(), ["up: Data a", "up: Data b", "up: StreamEnd"]);
        assert_eq!(*stub.log.borrow(), ["event Data", "call/1", "event Data", "call/1"]);
    }

    #[test]
    fn pipe_to_an_unknown_key_ends_the_stream_with_an_error() {
        StubHost::install();
        let seen = Seen::default();
        let out = stub::run(spec(Target::Fixed(JsString::from("down").into()), &seen), input());
        assert_eq!(out, ["StreamEnd error"]);
        assert!(seen.borrow().is_empty());
    }

    #[test]
    fn pipe_next_with_no_chain_passes_its_input_on() {
        StubHost::install();
        let out = stub::run(vec![Box::new(super::super::pipe_next::Spec { args: None })], input());
        assert_eq!(out, ["Data a", "Data b", "StreamEnd"]);
    }
}
