//! `algo.LoadBalancer`: weighted allocation of targets, each up to its capacity; a tag
//! allocates from the target it names, and the resource's `free()` gives the allocation back.

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::resource::new_resource;
use super::{arg, method};
use crate::js::type_error;

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
pub(super) struct LbState {
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

    pub(super) fn free(&mut self, pool: usize, id: u64) {
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
