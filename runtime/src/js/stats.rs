//! The `stats` namespace: `Counter`, `Gauge` and `Histogram`, as in Pipy. A metric made in a
//! script is a tree of values by label (`withLabels` goes one level down per label); the
//! admin port's `/metrics` sums the trees of every worker thread under the metric's name.
//! The tree itself is `engine::metrics`.

use std::sync::Arc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use crate::engine::metrics::{self, Family, Kind, Tree};
use crate::js::type_error;

/// One node of a metric: its family, the tree this object records into, and the label
/// values from the root to it.
#[derive(Clone)]
struct Metric {
    family: Arc<Family>,
    tree: Tree,
    path: Vec<String>,
}

impl Metric {
    fn new(name: &JsValue, kind: Kind, labels: &JsValue, ctx: &mut Context) -> JsResult<Metric> {
        let name = name.to_string(ctx)?.to_std_string_escaped();
        let mut label_names = Vec::new();
        if let Some(a) = labels.as_object() {
            let n = a.get(js_string!("length"), ctx)?.to_length(ctx)?;
            for i in 0..n {
                label_names.push(a.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped());
            }
        }
        let family = metrics::family(&name, kind, label_names).map_err(|e| type_error(&e))?;
        let tree = family.tree();
        Ok(Metric { family, tree, path: Vec::new() })
    }

    fn with<R>(&self, f: impl FnOnce(&mut metrics::Node) -> R) -> R {
        f(self.tree.lock().unwrap().at(&self.path))
    }

    /// The metric `labels` further down, or null past the last label name (as Pipy).
    fn below(&self, labels: &[JsValue], ctx: &mut Context) -> JsResult<Option<Metric>> {
        let room = self.family.label_names.len().saturating_sub(self.path.len());
        if room == 0 {
            return Ok(None);
        }
        let mut m = self.clone();
        for v in labels.iter().take(room) {
            m.path.push(v.to_string(ctx)?.to_std_string_escaped());
        }
        m.with(|_| ());
        Ok(Some(m))
    }
}

macro_rules! metric_class {
    ($ty:ident, $name:literal, $len:literal, $kind:expr, $methods:expr) => {
        metric_class!($ty, $name, $len, $kind, $methods, |_, _| ());
    };
    ($ty:ident, $name:literal, $len:literal, $kind:expr, $methods:expr, $made:expr) => {
        #[derive(Trace, Finalize, JsData)]
        pub struct $ty {
            #[unsafe_ignore_trace]
            m: Metric,
        }

        impl Class for $ty {
            const NAME: &'static str = $name;
            const LENGTH: usize = $len;

            fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
                let kind: fn(&[JsValue], &mut Context) -> JsResult<(Kind, usize)> = $kind;
                let (kind, labels_at) = kind(args, ctx)?;
                let m = Metric::new(&arg(args, 0), kind, &arg(args, labels_at), ctx)?;
                Ok($ty { m })
            }

            fn object_constructor(instance: &JsObject<Self>, args: &[JsValue], _: &mut Context) -> JsResult<()> {
                let made: fn(&JsObject, &[JsValue]) = $made;
                made(&instance.clone().upcast(), args);
                Ok(())
            }

            fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
                common::<$ty>(class, |o| o.downcast_ref::<$ty>().map(|t| t.m.clone()), |m| $ty { m });
                let methods: &[(&str, fn(&Metric, f64))] = $methods;
                for (name, f) in methods {
                    add_method(class, name, *f, |o| o.downcast_ref::<$ty>().map(|t| t.m.clone()));
                }
                Ok(())
            }
        }
    };
}

metric_class!(Counter, "Counter", 2, |_, _| Ok((Kind::Counter, 1)), &[("increase", |m, n| m.with(|x| x.add(n)))]);

metric_class!(
    Gauge,
    "Gauge",
    3,
    |_, _| Ok((Kind::Gauge, 1)),
    &[
        ("set", |m, n| m.with(|x| x.set(n))),
        ("increase", |m, n| m.with(|x| x.add(n))),
        ("decrease", |m, n| m.with(|x| x.add(-n))),
    ],
    on_collect
);

/// `new stats.Gauge(name, labels, callback)`: the callback is called with the gauge at each
/// collection (before the admin port answers `/metrics`), on the thread that made it.
fn on_collect(gauge: &JsObject, args: &[JsValue]) {
    if let Some(f) = args.get(2).and_then(|f| f.as_object()).filter(|f| f.is_callable()) {
        super::state::with_state(|s| s.gauge_callbacks.push((f.clone(), gauge.clone())));
    }
}

/// Calls this thread's gauge callbacks (see [`on_collect`]); an error is logged, as Pipy does.
pub fn collect() {
    let callbacks = super::state::with_state(|s| s.gauge_callbacks.clone());
    for (f, gauge) in callbacks {
        let failed = super::with_js(|ctx| {
            f.call(&JsValue::undefined(), &[gauge.into()], ctx).err().map(|e| super::describe(&e, ctx))
        });
        if let Some(Some(e)) = failed {
            tracing::error!(target: "script", "stats.Gauge callback: {e}");
        }
    }
}

metric_class!(Histogram, "Histogram", 3, histogram_kind, &[("observe", observe)]);

fn histogram_kind(args: &[JsValue], ctx: &mut Context) -> JsResult<(Kind, usize)> {
    let Some(a) = arg(args, 1).as_object() else {
        return Err(type_error("stats.Histogram: buckets must be an array of numbers"));
    };
    let n = a.get(js_string!("length"), ctx)?.to_length(ctx)?;
    let mut buckets = Vec::new();
    for i in 0..n {
        buckets.push(a.get(i, ctx)?.to_number(ctx)?);
    }
    Ok((Kind::Histogram(buckets), 2))
}

fn observe(m: &Metric, x: f64) {
    let Kind::Histogram(b) = &m.family.kind else { return };
    m.with(|node| node.observe(b, x));
}

/// What every metric has: `withLabels`, `zero`, `clear`, `value`, `label`.
fn common<T: Class>(class: &mut ClassBuilder<'_>, get: fn(&JsObject) -> Option<Metric>, wrap: fn(Metric) -> T) {
    let realm = class.context().realm().clone();
    let value =
        NativeFunction::from_copy_closure(move |this, _, _| Ok(this_metric(this, get)?.with(|n| n.value()).into()));
    class.accessor(js_string!("value"), Some(value.to_js_function(&realm)), None, Attribute::CONFIGURABLE);
    let label = NativeFunction::from_copy_closure(move |this, _, _| {
        Ok(this_metric(this, get)?.path.last().map_or(JsValue::undefined(), |l| JsString::from(l.as_str()).into()))
    });
    class.accessor(js_string!("label"), Some(label.to_js_function(&realm)), None, Attribute::CONFIGURABLE);
    let with_labels =
        NativeFunction::from_copy_closure(move |this, args, ctx| match this_metric(this, get)?.below(args, ctx)? {
            Some(m) => Ok(T::from_data(wrap(m), ctx)?.into()),
            None => Ok(JsValue::null()),
        });
    class.method(js_string!("withLabels"), 1, with_labels);
    let kind_zero = NativeFunction::from_copy_closure(move |this, _, _| {
        let m = this_metric(this, get)?;
        m.with(|n| n.zero(&m.family.kind));
        Ok(JsValue::undefined())
    });
    class.method(js_string!("zero"), 0, kind_zero);
    let clear = NativeFunction::from_copy_closure(move |this, _, _| {
        this_metric(this, get)?.with(|n| n.clear());
        Ok(JsValue::undefined())
    });
    class.method(js_string!("clear"), 0, clear);
}

/// A recording method taking one number, `1` when not given.
fn add_method(class: &mut ClassBuilder<'_>, name: &str, f: fn(&Metric, f64), get: fn(&JsObject) -> Option<Metric>) {
    let call = NativeFunction::from_copy_closure(move |this, args, ctx| {
        let n = match args.first() {
            Some(v) if !v.is_undefined() => v.to_number(ctx)?,
            _ => 1.0,
        };
        f(&this_metric(this, get)?, n);
        Ok(JsValue::undefined())
    });
    class.method(JsString::from(name), 1, call);
}

fn this_metric(this: &JsValue, get: fn(&JsObject) -> Option<Metric>) -> JsResult<Metric> {
    this.as_object().and_then(|o| get(&o)).ok_or_else(|| type_error("not a stats metric"))
}

fn arg(args: &[JsValue], i: usize) -> JsValue {
    args.get(i).cloned().unwrap_or_default()
}

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<Counter>()?;
    ctx.register_global_class::<Gauge>()?;
    ctx.register_global_class::<Histogram>()?;
    let global = ctx.global_object();
    let mut members = Vec::new();
    for name in [Counter::NAME, Gauge::NAME, Histogram::NAME] {
        members.push((JsString::from(name), global.get(JsString::from(name), ctx)?));
        // The classes live under `stats`, not as globals.
        global.delete_property_or_throw(JsString::from(name), ctx)?;
    }
    let mut stats = ObjectInitializer::new(ctx);
    for (name, ctor) in members {
        stats.property(name, ctor, Attribute::WRITABLE | Attribute::CONFIGURABLE);
    }
    let stats = stats.build();
    ctx.register_global_property(js_string!("stats"), stats, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}
