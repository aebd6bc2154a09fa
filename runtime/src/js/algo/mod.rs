//! The `algo` namespace: `URLRouter`, `RoundRobinLoadBalancer`, `HashingLoadBalancer`,
//! `LeastWorkLoadBalancer` (the three over `balancer.rs`), `LoadBalancer`, `Quota`,
//! `ResourcePool`, `Cache`, `SharedMap` and `Percentile`, one file each, and the resources the
//! balancers hand out.

mod balancer;
mod cache;
mod hashing_load_balancer;
mod least_work_load_balancer;
mod load_balancer;
mod percentile;
pub mod quota;
mod resource;
mod resource_pool;
mod round_robin_load_balancer;
mod shared_map;
mod url_router;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsResult, JsString, JsValue, NativeFunction, js_string};

use cache::Cache;
use hashing_load_balancer::HashingLoadBalancer;
use least_work_load_balancer::LeastWorkLoadBalancer;
use load_balancer::LoadBalancer;
use percentile::Percentile;
use quota::Quota;
use resource::Resource;
use resource_pool::ResourcePool;
use round_robin_load_balancer::RoundRobinLoadBalancer;
use shared_map::SharedMap;
use url_router::UrlRouter;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<UrlRouter>()?;
    ctx.register_global_class::<RoundRobinLoadBalancer>()?;
    ctx.register_global_class::<LoadBalancer>()?;
    ctx.register_global_class::<Quota>()?;
    ctx.register_global_class::<Resource>()?;
    ctx.register_global_class::<ResourcePool>()?;
    ctx.register_global_class::<Cache>()?;
    ctx.register_global_class::<HashingLoadBalancer>()?;
    ctx.register_global_class::<LeastWorkLoadBalancer>()?;
    ctx.register_global_class::<SharedMap>()?;
    ctx.register_global_class::<Percentile>()?;
    let global = ctx.global_object();
    let mut algo = ObjectInitializer::new(ctx);
    let mut members = Vec::new();
    let names = [
        UrlRouter::NAME,
        RoundRobinLoadBalancer::NAME,
        LoadBalancer::NAME,
        Quota::NAME,
        ResourcePool::NAME,
        Cache::NAME,
        HashingLoadBalancer::NAME,
        LeastWorkLoadBalancer::NAME,
        SharedMap::NAME,
        Percentile::NAME,
    ];
    for name in names {
        members.push((JsString::from(name), global.get(JsString::from(name), algo.context())?));
    }
    for (name, ctor) in members {
        algo.property(name, ctor, Attribute::WRITABLE | Attribute::CONFIGURABLE);
    }
    let algo = algo.build();
    // The classes live under `algo`, not as globals.
    for name in names.into_iter().chain([Resource::NAME]) {
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
