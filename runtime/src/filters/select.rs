//! What the `handle*`, `replace*` and `branch*` families share: which events a callback is
//! called for, and the whole messages the `*Message` forms collect (the `*MessageBody`
//! forms: the bodies alone).

use boa_engine::JsResult;

use crate::args::Args;
use crate::engine::charge::Collected;
use crate::engine::{Event, Head, Host, Value};

/// Splits the arguments of a `*Message` filter into its main argument and its size limit.
/// Both of Pipy's forms are taken: `(arg, { bufferLimit })` and the older `(sizeLimit, arg)`,
/// where the limit is a number of bytes or a string such as `'1m'`.
pub fn message_options(args: &mut Args<'_>) -> JsResult<(Value, usize)> {
    if args.name().ends_with("MessageBody") {
        return Ok((args.value(0), args.options(1).buffer_limit()?));
    }
    match args.values() {
        [limit, arg, ..] if limit.is_number() || limit.is_string() => {
            let n = args.size(limit)?;
            Ok((arg.clone(), if n > 0 { n } else { crate::options::MESSAGE_LIMIT }))
        }
        _ => Ok((args.value(0), args.options(1).buffer_limit()?)),
    }
}

/// Which events a filter of a family looks at.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Select {
    All,
    StreamStart,
    MessageStart,
    Data,
    MessageEnd,
    StreamEnd,
    Message,
    /// A message's body as one `Data`, at its `MessageEnd` (or a `StreamEnd` inside it);
    /// the head passes as it comes.
    Body,
}

/// The families built on [`Selector`].
#[derive(Clone, Copy)]
pub enum Family {
    Handle,
    Replace,
    Branch,
}

impl Select {
    /// The filter's name in the API: `handle` + `MessageStart`, and so on.
    pub fn name(self, family: Family) -> &'static str {
        const HANDLE: [&str; 8] = [
            "handle",
            "handleStreamStart",
            "handleMessageStart",
            "handleData",
            "handleMessageEnd",
            "handleStreamEnd",
            "handleMessage",
            "handleMessageBody",
        ];
        const REPLACE: [&str; 8] = [
            "replace",
            "replaceStreamStart",
            "replaceMessageStart",
            "replaceData",
            "replaceMessageEnd",
            "replaceStreamEnd",
            "replaceMessage",
            "replaceMessageBody",
        ];
        const BRANCH: [&str; 8] =
            ["branch", "branch", "branchMessageStart", "branch", "branch", "branch", "branchMessage", "branch"];
        let table = match family {
            Family::Handle => &HANDLE,
            Family::Replace => &REPLACE,
            Family::Branch => &BRANCH,
        };
        table[self as usize]
    }
}

/// What became of one event.
#[derive(PartialEq, Eq, Debug)]
pub enum Pick {
    /// Not one the filter looks at.
    Other,
    /// Taken into the message being collected.
    Collected,
    /// The callback is due: [`Selector::argument`] gives its argument.
    Chosen,
    /// The message outgrew the limit and was dropped: the filter ends its stream with
    /// [`Selector::overflow`].
    Overflow,
}

pub struct Selector {
    select: Select,
    /// Whether a `StreamEnd` inside a message completes it (`replaceMessage`), or only a
    /// `MessageEnd` does (`handleMessage`, `branchMessage`).
    stream_end_completes: bool,
    started: bool,
    message: Option<(Head, Collected)>,
    /// The most body bytes a whole message may have.
    limit: usize,
}

impl Selector {
    pub fn new(select: Select, stream_end_completes: bool, limit: usize) -> Selector {
        Selector { select, stream_end_completes, started: false, message: None, limit }
    }

    pub fn pick(&mut self, evt: &Event) -> Pick {
        match (self.select, evt) {
            (Select::All, _)
            | (Select::MessageStart, Event::MessageStart(_))
            | (Select::Data, Event::Data(_))
            | (Select::MessageEnd, Event::MessageEnd(_))
            | (Select::StreamEnd, Event::StreamEnd(_)) => Pick::Chosen,
            (Select::StreamStart, _) if !std::mem::replace(&mut self.started, true) => Pick::Chosen,
            (Select::Message, Event::MessageStart(h)) => {
                self.message = Some((h.clone(), Collected::default()));
                Pick::Collected
            }
            (Select::Message, Event::Data(d)) if self.message.is_some() => {
                let Some((_, body)) = &mut self.message else { return Pick::Other };
                if body.len() + d.len() > self.limit {
                    self.message = None;
                    return Pick::Overflow;
                }
                body.extend_from_slice(d);
                Pick::Collected
            }
            (Select::Message, Event::MessageEnd(_)) if self.message.is_some() => Pick::Chosen,
            // An error is no end of a message: what was collected is incomplete, so it is
            // dropped and the error passes on (a body cut short never looks whole).
            (Select::Message, Event::StreamEnd(Some(_))) if self.message.is_some() => {
                self.message = None;
                Pick::Other
            }
            (Select::Message, Event::StreamEnd(None)) if self.message.is_some() && self.stream_end_completes => {
                Pick::Chosen
            }
            (Select::Body, evt) => self.body(evt),
            _ => Pick::Other,
        }
    }

    /// `*MessageBody`: the head passes, the body is collected, and any end of the message
    /// or the stream inside it (Pipy's handle the body cut short too) calls back.
    fn body(&mut self, evt: &Event) -> Pick {
        match evt {
            Event::MessageStart(_) => {
                self.message = Some((Head::None, Collected::default()));
                Pick::Other
            }
            Event::Data(d) => match &mut self.message {
                Some((_, body)) if body.len() + d.len() > self.limit => {
                    self.message = None;
                    Pick::Overflow
                }
                Some((_, body)) => {
                    body.extend_from_slice(d);
                    Pick::Collected
                }
                None => Pick::Other,
            },
            Event::MessageEnd(_) | Event::StreamEnd(_) if self.message.is_some() => Pick::Chosen,
            _ => Pick::Other,
        }
    }

    /// Whether `Data` events pass by unlooked-at, now and until the next non-`Data` event.
    pub fn ignores_data(&self) -> bool {
        match self.select {
            Select::MessageStart | Select::MessageEnd | Select::StreamEnd => true,
            Select::StreamStart => self.started,
            Select::All | Select::Data | Select::Message | Select::Body => false,
        }
    }

    /// The callback's argument for a chosen event: the event itself, or the whole message.
    pub fn argument(&mut self, evt: &Event, host: &dyn Host) -> Result<Value, String> {
        if self.select == Select::Body {
            let body = self.message.take().map(|(_, b)| b.freeze()).unwrap_or_default();
            return host.event_value(&Event::Data(body));
        }
        if self.select != Select::Message {
            return host.event_value(evt);
        }
        let (head, body) = self.message.take().unwrap_or((Head::None, Collected::default()));
        let tail = match evt {
            Event::MessageEnd(t) => t.clone(),
            _ => Value::undefined(),
        };
        host.message_value(&head, &body, tail)
    }

    /// Logs that filter `name` met a message over its limit, and gives the end of the stream.
    pub fn overflow(&self, name: &str) -> Event {
        tracing::error!(
            target: "pipeline",
            "{name}: message body over the limit of {} bytes (bufferLimit): stream ended",
            self.limit
        );
        Event::error("BufferOverflow")
    }

    /// Forgets the message being collected (its replacement was static).
    pub fn discard(&mut self) {
        self.message = None;
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::StubHost;

    fn data(s: &'static str) -> Event {
        Event::Data(Bytes::from_static(s.as_bytes()))
    }

    fn picks(selector: &mut Selector, input: &[Event]) -> Vec<Pick> {
        input.iter().map(|e| selector.pick(e)).collect()
    }

    fn message(body: &'static str) -> [Event; 3] {
        [Event::MessageStart(Head::None), data(body), Event::MessageEnd(Value::undefined())]
    }

    #[test]
    fn select_chooses_the_events_of_its_kind_and_stream_start_once() {
        let input = message("ab");
        let mut data_only = Selector::new(Select::Data, false, 10);
        assert_eq!(picks(&mut data_only, &input), [Pick::Other, Pick::Chosen, Pick::Other]);
        let mut first = Selector::new(Select::StreamStart, false, 10);
        assert!(!first.ignores_data());
        assert_eq!(picks(&mut first, &input), [Pick::Chosen, Pick::Other, Pick::Other]);
        assert!(first.ignores_data());
        assert!(Selector::new(Select::MessageEnd, false, 10).ignores_data());
        assert_eq!(Select::Message.name(Family::Branch), "branchMessage");
        assert_eq!(Select::Data.name(Family::Replace), "replaceData");
    }

    #[test]
    fn select_message_collects_the_body_for_the_callback() {
        let stub = StubHost::install();
        let mut s = Selector::new(Select::Message, false, 10);
        let input = [Event::MessageStart(Head::None), data("ab"), data("cde"), Event::MessageEnd(Value::undefined())];
        assert_eq!(picks(&mut s, &input), [Pick::Collected, Pick::Collected, Pick::Collected, Pick::Chosen]);
        s.argument(&input[3], &*stub).expect("argument");
        assert_eq!(*stub.log.borrow(), ["message 5"]);
    }

    #[test]
    fn select_message_overflows_past_its_limit() {
        let mut s = Selector::new(Select::Message, false, 4);
        let input = [Event::MessageStart(Head::None), data("abc"), data("de"), data("f")];
        assert_eq!(picks(&mut s, &input), [Pick::Collected, Pick::Collected, Pick::Overflow, Pick::Other]);
        assert_eq!(crate::engine::host::stub::describe(&s.overflow("handleMessage")), "StreamEnd error");
    }

    #[test]
    fn select_message_at_stream_end_completes_only_when_asked_and_never_on_error() {
        let start = [Event::MessageStart(Head::None), data("ab")];
        let mut replace = Selector::new(Select::Message, true, 10);
        picks(&mut replace, &start);
        assert_eq!(replace.pick(&Event::end()), Pick::Chosen);
        let mut handle = Selector::new(Select::Message, false, 10);
        picks(&mut handle, &start);
        assert_eq!(handle.pick(&Event::end()), Pick::Other);
        picks(&mut replace, &start);
        assert_eq!(replace.pick(&Event::error("ConnectionReset")), Pick::Other);
        assert_eq!(replace.pick(&Event::MessageEnd(Value::undefined())), Pick::Other);
    }
}
