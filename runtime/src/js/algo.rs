//! The `algo` namespace: `URLRouter`, `RoundRobinLoadBalancer` and `LoadBalancer`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::JsArray;
use boa_engine::property::{Attribute, PropertyDescriptor};
use boa_engine::{
    Context, Finalize, JsData, JsObject, JsResult, JsString, JsSymbol, JsValue, NativeFunction, Trace, js_string,
};
use boa_gc::GcRefCell;

use super::{current, type_error};
use crate::engine::Inbound as InboundInfo;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<UrlRouter>()?;
    ctx.register_global_class::<RoundRobinLoadBalancer>()?;
    ctx.register_global_class::<LoadBalancer>()?;
    ctx.register_global_class::<Resource>()?;
    let global = ctx.global_object();
    let mut algo = ObjectInitializer::new(ctx);
    let mut members = Vec::new();
    for name in [UrlRouter::NAME, RoundRobinLoadBalancer::NAME, LoadBalancer::NAME] {
        members.push((JsString::from(name), global.get(JsString::from(name), algo.context())?));
    }
    for (name, ctor) in members {
        algo.property(name, ctor, Attribute::WRITABLE | Attribute::CONFIGURABLE);
    }
    let algo = algo.build();
    // The classes live under `algo`, not as globals.
    for name in [UrlRouter::NAME, RoundRobinLoadBalancer::NAME, LoadBalancer::NAME, Resource::NAME] {
        global.delete_property_or_throw(JsString::from(name), ctx)?;
    }
    ctx.register_global_property(js_string!("algo"), algo, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

fn arg(args: &[JsValue], i: usize) -> JsValue {
    args.get(i).cloned().unwrap_or_default()
}

fn method(class: &mut ClassBuilder<'_>, name: &'static str, len: usize, f: NativeFunction) {
    class.method(JsString::from(name), len, f);
}

// ---------------------------------------------------------------------------------------
// URLRouter

/// Rules for one host (`""` for rules without a host).
#[derive(Trace, Finalize)]
struct HostRules {
    host: String,
    exact: Vec<(String, JsValue)>,
    /// `/a/b/*`: the segments before `*`, matching the prefix itself and everything below.
    prefixes: Vec<(Vec<String>, JsValue)>,
}

#[derive(Trace, Finalize, JsData)]
pub struct UrlRouter {
    hosts: GcRefCell<Vec<HostRules>>,
}

impl UrlRouter {
    fn add(&self, pattern: &str, value: JsValue) -> JsResult<()> {
        let invalid = || type_error(format!("invalid URL pattern: {pattern}"));
        let slash = pattern.find('/').ok_or_else(invalid)?;
        let (host, path) = pattern.split_at(slash);
        if host.contains(':') {
            return Err(invalid());
        }
        let mut hosts = self.hosts.borrow_mut();
        let rules = match hosts.iter().position(|h| h.host == host) {
            Some(i) => &mut hosts[i],
            None => {
                hosts.push(HostRules { host: host.to_string(), exact: Vec::new(), prefixes: Vec::new() });
                hosts.last_mut().unwrap()
            }
        };
        match path.strip_suffix("/*").or((path == "*").then_some("")) {
            Some(prefix) => {
                let segs: Vec<String> = prefix.split('/').filter(|s| !s.is_empty()).map(String::from).collect();
                rules.prefixes.retain(|(p, _)| *p != segs);
                rules.prefixes.push((segs, value));
            }
            None => {
                rules.exact.retain(|(p, _)| p != path);
                rules.exact.push((path.to_string(), value));
            }
        }
        Ok(())
    }

    fn find_in(&self, host: &str, path: &str) -> Option<JsValue> {
        let hosts = self.hosts.borrow();
        let rules = hosts.iter().find(|h| h.host == host)?;
        if let Some((_, v)) = rules.exact.iter().find(|(p, _)| p == path) {
            return Some(v.clone());
        }
        let segs: Vec<&str> = path[1..].split('/').collect();
        rules
            .prefixes
            .iter()
            .filter(|(p, _)| p.len() <= segs.len() && p.iter().zip(&segs).all(|(a, b)| a == b))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, v)| v.clone())
    }

    /// Exact host, then `*.` + the host without its first label, then host-less rules.
    fn find(&self, url: &str) -> Option<JsValue> {
        let path_start = url.find('/')?;
        let path_end = url[path_start..].find('?').map_or(url.len(), |i| path_start + i);
        let path = &url[path_start..path_end];
        let domain = &url[..path_start];
        let domain = domain.rfind(':').map_or(domain, |i| &domain[..i]);
        if !domain.is_empty() {
            if let Some(v) = self.find_in(domain, path) {
                return Some(v);
            }
            if let Some(v) = domain.find('.').and_then(|dot| self.find_in(&format!("*{}", &domain[dot..]), path)) {
                return Some(v);
            }
        }
        self.find_in("", path)
    }
}

impl Class for UrlRouter {
    const NAME: &'static str = "URLRouter";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let router = UrlRouter { hosts: GcRefCell::new(Vec::new()) };
        if let Some(rules) = args.first().and_then(|v| v.as_object()) {
            for key in rules.own_property_keys(ctx)? {
                let pattern = JsValue::from(key.clone()).to_string(ctx)?.to_std_string_escaped();
                let value = rules.get(key, ctx)?;
                router.add(&pattern, value)?;
            }
        }
        Ok(router)
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        method(
            class,
            "add",
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let pattern = arg(args, 0).to_string(ctx)?.to_std_string_escaped();
                with_router(this, |r| r.add(&pattern, arg(args, 1)))?;
                Ok(JsValue::undefined())
            }),
        );
        method(
            class,
            "find",
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let mut url = String::new();
                for a in args.iter().filter(|a| !a.is_null_or_undefined()) {
                    let s = a.to_string(ctx)?.to_std_string_escaped();
                    url = join(&url, &s);
                }
                with_router(this, |r| Ok(r.find(&url).unwrap_or_default()))
            }),
        );
        Ok(())
    }
}

/// Joins two URL parts with exactly one `/` between them.
fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        return b.to_string();
    }
    format!("{}/{}", a.trim_end_matches('/'), b.trim_start_matches('/'))
}

fn with_router<R>(this: &JsValue, f: impl FnOnce(&UrlRouter) -> JsResult<R>) -> JsResult<R> {
    let obj = this.as_object().ok_or_else(|| type_error("not a URLRouter"))?;
    let r = obj.downcast_ref::<UrlRouter>().ok_or_else(|| type_error("not a URLRouter"))?;
    f(&r)
}

// ---------------------------------------------------------------------------------------
// Resources handed out by the balancers

/// What `next()`/`borrow()` and `allocate()` return: `id`/`target` name the target;
/// `free()` gives a `LoadBalancer` allocation back.
#[derive(Trace, Finalize, JsData)]
pub struct Resource {
    target: JsValue,
    #[unsafe_ignore_trace]
    slot: Option<(Rc<RefCell<LbState>>, usize, u64)>,
}

impl Class for Resource {
    const NAME: &'static str = "LoadBalancerResource";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("resources are made by load balancers"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let target = NativeFunction::from_fn_ptr(|this, _, _| {
            Ok(this
                .as_object()
                .and_then(|o| o.downcast_ref::<Resource>().map(|r| r.target.clone()))
                .unwrap_or_default())
        })
        .to_js_function(&realm);
        class.accessor(js_string!("id"), Some(target.clone()), None, Attribute::CONFIGURABLE);
        class.accessor(js_string!("target"), Some(target), None, Attribute::CONFIGURABLE);
        method(
            class,
            "free",
            0,
            NativeFunction::from_fn_ptr(|this, _, _| {
                let slot = this.as_object().and_then(|o| o.downcast_ref::<Resource>().and_then(|r| r.slot.clone()));
                if let Some((lb, pool, id)) = slot {
                    lb.borrow_mut().free(pool, id);
                }
                Ok(JsValue::undefined())
            }),
        );
        Ok(())
    }
}

fn new_resource(
    target: JsValue,
    slot: Option<(Rc<RefCell<LbState>>, usize, u64)>,
    ctx: &mut Context,
) -> JsResult<JsObject> {
    Resource::from_data(Resource { target, slot }, ctx)
}

// ---------------------------------------------------------------------------------------
// RoundRobinLoadBalancer

struct RrTarget {
    id: String,
    weight: u32,
    hits: u32,
    usage: f64,
}

#[derive(Default)]
struct RrState {
    targets: Vec<RrTarget>,
    /// `key` argument -> the target chosen for it.
    by_key: HashMap<String, String>,
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
        if let Some(k) = &key {
            match self.by_key.get(k) {
                Some(t) if self.targets.iter().any(|x| &x.id == t) => return Some(t.clone()),
                Some(_) => {
                    self.by_key.remove(k);
                }
                None => {}
            }
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
            self.by_key.insert(k, id.clone());
        }
        Some(id)
    }
}

/// A connection that borrowed a resource; it keeps it until the connection is gone.
#[derive(Trace, Finalize)]
struct Session {
    #[unsafe_ignore_trace]
    inbound: Weak<InboundInfo>,
    target: String,
    resource: JsObject,
}

#[derive(Trace, Finalize, JsData)]
pub struct RoundRobinLoadBalancer {
    #[unsafe_ignore_trace]
    state: RefCell<RrState>,
    sessions: GcRefCell<Vec<Session>>,
    /// Resources given back by ended sessions, reused for the same target.
    spare: GcRefCell<Vec<(String, JsObject)>>,
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
            let res: JsValue = self.resource_for(id, ctx)?.into();
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
        self.end_sessions();
        if let Some(s) = self.sessions.borrow().iter().find(|s| s.inbound.as_ptr() == Rc::as_ptr(&inbound)) {
            return Ok(s.resource.clone().into());
        }
        let Some(id) = self.state.borrow_mut().select(key) else { return Ok(JsValue::null()) };
        let resource = self.resource_for(id.clone(), ctx)?;
        self.sessions.borrow_mut().push(Session {
            inbound: Rc::downgrade(&inbound),
            target: id,
            resource: resource.clone(),
        });
        Ok(resource.into())
    }

    /// Sessions whose connection has closed give their resources back.
    fn end_sessions(&self) {
        let mut sessions = self.sessions.borrow_mut();
        let mut spare = self.spare.borrow_mut();
        sessions.retain(|s| {
            let alive = s.inbound.upgrade().is_some_and(|i| i.fd().is_some());
            if !alive {
                spare.push((s.target.clone(), s.resource.clone()));
            }
            alive
        });
    }

    fn resource_for(&self, id: String, ctx: &mut Context) -> JsResult<JsObject> {
        let mut spare = self.spare.borrow_mut();
        if let Some(i) = spare.iter().position(|(t, _)| *t == id) {
            return Ok(spare.remove(i).1);
        }
        new_resource(JsString::from(id).into(), None, ctx)
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
            sessions: GcRefCell::new(Vec::new()),
            spare: GcRefCell::new(Vec::new()),
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

// ---------------------------------------------------------------------------------------
// LoadBalancer

struct Slot {
    id: u64,
    load: u32,
    object: JsObject,
}

struct Pool {
    key: String,
    target: JsValue,
    weight: f64,
    capacity: i32,
    step: f64,
    load: f64,
    /// Ordered by load, least loaded first, the way allocations move them.
    slots: Vec<Slot>,
}

#[derive(Default)]
struct LbState {
    least_load: bool,
    pools: Vec<Pool>,
    /// Pool indices, least loaded first.
    queue: Vec<usize>,
    next_slot: u64,
}

impl LbState {
    /// Moves `pool` towards the back past every pool with a load not above its own.
    fn sort_forward(&mut self, pool: usize) {
        let Some(pos) = self.queue.iter().position(|p| *p == pool) else { return };
        let load = self.pools[pool].load;
        let mut j = pos + 1;
        while j < self.queue.len() && self.pools[self.queue[j]].load <= load {
            j += 1;
        }
        if j != pos + 1 {
            self.queue.remove(pos);
            self.queue.insert(j - 1, pool);
        }
    }

    /// Moves `pool` towards the front past every pool with a higher load.
    fn sort_backward(&mut self, pool: usize) {
        let Some(pos) = self.queue.iter().position(|p| *p == pool) else { return };
        let load = self.pools[pool].load;
        let mut j = pos;
        while j > 0 && self.pools[self.queue[j - 1]].load > load {
            j -= 1;
        }
        if j != pos {
            self.queue.remove(pos);
            self.queue.insert(j, pool);
        }
    }

    /// The first pool in the queue with a weight that `valid` accepts; its load goes up.
    fn next(&mut self, valid: &dyn Fn(usize) -> bool) -> Option<usize> {
        let p = self.queue.iter().copied().find(|p| self.pools[*p].weight > 0.0 && valid(*p))?;
        self.pools[p].load += self.pools[p].step;
        self.sort_forward(p);
        Some(p)
    }

    fn free(&mut self, pool: usize, id: u64) {
        if let Some(p) = self.pools.get_mut(pool).filter(|_| self.least_load) {
            p.load -= p.step;
            self.sort_backward(pool);
        }
        let Some(p) = self.pools.get_mut(pool) else { return };
        let Some(pos) = p.slots.iter().position(|s| s.id == id) else { return };
        if p.slots[pos].load == 0 {
            return;
        }
        p.slots[pos].load -= 1;
        let load = p.slots[pos].load;
        let mut j = pos;
        while j > 0 && p.slots[j - 1].load > load {
            j -= 1;
        }
        let slot = p.slots.remove(pos);
        p.slots.insert(j, slot);
    }
}

#[derive(Trace, Finalize, JsData)]
pub struct LoadBalancer {
    #[unsafe_ignore_trace]
    state: Rc<RefCell<LbState>>,
    /// `key`, `weight` and `capacity` options, each a value or a function of the target.
    options: Vec<(String, JsValue)>,
}

impl LoadBalancer {
    fn option(&self, name: &str, target: &JsValue, ctx: &mut Context) -> JsResult<JsValue> {
        let v = self.options.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
        match v.as_object().filter(|o| o.is_callable()) {
            Some(f) => f.call(&JsValue::undefined(), std::slice::from_ref(target), ctx),
            None => Ok(v),
        }
    }

    fn provision(&self, targets: &JsValue, ctx: &mut Context) -> JsResult<()> {
        let mut old = std::mem::take(&mut *self.state.borrow_mut());
        let mut state = LbState { least_load: old.least_load, next_slot: old.next_slot, ..Default::default() };
        if let Some(arr) = targets.as_object().filter(|o| o.is_array()) {
            let arr = JsArray::from_object(arr.clone())?;
            for i in 0..arr.length(ctx)? {
                let target = arr.get(i, ctx)?;
                let key = match self.option("key", &target, ctx)? {
                    k if k.is_undefined() => target.clone(),
                    k => k,
                };
                let key = key.to_string(ctx)?.to_std_string_escaped();
                let weight = match self.option("weight", &target, ctx)? {
                    w if w.is_undefined() => 1.0,
                    w => w.to_number(ctx)?.max(0.0),
                };
                let capacity = match self.option("capacity", &target, ctx)? {
                    c if c.is_undefined() => 0,
                    c => c.to_i32(ctx)?,
                };
                let pool = match old.pools.iter().position(|p| p.key == key) {
                    Some(i) => {
                        let mut p = old.pools.swap_remove(i);
                        (p.target, p.weight, p.capacity) = (target, weight, capacity);
                        p
                    }
                    None => Pool { key, target, weight, capacity, step: 0.0, load: 0.0, slots: Vec::new() },
                };
                state.pools.push(pool);
                let index = state.pools.len() - 1;
                state.queue.insert(0, index);
                state.sort_forward(index);
            }
        }
        let total: f64 = state.pools.iter().map(|p| p.weight).sum();
        for p in &mut state.pools {
            p.step = if p.weight > 0.0 { total / p.weight } else { f64::INFINITY };
        }
        if !state.least_load {
            for p in &mut state.pools {
                p.load = 0.0;
            }
            for i in 0..state.pools.len() {
                state.pools[i].load = state.pools[i].step;
                state.sort_forward(i);
            }
        }
        *self.state.borrow_mut() = state;
        Ok(())
    }

    fn allocate(&self, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
        let tag = arg(args, 0);
        let validator = args.get(1).and_then(|v| v.as_object()).filter(|o| o.is_callable());
        let mut valid = |target: &JsValue| -> JsResult<bool> {
            match &validator {
                Some(f) => Ok(f.call(&JsValue::undefined(), std::slice::from_ref(target), ctx)?.to_boolean()),
                None => Ok(true),
            }
        };
        let by_tag = if tag.is_null_or_undefined() {
            None
        } else {
            let key = tag.display().to_string();
            let found = self.state.borrow().pools.iter().position(|p| p.key == key);
            match found {
                Some(i) => {
                    let target = self.state.borrow().pools[i].target.clone();
                    valid(&target)?.then_some(i)
                }
                None => None,
            }
        };
        let pool = match by_tag {
            Some(p) => Some(p),
            None => {
                // The validator is script code: it runs before the state is borrowed again.
                let queue: Vec<(usize, JsValue)> = {
                    let s = self.state.borrow();
                    s.queue
                        .iter()
                        .filter(|p| s.pools[**p].weight > 0.0)
                        .map(|p| (*p, s.pools[*p].target.clone()))
                        .collect()
                };
                let mut chosen = None;
                for (p, target) in queue {
                    if valid(&target)? {
                        chosen = Some(p);
                        break;
                    }
                }
                chosen.and_then(|c| self.state.borrow_mut().next(&|p| p == c))
            }
        };
        let Some(pool) = pool else { return Ok(JsValue::null()) };
        self.allocate_in(pool, ctx)
    }

    fn allocate_in(&self, pool: usize, ctx: &mut Context) -> JsResult<JsValue> {
        let mut s = self.state.borrow_mut();
        let needs_new = {
            let p = &s.pools[pool];
            match p.slots.first() {
                None => true,
                Some(head) => head.load > 0 && (p.capacity <= 0 || p.capacity as usize > p.slots.len()),
            }
        };
        if needs_new {
            s.next_slot += 1;
            let id = s.next_slot;
            let target = s.pools[pool].target.clone();
            let object = new_resource(target, Some((self.state.clone(), pool, id)), ctx)?;
            s.pools[pool].slots.insert(0, Slot { id, load: 0, object });
        }
        let p = &mut s.pools[pool];
        p.slots[0].load += 1;
        let load = p.slots[0].load;
        let mut j = 1;
        while j < p.slots.len() && p.slots[j].load <= load {
            j += 1;
        }
        let slot = p.slots.remove(0);
        let object = slot.object.clone();
        p.slots.insert(j - 1, slot);
        Ok(object.into())
    }
}

fn with_lb<R>(this: &JsValue, f: impl FnOnce(&LoadBalancer) -> JsResult<R>) -> JsResult<R> {
    let obj = this.as_object().ok_or_else(|| type_error("not a LoadBalancer"))?;
    let lb = obj.downcast_ref::<LoadBalancer>().ok_or_else(|| type_error("not a LoadBalancer"))?;
    f(&lb)
}

impl Class for LoadBalancer {
    const NAME: &'static str = "LoadBalancer";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let mut options = Vec::new();
        let mut least_load = false;
        if let Some(o) = args.get(1).and_then(|v| v.as_object()) {
            let algorithm = o.get(js_string!("algorithm"), ctx)?;
            if !algorithm.is_undefined() {
                least_load = match algorithm.to_string(ctx)?.to_std_string_escaped().as_str() {
                    "round-robin" => false,
                    "least-load" => true,
                    other => return Err(type_error(format!("LoadBalancer: unknown algorithm '{other}'"))),
                };
            }
            for name in ["key", "weight", "capacity"] {
                options.push((name.to_string(), o.get(JsString::from(name), ctx)?));
            }
        }
        let lb = LoadBalancer { state: Rc::new(RefCell::new(LbState { least_load, ..Default::default() })), options };
        lb.provision(&arg(args, 0), ctx)?;
        Ok(lb)
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        method(
            class,
            "allocate",
            0,
            NativeFunction::from_fn_ptr(|this, args, ctx| with_lb(this, |lb| lb.allocate(args, ctx))),
        );
        method(
            class,
            "provision",
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                with_lb(this, |lb| lb.provision(&arg(args, 0), ctx))?;
                Ok(JsValue::undefined())
            }),
        );
        method(
            class,
            "schedule",
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let n = arg(args, 0).to_i32(ctx)?.max(0);
                let targets = with_lb(this, |lb| {
                    let mut s = lb.state.borrow_mut();
                    let mut out = Vec::new();
                    for _ in 0..n {
                        match s.next(&|_| true) {
                            Some(p) => out.push(s.pools[p].target.clone()),
                            None => out.push(JsValue::undefined()),
                        }
                    }
                    Ok(out)
                })?;
                Ok(JsArray::from_iter(targets, ctx).into())
            }),
        );
        Ok(())
    }
}
