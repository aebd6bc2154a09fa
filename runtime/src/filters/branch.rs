//! `branch(cond1, sub1, cond2, sub2, ..., default?)` and its `branchMessageStart` and
//! `branchMessage` forms (legacy).
//!
//! The conditions are tried once per pipeline instance, at the first event (`branch`), at each
//! `MessageStart` (`branchMessageStart`, which gets the event) or at each complete message
//! (`branchMessage`, which gets the `Message`), until one is truthy. Events wait until then;
//! afterwards all of them go into the chosen sub-pipeline, which shares this context and
//! whose output is this filter's output.

use std::rc::Rc;

use boa_engine::{Context, JsObject, JsResult, JsValue};
use bytes::BytesMut;

use super::Made;
use super::link::{Sub, SubRef};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Head, Output};
use crate::js;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    First,
    MessageStart,
    Message,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::First => "branch",
            Kind::MessageStart => "branchMessageStart",
            Kind::Message => "branchMessage",
        }
    }
}

pub fn make_branch(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    make(Kind::First, args, ctx)
}
pub fn make_message_start(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    make(Kind::MessageStart, args, ctx)
}
pub fn make_message(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    make(Kind::Message, args, ctx)
}

/// Splits `cond1, sub1, ..., default?` into (condition, sub-pipeline) pairs; the default
/// has no condition.
fn make(kind: Kind, args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    if args.len() < 2 {
        return Err(js::type_error(format!("{}() requires at least 2 arguments", kind.name())));
    }
    let mut branches = Vec::new();
    for pair in args.chunks(2) {
        let (cond, sub) = match pair {
            [cond, sub] => {
                let f = cond.as_object().filter(|o| o.is_callable()).ok_or_else(|| {
                    js::type_error(format!("{}(): conditions must be functions, got {}", kind.name(), cond.display()))
                })?;
                (Some(f.clone()), sub)
            }
            [sub] => (None, sub),
            _ => unreachable!("chunks(2) yields one or two items"),
        };
        if !sub.is_string() && !sub.as_object().is_some_and(|o| o.is_callable()) {
            return Err(js::type_error(format!(
                "{}(): a sub-pipeline must be a pipeline name or a builder function, got {}",
                kind.name(),
                sub.display()
            )));
        }
        branches.push((cond, js::configuration::sub_ref(sub, ctx)?));
    }
    Ok(Made::Filter(Box::new(Spec { kind, branches: Rc::new(branches) })))
}

type Branches = Rc<Vec<(Option<JsObject>, SubRef)>>;

struct Spec {
    kind: Kind,
    branches: Branches,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Branch {
            kind: self.kind,
            branches: self.branches.clone(),
            env,
            held: Vec::new(),
            message: None,
            sub: None,
            ended: false,
        })
    }
}

struct Branch {
    kind: Kind,
    branches: Branches,
    env: FilterEnv,
    held: Vec<Event>,
    /// The message being collected for `branchMessage`.
    message: Option<(Head, BytesMut)>,
    sub: Option<Sub>,
    ended: bool,
}

impl Branch {
    /// The argument the conditions get for this event, or `None` when this event is not
    /// one where a choice is made.
    fn argument(&mut self, evt: &Event) -> Option<Result<Vec<JsValue>, String>> {
        let to_js = |f: &mut dyn FnMut(&mut Context) -> JsResult<JsValue>| {
            js::with_js(|ctx| f(ctx).map(|v| vec![v]).map_err(|e| js::describe(&e, ctx)))
                .unwrap_or_else(|| Err("re-entrant call into JS".into()))
        };
        match (self.kind, evt) {
            (Kind::First, _) => Some(Ok(Vec::new())),
            (Kind::MessageStart, Event::MessageStart(_)) => Some(to_js(&mut |ctx| js::events::to_value(evt, ctx))),
            (Kind::MessageStart, _) => None,
            (Kind::Message, Event::MessageStart(h)) => {
                self.message = Some((h.clone(), BytesMut::new()));
                None
            }
            (Kind::Message, Event::Data(d)) => {
                if let Some((_, body)) = &mut self.message {
                    body.extend_from_slice(d);
                }
                None
            }
            (Kind::Message, Event::MessageEnd(tail)) => {
                let (head, body) = self.message.take()?;
                Some(to_js(&mut |ctx| js::message::collected(&head, &body, tail.clone(), ctx)))
            }
            (Kind::Message, _) => None,
        }
    }

    /// The first branch whose condition holds, or the default.
    fn choose(&self, args: &[JsValue]) -> Result<Option<SubRef>, String> {
        for (cond, sub) in self.branches.iter() {
            let hit = match cond {
                None => true,
                Some(f) => js::call(&self.env.context, f, args)?.to_boolean(),
            };
            if hit {
                return Ok(Some(sub.clone()));
            }
        }
        Ok(None)
    }

    fn fail(&mut self, e: String, out: &mut Output<'_>) {
        tracing::error!(target: "pipeline", "{}: {e}", self.kind.name());
        self.ended = true;
        self.held.clear();
        out.emit(js::runtime_error(e));
    }
}

impl Filter for Branch {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if let Some(sub) = &self.sub {
            return sub.input(evt, out);
        }
        let chosen = match self.argument(&evt) {
            None => Ok(None),
            Some(Err(e)) => Err(e),
            Some(Ok(args)) => self.choose(&args).and_then(|s| s.map(|s| s.resolve()).transpose()),
        };
        match chosen {
            Err(e) => self.fail(e, out),
            Ok(None) => self.held.push(evt),
            Ok(Some(layout)) => {
                let sub = Sub::start(layout, &self.env, out);
                for e in std::mem::take(&mut self.held) {
                    sub.input(e, out);
                }
                sub.input(evt, out);
                self.sub = Some(sub);
            }
        }
    }
}
