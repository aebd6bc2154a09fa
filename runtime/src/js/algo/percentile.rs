//! `algo.Percentile(buckets)`: counts samples into buckets (each an upper limit, ascending)
//! and estimates a percentile by interpolating inside the bucket it falls in, as Pipy's.
//! A sample above the last limit is not counted.

use std::cell::RefCell;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace};

use super::{arg, method};
use crate::js::type_error;

#[derive(Default)]
struct Buckets {
    limits: Vec<f64>,
    counts: Vec<u64>,
    samples: u64,
}

impl Buckets {
    fn new(limits: Vec<f64>) -> Buckets {
        let counts = vec![0; limits.len()];
        Buckets { limits, counts, samples: 0 }
    }

    fn reset(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.samples = 0;
    }

    fn observe(&mut self, sample: f64) {
        if let Some(i) = self.limits.iter().position(|l| sample <= *l) {
            self.counts[i] += 1;
            self.samples += 1;
        }
    }

    /// The value below which `percentage`% of the samples fall; `Infinity` with none.
    fn calculate(&self, percentage: i32) -> f64 {
        if percentage <= 0 {
            return 0.0;
        }
        let total = self.samples * percentage as u64 / 100;
        let mut count = 0;
        for (i, (limit, n)) in self.limits.iter().zip(&self.counts).enumerate() {
            count += n;
            if count >= total {
                let last = if i > 0 { self.limits[i - 1] } else { 0.0 };
                if *n == 0 {
                    return *limit;
                }
                return limit - (limit - last) * (count - total) as f64 / *n as f64;
            }
        }
        f64::INFINITY
    }
}

#[derive(Trace, Finalize, JsData)]
pub struct Percentile {
    #[unsafe_ignore_trace]
    buckets: RefCell<Buckets>,
}

fn with<R>(this: &JsValue, f: impl FnOnce(&mut Buckets) -> R) -> JsResult<R> {
    let obj = this.as_object().ok_or_else(|| type_error("not a Percentile"))?;
    let p = obj.downcast_ref::<Percentile>().ok_or_else(|| type_error("not a Percentile"))?;
    Ok(f(&mut p.buckets.borrow_mut()))
}

impl Class for Percentile {
    const NAME: &'static str = "Percentile";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let list = arg(args, 0).as_object().filter(|o| o.is_array());
        let list = list.ok_or_else(|| type_error("Percentile() takes an array of bucket limits"))?;
        let list = JsArray::from_object(list)?;
        let mut limits = Vec::new();
        for i in 0..list.length(ctx)? {
            let limit = list.get(i, ctx)?.to_number(ctx)?;
            if limits.last().is_some_and(|l| limit <= *l) {
                tracing::warn!(target: "script", "Percentile: buckets are not in ascending order at #{i}");
            }
            limits.push(limit);
        }
        Ok(Percentile { buckets: RefCell::new(Buckets::new(limits)) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let reset =
            |this: &JsValue, _: &[JsValue], _: &mut Context| with(this, Buckets::reset).map(|_| JsValue::undefined());
        method(class, "reset", 0, NativeFunction::from_fn_ptr(reset));
        let observe = |this: &JsValue, args: &[JsValue], ctx: &mut Context| {
            let sample = arg(args, 0).to_number(ctx)?;
            with(this, |b| b.observe(sample)).map(|_| JsValue::undefined())
        };
        method(class, "observe", 1, NativeFunction::from_fn_ptr(observe));
        let calculate = |this: &JsValue, args: &[JsValue], ctx: &mut Context| {
            let p = arg(args, 0).to_i32(ctx)?;
            with(this, |b| JsValue::from(b.calculate(p)))
        };
        method(class, "calculate", 1, NativeFunction::from_fn_ptr(calculate));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_inside_their_bucket() {
        let mut b = Buckets::new(vec![10.0, 20.0, 50.0, 100.0]);
        for s in 1..=100 {
            b.observe(s as f64);
        }
        b.observe(1000.0); // past the last bucket: not counted
        assert_eq!(b.samples, 100);
        assert_eq!(b.calculate(0), 0.0);
        assert_eq!(b.calculate(10), 10.0);
        assert_eq!(b.calculate(15), 15.0);
        assert_eq!(b.calculate(50), 50.0);
        assert_eq!(b.calculate(75), 75.0);
        assert_eq!(b.calculate(100), 100.0);
        b.reset();
        b.observe(5.0);
        assert_eq!(b.calculate(100), 10.0);
    }

    #[test]
    fn with_no_samples_the_first_bucket_is_reached_at_once() {
        let b = Buckets::new(vec![1.0, 2.0]);
        assert_eq!(b.calculate(99), 1.0);
        assert_eq!(Buckets::new(vec![]).calculate(50), f64::INFINITY);
    }
}
