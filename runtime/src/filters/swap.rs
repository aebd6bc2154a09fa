//! `swap(hub | fn)`: the stream joins a `pipeline.Hub` (or the one `fn()` returns, asked at
//! each event until it returns one; the events before wait, past 1 MiB with the
//! connection's readers paused). Every event of the stream then goes to the hub's other
//! members, and what they send is this filter's output. The stream leaves the hub when its
//! pipeline goes.

use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use super::held::Held;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::hub::Hub;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let hub = args.value(0);
    if !hub.is_object() {
        return Err(args.takes("a pipeline.Hub or a function returning one"));
    }
    Ok(Made::Filter(Box::new(Spec { hub })))
}

struct Spec {
    hub: Value,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "swap"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let held = Held::new(env.context.clone());
        Box::new(Swap { given: self.hub.clone(), env, hub: None, held, ended: false })
    }
}

struct Swap {
    given: Value,
    env: FilterEnv,
    hub: Option<Rc<Hub>>,
    /// Events before the hub is known.
    held: Rc<Held>,
    ended: bool,
}

impl Swap {
    /// The hub, once known; `Ok(None)` while a function returns none.
    fn find(&self) -> Result<Option<Rc<Hub>>, String> {
        let h = host();
        let v = match self.given.as_callable() {
            Some(f) => h.call(&self.env.context, &f, &[])?,
            None => self.given.clone(),
        };
        if v.is_null_or_undefined() {
            return Ok(None);
        }
        h.hub_of(&v).map(Some).ok_or_else(|| "callback did not return a Hub".into())
    }
}

impl Filter for Swap {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if self.hub.is_none() {
            match self.find() {
                Ok(Some(hub)) => {
                    hub.join(&self.env);
                    self.hub = Some(hub);
                }
                Ok(None) => {
                    if !self.held.waiting() {
                        self.held.wait(None);
                    }
                    return self.held.push(evt);
                }
                Err(e) => {
                    tracing::error!(target: "pipeline", "swap: {e}");
                    self.ended = true;
                    return out.emit(runtime_error(e));
                }
            }
        }
        let Some(hub) = &self.hub else { return };
        if self.held.waiting() {
            self.held.take().iter().for_each(|e| hub.broadcast(e, &self.env));
            self.held.resume();
        }
        hub.broadcast(&evt, &self.env);
    }
}

impl Drop for Swap {
    fn drop(&mut self) {
        if let Some(hub) = &self.hub {
            hub.exit(&self.env);
        }
    }
}
