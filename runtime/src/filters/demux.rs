//! `demux(options?).to(sub)`, also named `demuxQueue`: each input message goes into a
//! sub-pipeline of its own (with a copy of the context); the first `outputCount` messages
//! (1 unless told) each one puts out are this filter's output, in the order of the input
//! messages. A negative count holds the next input message until this one is answered.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use boa_engine::{JsResult, JsValue};

use super::Made;
use super::mux::Count;
use crate::args::Args;
use crate::engine::{Event, EventSink, Filter, FilterEnv, FilterSpec, Layout, Output, Pipeline};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let count = Count::read(&mut args.options(0))?;
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| Box::new(Spec(Rc::new(Shared { sub, count }))))))
}

struct Shared {
    sub: Rc<Layout>,
    count: Count,
}

struct Spec(Rc<Shared>);

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "demux"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Demux {
            shared: self.0.clone(),
            env,
            input: None,
            receivers: VecDeque::new(),
            waiters: Vec::new(),
            wait_requested: false,
            waiting_output: false,
            held: VecDeque::new(),
            eos: None,
            ended: false,
            busy: Rc::default(),
        })
    }
}

/// What a sub-pipeline put out and this filter has not looked at yet.
struct Outbox {
    events: RefCell<VecDeque<Event>>,
    /// A sub-pipeline whose output is not wanted keeps only its end.
    keep: bool,
    env: FilterEnv,
    /// The filter is processing: it looks at the outboxes itself before it returns.
    busy: Rc<Cell<bool>>,
}

impl EventSink for Outbox {
    fn on_event(&self, evt: Event) {
        if self.keep || evt.is_stream_end() {
            self.events.borrow_mut().push_back(evt);
            if !self.busy.get() {
                self.env.wake();
            }
        }
    }
}

/// One input message's sub-pipeline.
struct Stream {
    pipeline: Pipeline,
    outbox: Rc<Outbox>,
    remaining: Cell<i64>,
    started: Cell<bool>,
}

impl Stream {
    fn input(&self, evt: Event) {
        self.pipeline.input(evt);
    }
}

struct Demux {
    shared: Rc<Shared>,
    env: FilterEnv,
    /// The stream the current input message goes into.
    input: Option<Rc<Stream>>,
    /// Streams owing output, in input order.
    receivers: VecDeque<Rc<Stream>>,
    /// Streams whose output is not wanted (a count of 0), kept until they end.
    waiters: Vec<Rc<Stream>>,
    wait_requested: bool,
    /// Input is held until every stream has answered (a negative count).
    waiting_output: bool,
    held: VecDeque<Event>,
    eos: Option<Event>,
    ended: bool,
    busy: Rc<Cell<bool>>,
}

/// What the head stream's next output event does.
enum Step {
    More,
    Done,
    Abort(Event),
}

impl Demux {
    fn open(&mut self, start: &Event) -> Rc<Stream> {
        let n = self.shared.count.of(&self.env, start, "demux");
        self.wait_requested = n < 0;
        let n = n.abs();
        let outbox =
            Rc::new(Outbox { events: RefCell::default(), keep: n > 0, env: self.env.clone(), busy: self.busy.clone() });
        let context = self.env.context.copy(None);
        let pipeline = Pipeline::new(self.shared.sub.clone(), context, outbox.clone());
        pipeline.start(&[]);
        let stream = Rc::new(Stream { pipeline, outbox, remaining: Cell::new(n), started: Cell::new(false) });
        if n > 0 {
            self.receivers.push_back(stream.clone());
        } else {
            self.waiters.push(stream.clone());
        }
        stream
    }

    fn input(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.waiting_output {
            return self.held.push_back(evt);
        }
        match &evt {
            Event::MessageStart(_) => {
                if self.input.is_none() {
                    let s = self.open(&evt);
                    self.input = Some(s.clone());
                    s.input(evt);
                }
            }
            Event::Data(_) => {
                if let Some(s) = &self.input {
                    s.input(evt);
                }
            }
            Event::MessageEnd(_) | Event::StreamEnd(_) => {
                let end = evt.is_stream_end().then(|| evt.clone());
                if let Some(s) = self.input.take() {
                    self.waiting_output = std::mem::take(&mut self.wait_requested);
                    s.input(evt);
                }
                if let Some(eos) = end {
                    self.eos = Some(eos);
                }
            }
        }
        self.drain(out);
    }

    /// Emits what the head streams have put out, in order, and moves on as each is done.
    fn drain(&mut self, out: &mut Output<'_>) {
        while let Some(head) = self.receivers.front().cloned() {
            let next = head.outbox.events.borrow_mut().pop_front();
            let Some(evt) = next else { break };
            match step(&head, evt, out) {
                Step::More => {}
                Step::Done => {
                    self.receivers.pop_front();
                }
                Step::Abort(eos) => return self.abort(eos, out),
            }
        }
        self.waiters.retain(|w| !w.outbox.events.borrow().iter().any(Event::is_stream_end));
        if !self.receivers.is_empty() || self.ended {
            return;
        }
        if self.waiting_output {
            self.waiting_output = false;
            let held: Vec<_> = self.held.drain(..).collect();
            return held.into_iter().for_each(|e| self.input(e, out));
        }
        if let Some(eos) = self.eos.take() {
            self.ended = true;
            out.emit(eos);
        }
    }

    /// A stream ended short of its answers: the whole stream ends, as in Pipy.
    fn abort(&mut self, eos: Event, out: &mut Output<'_>) {
        self.ended = true;
        self.receivers.clear();
        self.waiters.clear();
        self.input = None;
        self.held.clear();
        out.emit(eos);
    }
}

fn step(s: &Stream, evt: Event, out: &mut Output<'_>) -> Step {
    match evt {
        Event::MessageStart(_) if !s.started.get() => {
            s.started.set(true);
            out.emit(evt);
        }
        Event::Data(_) if s.started.get() => out.emit(evt),
        Event::MessageEnd(_) if s.started.get() => {
            s.started.set(false);
            out.emit(evt);
            s.remaining.set(s.remaining.get() - 1);
            if s.remaining.get() <= 0 {
                return Step::Done;
            }
        }
        Event::StreamEnd(_) => {
            if !s.started.replace(false) {
                return Step::Abort(evt);
            }
            out.emit(Event::MessageEnd(JsValue::undefined()));
            s.remaining.set(s.remaining.get() - 1);
            return if s.remaining.get() <= 0 { Step::Done } else { Step::Abort(evt) };
        }
        _ => {}
    }
    Step::More
}

impl Filter for Demux {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if !self.ended {
            self.busy.set(true);
            self.input(evt, out);
            self.busy.set(false);
        }
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        if !self.ended {
            self.drain(out);
        }
    }
}

#[cfg(test)]
#[path = "demux_tests.rs"]
mod tests;
