//! `algo.RoundRobinLoadBalancer`: weighted round robin; a key, or the connection that borrowed
//! a target, keeps the target it got.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::PropertyDescriptor;
use boa_engine::{
    Context, Finalize, JsData, JsObject, JsResult, JsString, JsSymbol, JsValue, NativeFunction, Trace, js_string,
};
use boa_gc::GcRefCell;

use super::resource::new_resource;
use super::{arg, method};
use crate::engine::Inbound;
use crate::js::{current, type_error};

struct RrTarget {
    id: String,
    weight: u32,
    hits: u32,
    usage: f64,
}

/// How many keys one generation of the key map holds: a key unused for two generations is
/// forgotten (and gets a target by the round again), so the maps stay bounded.
const KEYS_PER_GENERATION: usize = 16 * 1024;

#[derive(Default)]
struct RrState {
    targets: Vec<RrTarget>,
    /// `key` argument -> the target chosen for it: the keys used lately...
    by_key: HashMap<String, String>,
    /// ...and those of the generation before, moved up again when they are used.
    by_key_before: HashMap<String, String>,
}

impl RrState {
    fn set(&mut self, id: &str, weight: i32) {
        let weight = weight.max(0) as u32;
        let min_usage =
            self.targets.iter().map(|t| t.usage).fold(None, |m: Option<f64>, u| Some(m.map_or(u, |m| m.min(u))));
        let usage = min_usage.unwrap_or(0.0);
        let hits = (weight as f64 * usage) as u32;
        match self.targets.iter_mut().find(|t| t.id == id) {
            Some(t) => *t = RrTarget { id: id.to_string(), weight, hits, usage },
            None => self.targets.push(RrTarget { id: id.to_string(), weight, hits, usage }),
        }
    }

    /// Smooth weighted round-robin: the target with the lowest hits/weight, earliest first;
    /// the counts start over once every weight has been used up.
    fn select(&mut self, key: Option<String>) -> Option<String> {
        if let Some(k) = key.as_ref()
            && let Some(t) = self.by_key.remove(k).or_else(|| self.by_key_before.remove(k))
            && self.targets.iter().any(|x| x.id == t)
        {
            self.remember(k.clone(), t.clone());
            return Some(t);
        }
        let live = self.targets.iter().filter(|t| t.weight > 0);
        let total_weight: u32 = live.clone().map(|t| t.weight).sum();
        let total_hits: u32 = live.map(|t| t.hits).sum();
        let mut best: Option<usize> = None;
        for (i, t) in self.targets.iter().enumerate() {
            if t.weight > 0 && best.is_none_or(|b| t.usage < self.targets[b].usage) {
                best = Some(i);
            }
        }
        let t = &mut self.targets[best?];
        t.hits += 1;
        t.usage = t.hits as f64 / t.weight as f64;
        let id = t.id.clone();
        if total_hits + 1 >= total_weight {
            for t in &mut self.targets {
                t.hits = 0;
                t.usage = 0.0;
            }
        }
        if let Some(k) = key {
            self.remember(k, id.clone());
        }
        Some(id)
    }

    fn remember(&mut self, key: String, target: String) {
        if self.by_key.len() >= KEYS_PER_GENERATION {
            self.by_key_before = std::mem::take(&mut self.by_key);
        }
        self.by_key.insert(key, target);
    }
}

/// The resources connections borrowed, by connection id. A connection that closes puts its id
/// on `closed`, and the next borrow drops those entries: no scan, and no entry outlives its
/// connection by more than one borrow.
#[derive(Trace, Finalize, Default)]
struct Sessions {
    live: HashMap<u64, JsObject>,
    #[unsafe_ignore_trace]
    closed: Rc<RefCell<Vec<u64>>>,
}

impl Sessions {
    fn get(&mut self, inbound: &Inbound) -> Option<JsObject> {
        for id in self.closed.borrow_mut().drain(..) {
            self.live.remove(&id);
        }
        self.live.get(&inbound.id).cloned()
    }

    fn insert(&mut self, inbound: &Inbound, resource: JsObject) {
        let (id, closed) = (inbound.id, Rc::downgrade(&self.closed));
        self.live.insert(id, resource);
        inbound.on_close(Box::new(move || {
            if let Some(closed) = closed.upgrade() {
                closed.borrow_mut().push(id);
            }
        }));
    }
}

#[derive(Trace, Finalize, JsData)]
pub struct RoundRobinLoadBalancer {
    #[unsafe_ignore_trace]
    state: RefCell<RrState>,
    sessions: GcRefCell<Sessions>,
    /// Where a borrower object passed explicitly keeps its resource.
    #[unsafe_ignore_trace]
    symbol: JsSymbol,
}

fn targets_of(v: &JsValue, ctx: &mut Context) -> JsResult<Vec<(String, i32)>> {
    let Some(o) = v.as_object() else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    if o.is_array() {
        let arr = JsArray::from_object(o.clone())?;
        for i in 0..arr.length(ctx)? {
            out.push((arr.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped(), 1));
        }
    } else {
        for key in o.own_property_keys(ctx)? {
            let weight = o.get(key.clone(), ctx)?.to_i32(ctx)?;
            out.push((JsValue::from(key).to_string(ctx)?.to_std_string_escaped(), weight));
        }
    }
    Ok(out)
}

impl RoundRobinLoadBalancer {
    fn borrow(&self, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
        let key = match arg(args, 1) {
            k if k.is_undefined() => None,
            k => Some(k.to_string(ctx)?.to_std_string_escaped()),
        };
        if let Some(borrower) = args.first().and_then(|v| v.as_object()) {
            let kept = borrower.get(self.symbol.clone(), ctx)?;
            if kept.is_object() {
                return Ok(kept);
            }
            let Some(id) = self.state.borrow_mut().select(key) else { return Ok(JsValue::null()) };
            let res: JsValue = new_resource(JsString::from(id).into(), None, ctx)?.into();
            let desc =
                PropertyDescriptor::builder().value(res.clone()).writable(true).enumerable(false).configurable(true);
            borrower.define_property_or_throw(self.symbol.clone(), desc, ctx)?;
            return Ok(res);
        }
        let Some(inbound) = current().and_then(|c| c.inbound.clone()) else {
            // Nobody to remember the choice for.
            let Some(id) = self.state.borrow_mut().select(key) else { return Ok(JsValue::null()) };
            return Ok(new_resource(JsString::from(id).into(), None, ctx)?.into());
        };
        if let Some(resource) = self.sessions.borrow_mut().get(&inbound) {
            return Ok(resource.into());
        }
        let Some(id) = self.state.borrow_mut().select(key) else { return Ok(JsValue::null()) };
        let resource = new_resource(JsString::from(id).into(), None, ctx)?;
        // A connection already closed would never take its entry away.
        if inbound.fd().is_some() {
            self.sessions.borrow_mut().insert(&inbound, resource.clone());
        }
        Ok(resource.into())
    }
}

fn with_rr<R>(this: &JsValue, f: impl FnOnce(&RoundRobinLoadBalancer) -> JsResult<R>) -> JsResult<R> {
    let obj = this.as_object().ok_or_else(|| type_error("not a RoundRobinLoadBalancer"))?;
    let lb = obj.downcast_ref::<RoundRobinLoadBalancer>().ok_or_else(|| type_error("not a RoundRobinLoadBalancer"))?;
    f(&lb)
}

impl Class for RoundRobinLoadBalancer {
    const NAME: &'static str = "RoundRobinLoadBalancer";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let mut state = RrState::default();
        for (id, weight) in targets_of(&arg(args, 0), ctx)? {
            state.set(&id, weight);
        }
        Ok(RoundRobinLoadBalancer {
            state: RefCell::new(state),
            sessions: GcRefCell::new(Sessions::default()),
            symbol: JsSymbol::new(Some(js_string!("RoundRobinLoadBalancer")))
                .ok_or_else(|| type_error("out of symbols"))?,
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        for name in ["next", "borrow"] {
            method(
                class,
                name,
                0,
                NativeFunction::from_fn_ptr(|this, args, ctx| with_rr(this, |lb| lb.borrow(args, ctx))),
            );
        }
        method(
            class,
            "select",
            0,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let key = match arg(args, 0) {
                    k if k.is_undefined() => None,
                    k => Some(k.to_string(ctx)?.to_std_string_escaped()),
                };
                with_rr(this, |lb| {
                    Ok(lb.state.borrow_mut().select(key).map(|t| JsString::from(t).into()).unwrap_or_default())
                })
            }),
        );
        method(
            class,
            "set",
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let first = arg(args, 0);
                if let Some(id) = first.as_string().map(|s| s.to_std_string_escaped()) {
                    let weight = arg(args, 1).to_i32(ctx)?;
                    return with_rr(this, |lb| {
                        lb.state.borrow_mut().set(&id, weight);
                        Ok(JsValue::undefined())
                    });
                }
                let targets = targets_of(&first, ctx)?;
                with_rr(this, |lb| {
                    let mut s = lb.state.borrow_mut();
                    s.targets.retain(|t| targets.iter().any(|(id, _)| *id == t.id));
                    for (id, weight) in &targets {
                        if !s.targets.iter().any(|t| t.id == *id && t.weight == (*weight).max(0) as u32) {
                            s.set(id, *weight);
                        }
                    }
                    Ok(JsValue::undefined())
                })
            }),
        );
        method(class, "deselect", 1, NativeFunction::from_fn_ptr(|_, _, _| Ok(JsValue::undefined())));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbound() -> Inbound {
        Inbound::new(([127, 0, 0, 1], 1).into(), ([127, 0, 0, 1], 2).into(), -1)
    }

    #[test]
    fn sessions_go_with_their_connections() {
        let mut sessions = Sessions::default();
        let kept = inbound();
        sessions.insert(&kept, JsObject::with_null_proto());
        for _ in 0..1000 {
            let c = inbound();
            assert!(sessions.get(&c).is_none());
            sessions.insert(&c, JsObject::with_null_proto());
            assert!(sessions.get(&c).is_some(), "a connection keeps its resource");
            c.closed();
        }
        assert!(sessions.get(&kept).is_some());
        assert_eq!(sessions.live.len(), 1, "only the open connection's resource is left");
    }

    #[test]
    fn keys_stick_to_their_target_and_the_key_map_stays_bounded() {
        let mut state = RrState::default();
        state.set("a", 1);
        state.set("b", 1);
        let first = state.select(Some("k".into()));
        for i in 0..5 * KEYS_PER_GENERATION {
            state.select(Some(format!("key{i}")));
            if i % 1000 == 0 {
                assert_eq!(state.select(Some("k".into())), first, "a key in use keeps its target");
            }
        }
        assert!(state.by_key.len() + state.by_key_before.len() <= 2 * KEYS_PER_GENERATION);
    }
}
