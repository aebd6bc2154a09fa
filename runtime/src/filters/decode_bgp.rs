//! `decodeBGP([{ enableAS4 }])`: BGP-4 bytes in, one message per BGP message out: a
//! `MessageStart` with no head and a `MessageEnd` carrying `{ type, body }` (see
//! `codec::bgp`). `enableAS4` is a boolean or a function asked before each message is read,
//! as in Pipy.
//!
//! A message that does not parse ends the stream with a `ProtocolError` StreamEnd and a log
//! line (Pipy stops output silently); so does a stream that ends inside a message.

use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use crate::args::Args;
use crate::codec::bgp::{self, Framer, Malformed};
use crate::engine::{Context, Event, Filter, FilterEnv, FilterSpec, Given, Head, Output, host};

/// `enableAS4` of `decodeBGP` and `encodeBGP`: a boolean, or a function returning one.
pub fn as4_option(args: &mut Args<'_>) -> JsResult<Given<bool>> {
    let mut o = args.options(0);
    if let Some(f) = o.function("enableAS4").ok().flatten() {
        return Ok(Given::Dynamic(f));
    }
    Ok(Given::Fixed(o.value("enableAS4")?.is_some_and(|v| v.to_boolean())))
}

/// Whether to read or write 4-byte AS numbers now; a function that throws says no.
pub fn as4_now(as4: &Given<bool>, context: &Rc<Context>) -> bool {
    as4.get(context, &[], |v| Ok(v.to_boolean())).unwrap_or_else(|e| {
        tracing::error!(target: "codec", "enableAS4: {e}");
        false
    })
}

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let as4 = as4_option(args)?;
    Ok(Made::Filter(Box::new(Spec { as4 })))
}

struct Spec {
    as4: Given<bool>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "decodeBGP"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(DecodeBgp { as4: self.as4.clone(), env, framer: Framer::default(), failed: false })
    }
}

struct DecodeBgp {
    as4: Given<bool>,
    env: FilterEnv,
    framer: Framer,
    /// The stream already ended with an error: the rest of its input is dropped.
    failed: bool,
}

impl DecodeBgp {
    fn fail(&mut self, why: &str, out: &mut Output<'_>) {
        tracing::error!(target: "codec", "decodeBGP: {why}");
        self.failed = true;
        self.framer.clear();
        out.emit(Event::error("ProtocolError"));
    }

    fn decode(&mut self, out: &mut Output<'_>) {
        loop {
            let msg = match self.framer.next_message() {
                Ok(Some(msg)) => msg,
                Ok(None) => return,
                Err(Malformed) => return self.fail("a message length under 19", out),
            };
            let tree = match bgp::decode(&msg, as4_now(&self.as4, &self.env.context)) {
                Ok(tree) => tree,
                Err(Malformed) => return self.fail("a malformed message", out),
            };
            match host().tree_value(&tree) {
                Ok(value) => {
                    out.emit(Event::MessageStart(Head::None));
                    out.emit(Event::MessageEnd(value));
                }
                Err(e) => return self.fail(&e, out),
            }
        }
    }
}

impl Filter for DecodeBgp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(b) if !self.failed => {
                self.framer.feed(&b);
                self.decode(out);
            }
            Event::StreamEnd(e) => {
                let partial = self.framer.is_partial();
                self.framer.clear();
                if std::mem::replace(&mut self.failed, false) {
                    return;
                }
                if partial && e.is_none() {
                    return self.fail("the stream ended inside a message", out);
                }
                out.emit(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}
