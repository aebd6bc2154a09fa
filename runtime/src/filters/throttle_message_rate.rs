//! `throttleMessageRate(quota | fn)`: each message start takes one token of an `algo.Quota`;
//! a message that finds none waits, with everything after it, until the quota refills (see
//! `throttle`). Other events pass as they come.

use boa_engine::JsResult;

use super::Made;
use super::throttle::{self, Meter};
use crate::args::Args;
use crate::engine::quota::Bucket;
use crate::engine::{Event, Output};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    throttle::make::<Messages>(args)
}

pub(super) struct Messages;

impl Meter for Messages {
    const NAME: &'static str = "throttleMessageRate";

    type State = ();

    fn pass(_: &mut (), evt: Event, quota: &Bucket, out: &mut Output<'_>) -> Option<Event> {
        // As in Pipy, any part of a token lets a message through.
        if matches!(evt, Event::MessageStart(_)) && quota.consume(1.0) <= 0.0 {
            return Some(evt);
        }
        out.emit(evt);
        None
    }
}
