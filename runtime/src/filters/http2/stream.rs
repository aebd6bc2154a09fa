//! What both sides do with one stream: queue the events to send and send them as the
//! peer's window lets them.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use h2::Reason;
use tokio::sync::Notify;

use super::convert;
use crate::engine::{Event, EventSink, Gauge, host};

/// The events one side of a stream has to send: a response (server) or a request body
/// (client). Body bytes count on `gauge` until `h2` takes them, which pauses whoever
/// produces them.
pub struct Queue {
    pub events: RefCell<VecDeque<Event>>,
    ready: Notify,
    gauge: Rc<Gauge>,
    counted: Cell<usize>,
}

impl Queue {
    pub fn new(gauge: Rc<Gauge>) -> Queue {
        Queue { events: RefCell::default(), ready: Notify::new(), gauge, counted: Cell::new(0) }
    }

    fn release(&self, n: usize) {
        let n = n.min(self.counted.get());
        self.counted.set(self.counted.get() - n);
        self.gauge.sub(n);
    }

    /// Whether all there is to send is an end without trailers (a request without a
    /// body): taken then, so that the head can end the stream itself.
    pub fn take_bare_end(&self) -> bool {
        let mut events = self.events.borrow_mut();
        let bare = events.len() == 1 && matches!(events.front(), Some(Event::MessageEnd(t)) if t.is_undefined());
        if bare {
            events.clear();
        }
        bare
    }

    /// The next event, or `None` once the client reset the stream.
    pub async fn next(
        &self,
        mut reset: impl FnMut(&mut TaskContext<'_>) -> Poll<Result<Reason, h2::Error>>,
    ) -> Option<Event> {
        loop {
            if let Some(e) = self.events.borrow_mut().pop_front() {
                return Some(e);
            }
            tokio::select! {
                _ = self.ready.notified() => {}
                _ = poll_fn(&mut reset) => return None,
            }
        }
    }
}

impl EventSink for Queue {
    fn on_event(&self, evt: Event) {
        if let Event::Data(b) = &evt {
            self.counted.set(self.counted.get() + b.len());
            self.gauge.add(b.len());
        }
        self.events.borrow_mut().push_back(evt);
        self.ready.notify_one();
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        self.release(self.counted.get());
    }
}

/// Sends the body and end that follow a head.
/// In a `tunnel` the message's end is not the stream's: the raw bytes after it follow.
pub async fn write_body(answer: &Queue, send: &mut h2::SendStream<Bytes>, tunnel: bool) -> Result<(), h2::Error> {
    loop {
        match answer.next(|cx| send.poll_reset(cx)).await {
            Some(Event::Data(b)) => send_data(answer, send, b).await?,
            Some(Event::MessageEnd(_)) if tunnel => {}
            Some(Event::MessageEnd(tail)) => {
                let trailers = host().trailers_of(&tail);
                return match trailers.is_empty() {
                    true => send.send_data(Bytes::new(), true),
                    false => send.send_trailers(convert::header_map(&trailers)),
                };
            }
            Some(Event::StreamEnd(None)) => return send.send_data(Bytes::new(), true),
            Some(Event::StreamEnd(Some(_))) => {
                // Cut off mid-response: a shorter body must not pass for a whole one.
                send.send_reset(Reason::INTERNAL_ERROR);
                return Ok(());
            }
            Some(Event::MessageStart(_)) => {}
            None => return Ok(()),
        }
    }
}

/// Sends `b` as the client's window lets it.
async fn send_data(answer: &Queue, send: &mut h2::SendStream<Bytes>, mut b: Bytes) -> Result<(), h2::Error> {
    while !b.is_empty() {
        send.reserve_capacity(b.len());
        let granted = match poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(n) => n?,
            None => return Err(h2::Error::from(Reason::CANCEL)),
        };
        if granted == 0 {
            continue;
        }
        let chunk = b.split_to(granted.min(b.len()));
        answer.release(chunk.len());
        send.send_data(chunk, false)?;
    }
    Ok(())
}
