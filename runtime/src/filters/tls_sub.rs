//! The sub-pipeline of `acceptTLS` and `connectTLS`. Its output comes back to the filter, as
//! with `reply::Replied`, but a filter not feeding it is woken on the spot instead of from a
//! task: a download's bytes are encrypted (or decrypted) and queued on the other socket,
//! whose gauge then pauses the reader, before the next read. From a task, a fast upstream's
//! reads piled up unseen (64 MiB through acceptTLS peaked at 62 MiB of RSS).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use crate::engine::{Context, Event, EventSink, FilterEnv, Layout, Pipeline};

struct Inbox {
    events: RefCell<VecDeque<Event>>,
    feeding: Cell<bool>,
    /// The owner was woken from inside the sub-pipeline's output: it must not feed it now.
    emitting: Cell<bool>,
    env: FilterEnv,
}

impl EventSink for Inbox {
    fn on_event(&self, evt: Event) {
        self.events.borrow_mut().push_back(evt);
        if !self.feeding.get() && !self.emitting.replace(true) {
            self.env.wake();
            self.emitting.set(false);
        }
    }
}

pub struct TlsSub {
    pipeline: Pipeline,
    inbox: Rc<Inbox>,
}

impl TlsSub {
    /// Instantiates `layout` in `context` and runs its `onStart` with no arguments.
    pub fn start(layout: Rc<Layout>, context: Rc<Context>, env: &FilterEnv) -> TlsSub {
        let inbox = Rc::new(Inbox {
            events: RefCell::new(VecDeque::new()),
            feeding: Cell::new(true),
            emitting: Cell::new(false),
            env: env.clone(),
        });
        let pipeline = Pipeline::chained(layout, context, inbox.clone(), env.chain.clone());
        pipeline.start(&[]);
        inbox.feeding.set(false);
        TlsSub { pipeline, inbox }
    }

    /// Feeds the sub-pipeline; see [`TlsSub::busy`].
    pub fn input(&self, evt: Event) {
        self.inbox.feeding.set(true);
        self.pipeline.input(evt);
        self.inbox.feeding.set(false);
    }

    /// The owner was woken from inside the sub-pipeline's output, which cannot take input
    /// until it returns.
    pub fn busy(&self) -> bool {
        self.inbox.emitting.get()
    }

    /// The oldest output event not taken yet.
    pub fn take(&self) -> Option<Event> {
        self.inbox.events.borrow_mut().pop_front()
    }
}
