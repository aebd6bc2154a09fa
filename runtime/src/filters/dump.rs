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
