//! What Pipy's three target-choosing balancers share (its `LoadBalancerBase`):
//! `next`/`borrow` hand out a target kept for the borrower (an object given, else the current
//! inbound connection), `select` names one, `deselect` gives one back, `set` changes the
//! targets. How a target is chosen is a [`Strategy`]: round robin, hashing, least work.

use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::PropertyDescriptor;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsSymbol, JsValue, NativeFunction, Trace};
use boa_gc::GcRefCell;

use super::resource::new_resource;
use super::{arg, method};
use crate::engine::Inbound;
use crate::js::{current, type_error};

/// How a balancer chooses among its targets.
pub trait Strategy: Default + 'static {
    const NAME: &'static str;
    /// Whether the class has `add(target)` (only the hashing one has, as in Pipy).
    const HAS_ADD: bool = false;
    /// Sets one target's weight, adding it if new.
    fn set(&mut self, id: &str, weight: i32);
    /// Replaces the targets with `targets`, keeping the state of those that stay.
    fn replace(&mut self, targets: &[(String, i32)]);
    /// A target, the same one again for the same `key` (when the strategy keeps keys).
    fn select(&mut self, key: Option<String>) -> Option<String>;
    /// A target handed out is given back.
    fn deselect(&mut self, _id: &str) {}
}

/// How many keys one generation of a [`Keys`] holds.
pub const KEYS_PER_GENERATION: usize = 16 * 1024;

/// The target chosen for each `key` argument, kept bounded: the keys used lately and those of
/// the generation before, moved up again when used; a key unused for two generations is
/// forgotten (and gets a target by the strategy again).
#[derive(Default)]
pub struct Keys {
    lately: HashMap<String, String>,
    before: HashMap<String, String>,
}

impl Keys {
    /// The target kept for `key`, taken out (put it back with [`Keys::remember`]).
    pub fn take(&mut self, key: &str) -> Option<String> {
        self.lately.remove(key).or_else(|| self.before.remove(key))
    }

    pub fn remember(&mut self, key: String, target: String) {
        if self.lately.len() >= KEYS_PER_GENERATION {
            self.before = std::mem::take(&mut self.lately);
        }
        self.lately.insert(key, target);
    }

    /// How many keys are kept, both generations.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.lately.len() + self.before.len()
    }
}

/// The resources connections borrowed, by connection id. A connection that closes puts its id
/// on `closed`, and the next borrow drops those entries (and gives their targets back): no
/// scan, and no entry outlives its connection by more than one borrow.
#[derive(Trace, Finalize, Default)]
pub(super) struct Sessions {
    pub(super) live: HashMap<u64, Held>,
    #[unsafe_ignore_trace]
    closed: Rc<RefCell<Vec<u64>>>,
}

/// A connection's resource and the target it names.
#[derive(Trace, Finalize)]
pub(super) struct Held {
    resource: JsObject,
    #[unsafe_ignore_trace]
    target: String,
}

impl Sessions {
    /// The resource `inbound` holds; `done` gets the target of each closed connection's.
    pub(super) fn get(&mut self, inbound: &Inbound, mut done: impl FnMut(&str)) -> Option<JsObject> {
        for id in self.closed.borrow_mut().drain(..) {
            if let Some(held) = self.live.remove(&id) {
                done(&held.target);
            }
        }
        self.live.get(&inbound.id).map(|h| h.resource.clone())
    }

    pub(super) fn insert(&mut self, inbound: &Inbound, resource: JsObject, target: String) {
        let (id, closed) = (inbound.id, Rc::downgrade(&self.closed));
        self.live.insert(id, Held { resource, target });
        inbound.on_close(Box::new(move || {
            if let Some(closed) = closed.upgrade() {
                closed.borrow_mut().push(id);
            }
        }));
    }
}

#[derive(Trace, Finalize, JsData)]
pub struct Balancer<S: Strategy> {
    #[unsafe_ignore_trace]
    state: RefCell<S>,
    sessions: GcRefCell<Sessions>,
    /// Where a borrower object passed explicitly keeps its resource.
    #[unsafe_ignore_trace]
    symbol: JsSymbol,
    #[unsafe_ignore_trace]
    _s: PhantomData<S>,
}

/// Targets: an array (weight 1 each) or an object of targets to weights.
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

fn key_of(v: JsValue, ctx: &mut Context) -> JsResult<Option<String>> {
    match v {
        k if k.is_undefined() => Ok(None),
        k => Ok(Some(k.to_string(ctx)?.to_std_string_escaped())),
    }
}

impl<S: Strategy> Balancer<S> {
    fn borrow(&self, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
        let key = key_of(arg(args, 1), ctx)?;
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
        let kept = self.sessions.borrow_mut().get(&inbound, |t| self.state.borrow_mut().deselect(t));
        if let Some(resource) = kept {
            return Ok(resource.into());
        }
        let Some(id) = self.state.borrow_mut().select(key) else { return Ok(JsValue::null()) };
        let resource = new_resource(JsString::from(id.clone()).into(), None, ctx)?;
        // A connection already closed would never take its entry away.
        if inbound.fd().is_some() {
            self.sessions.borrow_mut().insert(&inbound, resource.clone(), id);
        }
        Ok(resource.into())
    }
}

fn with_lb<S: Strategy, R>(this: &JsValue, f: impl FnOnce(&Balancer<S>) -> JsResult<R>) -> JsResult<R> {
    let wrong = || type_error(format!("not a {}", S::NAME));
    let obj = this.as_object().ok_or_else(wrong)?;
    let lb = obj.downcast_ref::<Balancer<S>>().ok_or_else(wrong)?;
    f(&lb)
}

fn set<S: Strategy>(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let first = arg(args, 0);
    if let Some(id) = first.as_string().map(|s| s.to_std_string_escaped()) {
        let weight = arg(args, 1).to_i32(ctx)?;
        return with_lb::<S, _>(this, |lb| {
            lb.state.borrow_mut().set(&id, weight);
            Ok(JsValue::undefined())
        });
    }
    if !first.is_object() {
        return Err(type_error(format!("{}.set() takes a string or an object", S::NAME)));
    }
    let targets = targets_of(&first, ctx)?;
    with_lb::<S, _>(this, |lb| {
        lb.state.borrow_mut().replace(&targets);
        Ok(JsValue::undefined())
    })
}

impl<S: Strategy> Class for Balancer<S> {
    const NAME: &'static str = S::NAME;
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let mut state = S::default();
        state.replace(&targets_of(&arg(args, 0), ctx)?);
        Ok(Balancer {
            state: RefCell::new(state),
            sessions: GcRefCell::new(Sessions::default()),
            symbol: JsSymbol::new(Some(JsString::from(S::NAME))).ok_or_else(|| type_error("out of symbols"))?,
            _s: PhantomData,
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        for name in ["next", "borrow"] {
            let f = NativeFunction::from_fn_ptr(|this, args, ctx| with_lb::<S, _>(this, |lb| lb.borrow(args, ctx)));
            method(class, name, 0, f);
        }
        let select = NativeFunction::from_fn_ptr(|this, args, ctx| {
            let key = key_of(arg(args, 0), ctx)?;
            with_lb::<S, _>(this, |lb| {
                Ok(lb.state.borrow_mut().select(key).map(|t| JsString::from(t).into()).unwrap_or_default())
            })
        });
        method(class, "select", 0, select);
        method(class, "set", 2, NativeFunction::from_fn_ptr(|this, args, ctx| set::<S>(this, args, ctx)));
        let deselect = NativeFunction::from_fn_ptr(|this, args, ctx| {
            let Some(id) = key_of(arg(args, 0), ctx)? else { return Ok(JsValue::undefined()) };
            with_lb::<S, _>(this, |lb| {
                lb.state.borrow_mut().deselect(&id);
                Ok(JsValue::undefined())
            })
        });
        method(class, "deselect", 1, deselect);
        if S::HAS_ADD {
            let add = NativeFunction::from_fn_ptr(|this, args, ctx| {
                let id = arg(args, 0).to_string(ctx)?.to_std_string_escaped();
                with_lb::<S, _>(this, |lb| {
                    lb.state.borrow_mut().set(&id, 1);
                    Ok(JsValue::undefined())
                })
            });
            method(class, "add", 1, add);
        }
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
    fn sessions_go_with_their_connections_and_give_their_targets_back() {
        let mut sessions = Sessions::default();
        let kept = inbound();
        sessions.insert(&kept, JsObject::with_null_proto(), "k".into());
        let mut given_back = 0;
        for _ in 0..1000 {
            let c = inbound();
            assert!(sessions.get(&c, |_| given_back += 1).is_none());
            sessions.insert(&c, JsObject::with_null_proto(), "t".into());
            assert!(sessions.get(&c, |_| given_back += 1).is_some(), "a connection keeps its resource");
            c.closed();
        }
        assert!(sessions.get(&kept, |_| given_back += 1).is_some());
        assert_eq!(sessions.live.len(), 1, "only the open connection's resource is left");
        assert_eq!(given_back, 1000, "each closed connection's target was given back once");
    }
}
