//! What the `handle*` and `replace*` families share while a promise their callback returned
//! is pending: the events that arrive meanwhile wait here, and once they hold
//! [`Gauge::LIMIT`] bytes the connection's readers pause, so a client streaming behind the
//! promise waits in its socket instead of in the proxy's memory.
//!
//! Their bytes count as queued for the connection's upstream sockets (the client's reader
//! waits on that gauge), so they count in the process's buffer budget too, and past it the
//! client's reader pauses as it does for any other queue that holds bytes.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use crate::engine::{Context, Event, Gauge, ReaderHold};

pub struct Held {
    /// `Some` while a promise is pending.
    events: RefCell<Option<VecDeque<Event>>>,
    bytes: Cell<usize>,
    /// Where the held bytes are counted: the context's upstream gauge.
    gauge: Rc<Gauge>,
    /// Pauses the readers on both sides, as `throttle` does: a filter does not know which
    /// side its input comes from.
    readers: ReaderHold,
}

impl Held {
    pub fn new(context: Rc<Context>) -> Rc<Held> {
        let gauge = context.upstream.clone();
        Rc::new(Held { events: RefCell::new(None), bytes: Cell::new(0), gauge, readers: ReaderHold::new(context) })
    }

    /// Whether a promise is pending.
    pub fn waiting(&self) -> bool {
        self.events.borrow().is_some()
    }

    /// A promise is pending: `first` and every event after it wait until [`Held::take`].
    pub fn wait(&self, first: Option<Event>) {
        *self.events.borrow_mut() = Some(VecDeque::new());
        self.uncount();
        first.into_iter().for_each(|e| self.push(e));
    }

    /// Holds `evt` behind the pending promise (the caller checked [`Held::waiting`]).
    pub fn push(&self, evt: Event) {
        if let Event::Data(d) = &evt {
            self.bytes.set(self.bytes.get() + d.len());
            self.gauge.add(d.len());
        }
        if let Some(events) = self.events.borrow_mut().as_mut() {
            events.push_back(evt);
        }
        if self.bytes.get() >= Gauge::LIMIT {
            self.readers.set(true);
        }
    }

    /// The promise settled: the events it held, for the caller to pass on. Call
    /// [`Held::resume`] once they went.
    pub fn take(&self) -> VecDeque<Event> {
        self.uncount();
        self.events.borrow_mut().take().unwrap_or_default()
    }

    fn uncount(&self) {
        self.gauge.sub(self.bytes.replace(0));
    }

    /// The held events went on: the readers go on too, unless a new promise holds as many.
    pub fn resume(&self) {
        if self.bytes.get() < Gauge::LIMIT {
            self.readers.set(false);
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.uncount();
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn data(n: usize) -> Event {
        Event::Data(Bytes::from(vec![b'x'; n]))
    }

    fn paused(c: &Context) -> (bool, bool) {
        (c.upstream.held(), c.downstream.held())
    }

    #[test]
    fn held_keeps_events_in_order_until_taken() {
        let context = Context::root();
        let held = Held::new(context.clone());
        assert!(!held.waiting());
        held.wait(Some(Event::MessageStart(crate::engine::Head::None)));
        held.push(data(3));
        held.push(Event::end());
        assert!(held.waiting());
        let kinds: Vec<_> = held.take().iter().map(Event::type_name).collect();
        assert_eq!(kinds, ["MessageStart", "Data", "StreamEnd"]);
        assert!(!held.waiting());
        assert_eq!(paused(&context), (false, false));
    }

    #[test]
    fn held_pauses_both_sides_at_the_limit_and_resumes_once_taken() {
        let context = Context::root();
        let held = Held::new(context.clone());
        held.wait(None);
        held.push(data(Gauge::LIMIT - 1));
        assert_eq!(paused(&context), (false, false));
        held.push(data(1));
        assert_eq!(paused(&context), (true, true));
        held.push(data(1));
        assert_eq!(context.upstream.queued(), Gauge::LIMIT + 1, "counted as queued upstream");
        assert_eq!(held.take().len(), 3);
        assert_eq!(context.upstream.queued(), 0);
        held.resume();
        assert_eq!(paused(&context), (false, false));
    }

    #[test]
    fn held_dropped_while_paused_leaves_no_reader_paused() {
        let context = Context::root();
        let held = Held::new(context.clone());
        held.wait(Some(data(Gauge::LIMIT)));
        assert_eq!(paused(&context), (true, true));
        drop(held);
        assert_eq!(paused(&context), (false, false));
        assert_eq!(context.upstream.queued(), 0, "uncounted when dropped");
    }
}
