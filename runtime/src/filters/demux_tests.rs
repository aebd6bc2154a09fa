//! `demux` with the stub host: a sub-pipeline per message, answers in input order.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;

use super::*;
use crate::engine::Head;
use crate::engine::host::stub::{self, Record, StubHost};

/// Ends its stream at the end of the message it is given, without answering.
struct Silent;

impl FilterSpec for Silent {
    fn name(&self) -> &'static str {
        "silent"
    }
    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        Box::new(Silent)
    }
}

impl Filter for Silent {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if matches!(evt, Event::MessageEnd(_)) {
            out.emit(Event::end());
        }
    }
}

fn messages(bodies: &[&'static [u8]]) -> Vec<Event> {
    let mut v = Vec::new();
    for b in bodies {
        v.push(Event::MessageStart(Head::None));
        v.push(Event::Data(Bytes::from_static(b)));
        v.push(Event::MessageEnd(JsValue::undefined()));
    }
    v.push(Event::end());
    v
}

fn demux(sub: Vec<Box<dyn FilterSpec>>, count: i64) -> Box<dyn FilterSpec> {
    Box::new(Spec(Rc::new(Shared { sub: stub::layout(sub), count: Count::Fixed(count) })))
}

#[test]
fn each_message_gets_its_own_sub_pipeline_and_answers_come_in_order() {
    StubHost::install();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let out = stub::run(vec![demux(vec![Box::new(Record("sub", seen.clone()))], 1)], messages(&[b"a", b"b"]));
    assert_eq!(out, ["MessageStart", "Data a", "MessageEnd", "MessageStart", "Data b", "MessageEnd", "StreamEnd"]);
    // Each sub-pipeline saw one message and its end, never the other's.
    let starts = seen.borrow().iter().filter(|s| s.as_str() == "sub: MessageStart").count();
    assert_eq!(starts, 2);
}

#[test]
fn a_sub_pipeline_ending_without_its_answer_ends_the_stream() {
    StubHost::install();
    let out = stub::run(vec![demux(vec![Box::new(Silent)], 1)], messages(&[b"a", b"b"]));
    assert_eq!(out, ["StreamEnd"]);
}

#[test]
fn an_output_count_of_zero_puts_out_nothing_but_the_end() {
    StubHost::install();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let out = stub::run(vec![demux(vec![Box::new(Record("sub", seen.clone()))], 0)], messages(&[b"a"]));
    assert_eq!(out, ["StreamEnd"]);
    assert_eq!(seen.borrow().len(), 3);
}
