//! `mux` with the stub host: client pipelines over sessions whose sub-pipeline echoes.

use std::cell::RefCell;
use std::rc::Rc;

use tokio::task::LocalSet;

use super::*;
use crate::engine::host::stub::{self, Answer, StubHost, describe};
use crate::engine::{Context, Head, Pipeline};

/// Counts the sessions made and echoes what it is given (an upstream answering each
/// message with itself).
struct Echo(Rc<Cell<usize>>);

impl FilterSpec for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }
    fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
        self.0.set(self.0.get() + 1);
        Box::new(Echo(self.0.clone()))
    }
}

impl Filter for Echo {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        out.emit(evt);
    }
}

fn message(body: &'static [u8]) -> Vec<Event> {
    vec![
        Event::MessageStart(Head::None),
        Event::Data(bytes::Bytes::from_static(body)),
        Event::MessageEnd(JsValue::undefined()),
    ]
}

fn spec(sub: Vec<Box<dyn FilterSpec>>, max_queue: usize, count: i64) -> Rc<Layout> {
    let options = PoolOptions { max_idle: std::time::Duration::from_secs(60), max_queue, max_messages: 0 };
    let shared = Shared { pool: Pool::new(stub::layout(sub), options), selector: None, count: Count::Fixed(count) };
    stub::layout(vec![Box::new(Spec(Rc::new(shared)))])
}

/// A client pipeline of `layout`, and what reached its end.
fn client(layout: &Rc<Layout>) -> (Pipeline, Rc<RefCell<Vec<String>>>) {
    let out = Rc::new(RefCell::new(Vec::new()));
    let sink = out.clone();
    let p =
        Pipeline::new(layout.clone(), Context::root(), Rc::new(move |e: Event| sink.borrow_mut().push(describe(&e))));
    p.start(&[]);
    (p, out)
}

fn local(f: impl std::future::Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    LocalSet::new().block_on(&rt, f);
}

#[test]
fn clients_of_one_key_share_a_session_and_each_gets_its_own_answer() {
    local(async {
        StubHost::install();
        let made = Rc::new(Cell::new(0));
        let layout = spec(vec![Box::new(Echo(made.clone()))], 0, 1);
        let (a, out_a) = client(&layout);
        let (b, out_b) = client(&layout);
        message(b"from a").into_iter().for_each(|e| a.input(e));
        message(b"from b").into_iter().for_each(|e| b.input(e));
        a.input(Event::end());
        assert_eq!(made.get(), 1, "one session for both");
        assert_eq!(*out_a.borrow(), ["MessageStart", "Data from a", "MessageEnd", "StreamEnd"]);
        assert_eq!(*out_b.borrow(), ["MessageStart", "Data from b", "MessageEnd"]);
    });
}

#[test]
fn max_queue_one_gives_concurrent_clients_a_session_each() {
    local(async {
        StubHost::install();
        let made = Rc::new(Cell::new(0));
        let layout = spec(vec![Box::new(Echo(made.clone()))], 1, 1);
        let (a, _) = client(&layout);
        let (b, _) = client(&layout);
        message(b"1").into_iter().for_each(|e| a.input(e));
        message(b"2").into_iter().for_each(|e| b.input(e));
        assert_eq!(made.get(), 2);
        drop((a, b));
        // Both free now: the next client takes one of them.
        let (c, out_c) = client(&layout);
        message(b"3").into_iter().for_each(|e| c.input(e));
        assert_eq!(made.get(), 2);
        assert_eq!(*out_c.borrow(), ["MessageStart", "Data 3", "MessageEnd"]);
    });
}

#[test]
fn a_session_that_ends_ends_the_answer_and_the_next_message_gets_a_new_session() {
    local(async {
        StubHost::install();
        let (seen, answers): (_, stub::Answers) = (Rc::new(RefCell::new(Vec::new())), Rc::default());
        answers.borrow_mut().push_back(vec![Event::end()]);
        let layout = spec(vec![Box::new(Answer("up", seen.clone(), answers))], 0, 1);
        let (a, out_a) = client(&layout);
        message(b"x").into_iter().for_each(|e| a.input(e));
        // The answer had started: the session's end ends it (as Pipy's receivers do).
        assert_eq!(*out_a.borrow(), ["MessageStart", "MessageEnd"]);
        message(b"y").into_iter().for_each(|e| a.input(e));
        assert_eq!(seen.borrow().iter().filter(|s| s.as_str() == "up: MessageStart").count(), 2);
    });
}

#[test]
fn an_output_count_of_zero_lets_the_client_end_at_once() {
    local(async {
        StubHost::install();
        let layout = spec(vec![Box::new(Echo(Rc::default()))], 0, 0);
        let (a, out_a) = client(&layout);
        message(b"x").into_iter().for_each(|e| a.input(e));
        a.input(Event::end());
        assert_eq!(*out_a.borrow(), ["StreamEnd"]);
    });
}
