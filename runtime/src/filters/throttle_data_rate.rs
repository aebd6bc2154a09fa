//! `throttleDataRate(quota | fn)`: each byte of `Data` takes one token of an `algo.Quota`;
//! what the tokens do not cover is split off and waits, with everything after it, until the
//! quota refills (see `throttle`). Other events pass in order.

use boa_engine::JsResult;

use super::Made;
use super::throttle::{self, Meter};
use crate::args::Args;
use crate::engine::quota::Bucket;
use crate::engine::{Event, Output};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    throttle::make::<Bytes>(args)
}

pub(super) struct Bytes;

impl Meter for Bytes {
    const NAME: &'static str = "throttleDataRate";

    type State = ();

    fn pass(_: &mut (), evt: Event, quota: &Bucket, out: &mut Output<'_>) -> Option<Event> {
        let Event::Data(mut data) = evt else {
            out.emit(evt);
            return None;
        };
        let n = (quota.consume(data.len() as f64) as usize).min(data.len());
        if n == data.len() {
            out.emit(Event::Data(data));
            return None;
        }
        let rest = data.split_off(n);
        if n > 0 {
            out.emit(Event::Data(data));
        }
        Some(Event::Data(rest))
    }
}
