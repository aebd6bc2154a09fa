//! `dump(tag?)`: passes every event on and logs one line for each.

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let tag = args.optional_string(0)?;
    Ok(Made::Filter(Box::new(Spec { tag })))
}

struct Spec {
    tag: Option<String>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "dump"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Dump { tag: self.tag.clone(), context: env.context.id })
    }
}

struct Dump {
    tag: Option<String>,
    context: u64,
}

fn describe(evt: &Event) -> String {
    match evt {
        Event::Data(b) => {
            let hex: Vec<String> = b.iter().take(16).map(|x| format!("{x:02x}")).collect();
            format!("Data [{}] {}{}", b.len(), hex.join(" "), if b.len() > 16 { " ..." } else { "" })
        }
        Event::MessageStart(Head::Request(h)) => format!("MessageStart head = {} {} {}", h.method, h.path, h.protocol),
        Event::MessageStart(Head::Response(h)) => {
            format!("MessageStart head = {} {} {}", h.protocol, h.status, h.status_text)
        }
        Event::MessageStart(Head::Js(v)) => format!("MessageStart head = {}", v.display()),
        Event::MessageStart(Head::None) => "MessageStart".into(),
        Event::MessageEnd(t) => format!("MessageEnd tail = {}", t.display()),
        Event::StreamEnd(None) => "StreamEnd".into(),
        Event::StreamEnd(Some(e)) => format!("StreamEnd error = {}", e.name()),
    }
}

impl Filter for Dump {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let tag = self.tag.as_deref().map(|t| format!("[{t}] ")).unwrap_or_default();
        tracing::info!(target: "dump", "[context={}] {tag}{}", self.context, describe(&evt));
        out.emit(evt);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::rc::Rc;
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;

    use super::*;
    use crate::codec::http1::RequestHead;
    use crate::engine::Value;
    use crate::engine::host::stub::{self, StubHost};

    /// Where the test's subscriber writes the log lines.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lines").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `dump(tag)` passes on over `input`, and the lines it logged.
    fn run(tag: Option<&str>, input: Vec<Event>) -> (Vec<String>, Vec<String>) {
        StubHost::install();
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).without_time().finish();
        let spec = Spec { tag: tag.map(str::to_string) };
        let out = tracing::subscriber::with_default(subscriber, || stub::run(vec![Box::new(spec)], input));
        let text = String::from_utf8(lines.0.lock().expect("lines").clone()).expect("utf-8");
        (out, text.lines().map(str::to_string).collect())
    }

    #[test]
    fn dump_passes_every_event_on_and_logs_one_line_for_each() {
        let head = Head::Request(Rc::new(RequestHead::default()));
        let input = vec![
            Event::MessageStart(head),
            Event::Data(Bytes::from_static(b"0123456789abcdefg")),
            Event::MessageEnd(Value::undefined()),
            Event::end(),
        ];
        let (out, lines) = run(Some("in"), input);
        assert_eq!(out, ["MessageStart", "Data 0123456789abcdefg", "MessageEnd", "StreamEnd"]);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines.iter().all(|l| l.contains("[in] ")), "{lines:?}");
        assert!(lines[0].ends_with("MessageStart head = GET / HTTP/1.1"), "{}", lines[0]);
        let hex = "Data [17] 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 ...";
        assert!(lines[1].ends_with(hex), "{}", lines[1]);
        assert!(lines[2].ends_with("MessageEnd tail = undefined"), "{}", lines[2]);
        assert!(lines[3].ends_with("StreamEnd"), "{}", lines[3]);
    }

    #[test]
    fn dump_without_a_tag_logs_no_brackets_for_it() {
        let (_, lines) = run(None, vec![Event::Data(Bytes::from_static(b"ab")), Event::error("ConnectionReset")]);
        assert!(lines[0].ends_with("] Data [2] 61 62"), "{}", lines[0]);
        assert!(lines[1].contains("StreamEnd error = "), "{}", lines[1]);
    }
}
