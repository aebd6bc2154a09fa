//! `throttleConcurrency(quota | fn)`: a stream takes one token of an `algo.Quota` at its
//! first event and gives it back when its pipeline goes, so at most that many streams pass
//! at once; a stream that finds none waits, with everything after its first event, until
//! another gives its token back (see `throttle`).

use boa_engine::JsResult;

use super::Made;
use super::throttle::{self, Meter};
use crate::args::Args;
use crate::engine::quota::Bucket;
use crate::engine::{Event, Output};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    throttle::make::<Streams>(args)
}

struct Streams;

impl Meter for Streams {
    const NAME: &'static str = "throttleConcurrency";

    /// Whether this stream holds a token.
    type State = bool;

    fn pass(active: &mut bool, evt: Event, quota: &Bucket, out: &mut Output<'_>) -> Option<Event> {
        if !*active {
            // A whole token or nothing: a stream is one unit of concurrency.
            if quota.current() < 1.0 {
                return Some(evt);
            }
            quota.consume(1.0);
            *active = true;
        }
        out.emit(evt);
        None
    }

    fn release(active: &mut bool, quota: &Bucket) {
        if std::mem::take(active) {
            quota.produce(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, StubHost, describe};
    use crate::engine::quota::Tokens;
    use crate::engine::{Context, Given, Pipeline};

    fn stream(quota: &Rc<Bucket>, out: &Rc<RefCell<Vec<String>>>) -> Pipeline {
        let spec = throttle::spec::<Streams>(Given::Fixed(quota.clone()));
        let sink = out.clone();
        let p = Pipeline::new(
            stub::layout(vec![spec]),
            Context::root(),
            Rc::new(move |e: Event| sink.borrow_mut().push(describe(&e))),
        );
        p.start(&[]);
        p
    }

    #[test]
    fn throttle_concurrency_lets_as_many_streams_through_as_tokens_and_the_next_when_one_goes() {
        StubHost::install();
        let quota = Bucket::new(Tokens::new(1.0), None);
        let (first, second) = (Rc::default(), Rc::default());
        let a = stream(&quota, &first);
        let b = stream(&quota, &second);
        a.input(Event::Data(Bytes::from_static(b"a")));
        b.input(Event::Data(Bytes::from_static(b"b")));
        assert_eq!(*first.borrow(), ["Data a"]);
        assert!(second.borrow().is_empty(), "the second stream waits for the token");
        drop(a);
        assert_eq!(*second.borrow(), ["Data b"]);
        drop(b);
        assert_eq!(quota.current(), 1.0);
    }
}
