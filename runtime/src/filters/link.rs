//! `link(name)` / `link(fn)` (legacy): every event goes into a new instance of a named
//! pipeline that shares this context, and that pipeline's output is this filter's output.
//! `fn` may return a `Swap` (a `pipeline.Hub`) instead: the stream joins it, as `swap` joins
//! a hub, and what the other stream linked to it sends is this filter's output.

use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::hub::Hub;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Layout, Output, Pass, Registry, Sub, SubRef, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let target = args.given(0, "a pipeline name", |v, args| match v.is_string() {
        true => args.sub(v).map(Some),
        false => Ok(None),
    })?;
    let registry = args.registry();
    Ok(Made::Filter(Box::new(Spec { target, registry })))
}

type Target = Given<SubRef>;

struct Spec {
    target: Target,
    registry: Option<Rc<Registry>>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "link"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let (target, registry) = (self.target.clone(), self.registry.clone());
        Box::new(Link { target, registry, env, sub: None, hub: None, ended: false })
    }
}

struct Link {
    target: Target,
    registry: Option<Rc<Registry>>,
    env: FilterEnv,
    sub: Option<Sub>,
    /// The `Swap` the callback returned, once joined.
    hub: Option<Rc<Hub>>,
    ended: bool,
}

/// What a link goes to.
enum Linked {
    Layout(Rc<Layout>),
    Hub(Rc<Hub>),
}

impl Link {
    /// The layout (or `Swap`) to link to; `Ok(None)` when the callback named none yet.
    fn choose(&self) -> Result<Option<Linked>, String> {
        match &self.target {
            Given::Fixed(sub) => sub.resolve().map(|l| Some(Linked::Layout(l))),
            Given::Dynamic(f) => {
                let v = host().call(&self.env.context, f, &[])?;
                if v.is_null_or_undefined() {
                    return Ok(None);
                }
                if let Some(hub) = host().hub_of(&v) {
                    return Ok(Some(Linked::Hub(hub)));
                }
                let name = v.as_string().ok_or("link(): callback did not return a string")?.to_std_string_escaped();
                let registry = self.registry.as_ref().ok_or("link(): pipeline names need a pipy() configuration")?;
                SubRef::Named(registry.clone(), name).resolve().map(|l| Some(Linked::Layout(l)))
            }
        }
    }
}

impl Filter for Link {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if let Some(hub) = &self.hub {
            return hub.broadcast(&evt, &self.env);
        }
        if self.sub.is_none() {
            match self.choose() {
                Ok(Some(Linked::Layout(layout))) => self.sub = Some(Sub::start(layout, &self.env, out)),
                Ok(Some(Linked::Hub(hub))) => {
                    hub.join(&self.env);
                    hub.broadcast(&evt, &self.env);
                    return self.hub = Some(hub);
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(target: "pipeline", "link: {e}");
                    self.ended = true;
                    return out.emit(crate::engine::host::runtime_error(e));
                }
            }
        }
        if let Some(sub) = &self.sub {
            sub.input(evt, out);
        }
    }

    /// Once linked, the bytes go wherever the linked pipeline sends them.
    fn pass(&self) -> Pass {
        Sub::pass(self.sub.as_ref().filter(|_| !self.ended))
    }

    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        Sub::passed(self.sub.as_ref(), n, out);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(hub) = &self.hub {
            hub.exit(&self.env);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use boa_engine::JsString;
    use bytes::Bytes;

    use super::*;
    use crate::engine::Value;
    use crate::engine::host::stub::{self, Record, StubHost};

    type Seen = Rc<RefCell<Vec<String>>>;

    /// A registry with one pipeline, `up`, that records what it got.
    fn registry() -> (Rc<Registry>, Seen) {
        let seen = Seen::default();
        let registry = Rc::new(Registry::default());
        registry.insert("up".into(), stub::layout(vec![Box::new(Record("up", seen.clone()))]));
        (registry, seen)
    }

    fn input() -> Vec<Event> {
        vec![Event::Data(Bytes::from_static(b"a")), Event::Data(Bytes::from_static(b"b")), Event::end()]
    }

    fn link(target: Target, registry: &Rc<Registry>) -> Vec<Box<dyn FilterSpec>> {
        vec![Box::new(Spec { target, registry: Some(registry.clone()) })]
    }

    #[test]
    fn link_feeds_every_event_to_the_named_pipeline_and_emits_its_output() {
        StubHost::install();
        let (registry, seen) = registry();
        let out = stub::run(link(Given::Fixed(SubRef::Named(registry.clone(), "up".into())), &registry), input());
        assert_eq!(out, ["Data a", "Data b", "StreamEnd"]);
        assert_eq!(*seen.borrow(), ["up: Data a", "up: Data b", "up: StreamEnd"]);
    }

    #[test]
    fn link_to_an_unknown_name_ends_the_stream_with_an_error() {
        StubHost::install();
        let (registry, seen) = registry();
        let out = stub::run(link(Given::Fixed(SubRef::Named(registry.clone(), "down".into())), &registry), input());
        assert_eq!(out, ["StreamEnd error"]);
        assert!(seen.borrow().is_empty());
    }

    #[test]
    fn link_with_a_function_drops_events_until_it_names_a_pipeline() {
        let stub = StubHost::install();
        stub.returns.borrow_mut().extend([Value::undefined(), Value::from(JsString::from("up"))]);
        let (registry, seen) = registry();
        let out = stub::run(link(Given::Dynamic(StubHost::callback()), &registry), input());
        assert_eq!(out, ["Data b", "StreamEnd"]);
        assert_eq!(*seen.borrow(), ["up: Data b", "up: StreamEnd"]);
        assert_eq!(*stub.log.borrow(), ["call/0", "call/0"]);
    }
}
