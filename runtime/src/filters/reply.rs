//! A sub-pipeline whose output comes back to the filter that runs it (Pipy's "reply"
//! direction), for the client-side joint filters that speak a handshake with it before
//! passing anything on: `connectSOCKS`, `connectHTTPTunnel`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use crate::engine::{Context, Event, EventSink, FilterEnv, Layout, Output, Pass, Pipeline};

/// Holds the sub-pipeline's output until the owner takes it. Output that arrives while the
/// owner is not feeding the sub-pipeline (a socket read) wakes the owner, from a task of its
/// own: the sub-pipeline is still busy emitting, and the owner may want to feed it.
struct Inbox {
    events: RefCell<VecDeque<Event>>,
    feeding: Cell<bool>,
    wake_scheduled: Rc<Cell<bool>>,
    env: FilterEnv,
    /// The owner hands what comes back on unchanged (its handshake is over).
    through: Cell<bool>,
    /// Bytes that went by the whole sub-pipeline while the owner fed it (its pipeline is
    /// busy then): the owner tells the filters after it (see [`Replied::passed`]).
    passed: Cell<u64>,
}

impl Inbox {
    /// The owner is past its handshake and nothing waits for it here: what comes back now
    /// may go straight on after the owner.
    fn handing_on(&self) -> bool {
        self.through.get() && !self.feeding.get() && self.events.borrow().is_empty()
    }
}

impl EventSink for Inbox {
    fn on_event(&self, evt: Event) {
        // Past the handshake, with nothing queued before it, an event goes on at once as the
        // owner would send it: no task hop, and no queue to keep bytes from going by unseen.
        if self.handing_on() {
            return self.env.emit(evt);
        }
        self.events.borrow_mut().push_back(evt);
        if !self.feeding.get() && !self.wake_scheduled.replace(true) {
            let (scheduled, env) = (self.wake_scheduled.clone(), self.env.clone());
            tokio::task::spawn_local(async move {
                scheduled.set(false);
                env.wake();
            });
        }
    }

    /// Once the owner hands replies on unchanged and has none queued, they go where the
    /// owner's output goes.
    fn pass(self: Rc<Self>) -> Pass {
        if self.handing_on() { self.env.pass_after() } else { Pass::No }
    }

    fn passed(&self, n: u64) {
        if self.feeding.get() {
            self.passed.set(self.passed.get() + n);
        } else {
            self.env.passed_after(n);
        }
    }
}

pub struct Replied {
    pipeline: Pipeline,
    inbox: Rc<Inbox>,
}

impl Replied {
    /// Instantiates `layout` in `context` and runs its `onStart` with no arguments. The
    /// owner takes the output with [`Replied::take`] in its `process` and `wake`.
    pub fn start(layout: Rc<Layout>, context: Rc<Context>, env: &FilterEnv) -> Replied {
        let inbox = Rc::new(Inbox {
            events: RefCell::new(VecDeque::new()),
            feeding: Cell::new(true),
            wake_scheduled: Rc::new(Cell::new(false)),
            env: env.clone(),
            through: Cell::new(false),
            passed: Cell::new(0),
        });
        let pipeline = Pipeline::chained(layout, context, inbox.clone(), env.chain.clone());
        pipeline.start(&[]);
        inbox.feeding.set(false);
        Replied { pipeline, inbox }
    }

    pub fn input(&self, evt: Event) {
        self.inbox.feeding.set(true);
        self.pipeline.input(evt);
        self.inbox.feeding.set(false);
    }

    /// Where the next input bytes of an owner that feeds them all to `sub` (when it has one
    /// and is past its handshake) would go unseen: where the sub-pipeline sends them. As
    /// [`super::link::Sub::pass`].
    pub fn pass(sub: Option<&Replied>) -> Pass {
        sub.map_or(Pass::No, |s| s.pipeline.pass())
    }

    /// `n` input bytes went by as the last [`Replied::pass`] allowed; those that went by
    /// the whole sub-pipeline go by the filters in `out` too. Nothing was queued in the
    /// inbox when they were let by (`Inbox::pass`), and the filters that let bytes through
    /// emit nothing for them, so no reply can be due before them.
    pub fn passed(sub: Option<&Replied>, n: u64, out: &mut Output<'_>) {
        if let Some(s) = sub {
            s.inbox.feeding.set(true);
            s.pipeline.passed(n);
            s.inbox.feeding.set(false);
            match s.inbox.passed.take() {
                0 => {}
                went => out.passed(went),
            }
        }
    }

    /// Says whether the owner hands what comes back on unchanged from now on, so that
    /// those bytes may go by unseen (see [`Pass`]).
    pub fn hand_on(&self, through: bool) {
        self.inbox.through.set(through);
    }

    /// The oldest output event not taken yet.
    pub fn take(&self) -> Option<Event> {
        self.inbox.events.borrow_mut().pop_front()
    }
}
