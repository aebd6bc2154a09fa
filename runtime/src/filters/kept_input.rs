//! The input a filter that runs its sub-pipeline again (`repeat`, `replay`) keeps, to feed
//! each new run from the start. It is bounded: past [`LIMIT`] bytes the filter ends the
//! stream with `StreamEnd('BufferOverflow')` (Pipy keeps it all).

use std::cell::{Cell, RefCell};

use crate::engine::{Event, Pipeline};

/// The most input bytes kept for the next run.
pub const LIMIT: usize = 16 << 20;

#[derive(Default)]
pub struct KeptInput {
    events: RefCell<Vec<Event>>,
    bytes: Cell<usize>,
}

impl KeptInput {
    /// Keeps `evt` for the next run; false, keeping nothing, once the input is over [`LIMIT`].
    pub fn keep(&self, evt: &Event) -> bool {
        if let Event::Data(b) = evt {
            self.bytes.set(self.bytes.get() + b.len());
            if self.bytes.get() > LIMIT {
                return false;
            }
        }
        self.events.borrow_mut().push(evt.clone());
        true
    }

    /// Feeds all input so far to the pipeline in `run`, as long as it is there: feeding may
    /// end the run (and the filter with it).
    pub fn feed(&self, run: &RefCell<Option<Pipeline>>) {
        // A copy: a run fed here may reach back into the filter, which keeps more input.
        let events = self.events.borrow().clone();
        for e in events {
            let run = run.borrow();
            let Some(p) = run.as_ref() else { return };
            p.input(e);
        }
    }

    pub fn clear(&self) {
        self.events.borrow_mut().clear();
    }
}
