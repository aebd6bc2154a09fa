//! `pack(batch, { timeout, interval, prefix, postfix, separator })`: joins messages into
//! one. `batch` (default 1) whole messages make one, which has the first one's head, all
//! their bodies (after `prefix`, between each two `separator`, then `postfix`) and the last
//! one's tail. A batch not full is sent anyway once no message ended for `timeout`, when a
//! message ends `interval` after the last batch went, and at the stream's end.
//! (`vacancy`, how Pipy packs bytes in its chunks, is accepted and changes nothing here.)

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use boa_engine::JsResult;
use bytes::{Bytes, BytesMut};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::Made;
use crate::args::Args;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output, Value};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let batch = match args.is_absent(0) {
        true => 1,
        false => args.value(0).as_number().filter(|n| *n >= 1.0).ok_or_else(|| args.takes("a batch size"))? as u32,
    };
    let mut o = args.options(1);
    let text = |v: Option<String>| v.map(|s| Bytes::from(s.into_bytes()));
    let options = Options {
        timeout: o.duration("timeout")?.filter(|t| !t.is_zero()),
        interval: o.duration("interval")?.filter(|t| !t.is_zero()),
        prefix: text(o.string("prefix")?),
        postfix: text(o.string("postfix")?),
        separator: text(o.string("separator")?),
    };
    Ok(Made::Filter(Box::new(Spec { batch, options: Rc::new(options) })))
}

struct Options {
    timeout: Option<Duration>,
    interval: Option<Duration>,
    prefix: Option<Bytes>,
    postfix: Option<Bytes>,
    separator: Option<Bytes>,
}

struct Spec {
    batch: u32,
    options: Rc<Options>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "pack"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Pack {
            batch: self.batch,
            options: self.options.clone(),
            env,
            head: None,
            body: BytesMut::new(),
            starts: 0,
            ends: 0,
            last_flush: None,
            timer: None,
            expired: Rc::new(Cell::new(false)),
        })
    }
}

struct Pack {
    batch: u32,
    options: Rc<Options>,
    env: FilterEnv,
    /// The first message's head, once a batch started.
    head: Option<Head>,
    body: BytesMut,
    starts: u32,
    ends: u32,
    last_flush: Option<Instant>,
    timer: Option<AbortHandle>,
    /// The timer fired: `wake` sends what is whole.
    expired: Rc<Cell<bool>>,
}

impl Pack {
    fn add(&mut self, part: &Option<Bytes>) {
        if let Some(b) = part {
            self.body.extend_from_slice(b);
        }
    }

    fn whole(&self) -> bool {
        self.ends > 0 && self.starts == self.ends
    }

    fn flush(&mut self, tail: Value, out: &mut Output<'_>) {
        let options = self.options.clone();
        self.add(&options.postfix);
        out.emit(Event::MessageStart(self.head.take().unwrap_or(Head::None)));
        out.emit(Event::Data(self.body.split().freeze()));
        out.emit(Event::MessageEnd(tail));
        (self.starts, self.ends) = (0, 0);
        self.last_flush = Some(Instant::now());
        if let Some(t) = self.timer.take() {
            t.abort();
        }
    }

    /// Sends a batch that is not full once no message ended for `timeout`.
    fn arm(&mut self, timeout: Duration) {
        if let Some(t) = self.timer.take() {
            t.abort();
        }
        let (env, expired) = (self.env.clone(), self.expired.clone());
        let task = tokio::task::spawn_local(async move {
            tokio::time::sleep(timeout).await;
            expired.set(true);
            env.wake();
        });
        self.timer = Some(task.abort_handle());
    }

    fn message_end(&mut self, tail: Value, out: &mut Output<'_>) {
        self.ends += 1;
        let interval_due = match (self.options.interval, self.last_flush) {
            (Some(_), None) => true,
            (Some(i), Some(last)) => last.elapsed() >= i,
            (None, _) => false,
        };
        if self.whole() && (self.ends >= self.batch || interval_due) {
            return self.flush(tail, out);
        }
        if let Some(t) = self.options.timeout {
            self.arm(t);
        }
    }
}

impl Drop for Pack {
    fn drop(&mut self) {
        if let Some(t) = self.timer.take() {
            t.abort();
        }
    }
}

impl Filter for Pack {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let options = self.options.clone();
        match evt {
            Event::MessageStart(head) => {
                if self.starts == 0 {
                    self.head = Some(head);
                    self.add(&options.prefix);
                } else {
                    self.add(&options.separator);
                }
                self.starts += 1;
            }
            Event::Data(b) if self.starts > 0 => self.body.extend_from_slice(&b),
            Event::MessageEnd(tail) => self.message_end(tail, out),
            Event::StreamEnd(_) => {
                if self.whole() {
                    self.flush(Value::undefined(), out);
                }
                out.emit(evt);
            }
            _ => {}
        }
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        if self.expired.take() && self.whole() {
            self.flush(Value::undefined(), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    fn message(body: &'static [u8]) -> Vec<Event> {
        vec![
            Event::MessageStart(Head::None),
            Event::Data(Bytes::from_static(body)),
            Event::MessageEnd(Value::undefined()),
        ]
    }

    fn run(batch: u32, separator: Option<&'static [u8]>, bodies: &[&'static [u8]]) -> Vec<String> {
        StubHost::install();
        let options = Options {
            timeout: None,
            interval: None,
            prefix: Some(Bytes::from_static(b"[")),
            postfix: Some(Bytes::from_static(b"]")),
            separator: separator.map(Bytes::from_static),
        };
        let spec = Spec { batch, options: Rc::new(options) };
        let mut input: Vec<Event> = bodies.iter().flat_map(|b| message(b)).collect();
        input.push(Event::end());
        stub::run(vec![Box::new(spec)], input)
    }

    #[test]
    fn batches_of_messages_become_one_with_prefix_separator_and_postfix() {
        let out = run(2, Some(b","), &[b"a", b"b", b"c", b"d"]);
        let want =
            ["MessageStart", "Data [a,b]", "MessageEnd", "MessageStart", "Data [c,d]", "MessageEnd", "StreamEnd"];
        assert_eq!(out, want);
    }

    #[test]
    fn the_stream_end_sends_a_batch_not_full() {
        let out = run(3, None, &[b"a", b"b"]);
        assert_eq!(out, ["MessageStart", "Data [ab]", "MessageEnd", "StreamEnd"]);
    }
}
