//! Conversions between pipeline events and the JS objects scripts see and return.

use std::cell::RefCell;

use boa_engine::class::Class;
use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, JsObject, JsResult, JsValue};
use bytes::Bytes;

use super::data::Data;
use super::message::{self, Message, MessageEnd, MessageStart, StreamEnd};
use crate::engine::{Event, Head};

/// The events a value stands for: an event, a `Message`, or an array of them (null and
/// undefined elements skipped). `Err` names what was wrong.
pub fn from_value(v: &JsValue, ctx: &mut Context) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    push(v, &mut out, true, ctx)?;
    Ok(out)
}

/// As [`from_value`], from Rust code that does not hold the Boa context.
pub fn to_events(v: &JsValue) -> Result<Vec<Event>, String> {
    super::with_js(|ctx| from_value(v, ctx)).unwrap_or_else(|| Err("re-entrant call into JS".into()))
}

fn push(v: &JsValue, out: &mut Vec<Event>, top: bool, ctx: &mut Context) -> Result<(), String> {
    if v.is_null_or_undefined() {
        return Ok(());
    }
    let not_events = || "initial input is not or did not return events or messages".to_string();
    let obj = v.as_object().ok_or_else(not_events)?;
    if let Some(d) = obj.downcast_ref::<Data>() {
        out.push(Event::Data(Bytes::copy_from_slice(&d.bytes)));
    } else if let Some(m) = obj.downcast_ref::<MessageStart>() {
        out.push(Event::MessageStart(message::head_from_js(&m.head)));
    } else if let Some(m) = obj.downcast_ref::<MessageEnd>() {
        out.push(Event::MessageEnd(m.tail.clone()));
    } else if let Some(s) = obj.downcast_ref::<StreamEnd>() {
        out.push(Event::StreamEnd(message::stream_error(&s.error)));
    } else if let Some(m) = obj.downcast_ref::<Message>() {
        out.push(Event::MessageStart(message::head_from_js(&m.head)));
        if let Some(body) = Data::bytes_of(&m.body).filter(|b| !b.is_empty()) {
            out.push(Event::Data(body));
        }
        out.push(Event::MessageEnd(m.tail.clone()));
    } else if top && obj.is_array() {
        let arr = JsArray::from_object(obj.clone()).map_err(|e| e.to_string())?;
        let len = arr.length(ctx).map_err(|e| e.to_string())?;
        for i in 0..len {
            let item = arr.get(i, ctx).map_err(|e| e.to_string())?;
            push(&item, out, false, ctx)?;
        }
    } else {
        return Err(not_events());
    }
    Ok(())
}

/// The JS object for an event, as handed to `handle*` callbacks.
pub fn to_value(evt: &Event, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(match evt {
        Event::Data(b) => Data::to_js(b.to_vec(), ctx)?,
        Event::MessageStart(h) => message_start(h, ctx)?,
        Event::MessageEnd(tail) => {
            MessageEnd::from_data(MessageEnd { tail: tail.clone(), payload: JsValue::undefined() }, ctx)?.into()
        }
        Event::StreamEnd(e) => StreamEnd::from_data(StreamEnd { error: message::error_to_js(e) }, ctx)?.into(),
    })
}

thread_local! {
    /// `MessageStart` objects that callbacks gave back untouched, each with its head object
    /// when that came back untouched too (see [`recycle`]).
    static SPARE: RefCell<Vec<JsObject>> = const { RefCell::new(Vec::new()) };
}

/// Spares kept: callbacks nested in callbacks are few.
const SPARES: usize = 8;

/// A `MessageStart` for `head`, reusing a spare one and its head object when there is one:
/// a callback per message then makes no garbage for Boa's collector.
fn message_start(head: &Head, ctx: &mut Context) -> JsResult<JsValue> {
    let Some(obj) = SPARE.with(|s| s.borrow_mut().pop()) else {
        return Ok(MessageStart::from_data(MessageStart { head: message::head_to_js(head, ctx)? }, ctx)?.into());
    };
    let old = obj.downcast_mut::<MessageStart>().map(|mut m| std::mem::take(&mut m.head)).unwrap_or_default();
    let value = match old.as_object() {
        Some(o) if super::head::renew(&o, head) => o.into(),
        _ => message::head_to_js(head, ctx)?,
    };
    if let Some(mut m) = obj.downcast_mut::<MessageStart>() {
        m.head = value;
    }
    Ok(obj.into())
}

/// Takes back the event a callback was given, for the next [`to_value`]: only a
/// `MessageStart` (and its head) that the script neither kept nor changed is reused, so a
/// script that stores an event or a head keeps seeing that message.
pub fn recycle(v: JsValue, ctx: &mut Context) {
    let obj = v.as_object();
    drop(v);
    let Some(obj) = obj.filter(|o| o.is::<MessageStart>()) else { return };
    if super::refs::strong_count(&obj) != Some(1) || !super::head::pristine::<MessageStart>(&obj, ctx) {
        return;
    }
    let head = obj.downcast_mut::<MessageStart>().map(|mut m| std::mem::take(&mut m.head)).unwrap_or_default();
    let head_obj = head.as_object().filter(|o| o.is::<super::head::HttpHead>());
    drop(head);
    let head = head_obj.and_then(|o| super::head::recycle(o, ctx));
    if let Some(mut m) = obj.downcast_mut::<MessageStart>() {
        m.head = head.map(JsValue::from).unwrap_or_default();
    }
    SPARE.with(|s| {
        let mut spare = s.borrow_mut();
        if spare.len() < SPARES {
            spare.push(obj);
        }
    });
}

/// Forgets the spares (at worker teardown, before the context goes).
pub fn uninstall() {
    SPARE.with(|s| s.borrow_mut().clear());
}

/// Reused objects must never show: whatever a script keeps or changes, every callback sees
/// a head of its own message, and what it kept keeps showing that message.
#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use boa_engine::{JsValue, Source};

    use crate::codec::http1::{Header, RequestHead};
    use crate::engine::pipeline::Discard;
    use crate::engine::{Context, Event, Head, Pipeline};
    use crate::js;

    /// Runs `script` (which returns a pipeline template) over three requests to
    /// `/0`..`/2` with hosts `a`..`c`, then gives the text of `check`, and how many
    /// events were left spare.
    fn run(script: &str, check: &str) -> (String, usize) {
        let mut ctx = js::new_context().unwrap();
        let template = ctx.eval(Source::from_bytes(script)).unwrap();
        let layout = js::pipeline::template_layout(&template).unwrap();
        js::install(Rc::new(RefCell::new(ctx)));
        let p = Pipeline::new(layout, Context::root(), Rc::new(Discard));
        p.start(&[]);
        for (i, host) in ["a", "b", "c"].iter().enumerate() {
            let head = RequestHead {
                method: "GET".into(),
                path: format!("/{i}").into(),
                protocol: "HTTP/1.1".into(),
                headers: vec![Header::new("Host", *host), Header::new("Cookie", format!("n={i}"))],
            };
            p.input(Event::MessageStart(Head::Request(Rc::new(head))));
            p.input(Event::MessageEnd(JsValue::undefined()));
        }
        let out = js::with_js(|ctx| {
            let v = ctx.eval(Source::from_bytes(check)).unwrap();
            v.to_string(ctx).unwrap().to_std_string_escaped()
        })
        .unwrap();
        let spare = super::SPARE.with(|s| s.borrow().len());
        drop(p);
        js::uninstall();
        (out, spare)
    }

    const ALL: &str = "/0 a,/1 b,/2 c";

    #[test]
    fn a_callback_that_keeps_nothing_gets_the_same_objects_back() {
        let (seen, spare) = run(
            "var seen = []; pipeline($=>$.handleMessageStart(({ head }) => { seen.push(head.path + ' ' + head.headers.host) }))",
            "seen.join()",
        );
        assert_eq!(seen, ALL);
        assert_eq!(spare, 1);
    }

    #[test]
    fn kept_events_heads_and_headers_keep_their_message() {
        let events = "var kept = []; pipeline($=>$.handleMessageStart(e => { kept.push(e) }))";
        let (seen, spare) = run(events, "kept.map(e => e.head.path + ' ' + e.head.headers.host).join()");
        assert_eq!((seen.as_str(), spare), (ALL, 0));
        let heads = "var kept = []; pipeline($=>$.handleMessageStart(({ head }) => { kept.push(head) }))";
        assert_eq!(run(heads, "kept.map(h => h.path + ' ' + h.headers.host).join()").0, ALL);
        let headers =
            "var kept = []; pipeline($=>$.handleMessageStart(({ head }) => { kept.push([head.path, head.headers]) }))";
        assert_eq!(run(headers, "kept.map(([p, h]) => p + ' ' + h.host).join()").0, ALL);
        let closures = "var kept = []; pipeline($=>$.handleMessageStart(e => { kept.push(() => e.head.path + ' ' + e.head.headers.host) }))";
        assert_eq!(run(closures, "kept.map(f => f()).join()").0, ALL);
    }

    #[test]
    fn what_a_callback_changes_is_never_seen_by_the_next_one() {
        let script = "var seen = []; pipeline($=>$.handleMessageStart(e => {
            seen.push([e.x, e.head.x, e.head.headers.x, Object.isExtensible(e.head), Object.getPrototypeOf(e.head.headers) === Object.prototype].join('|'));
            e.x = 1; e.head.x = 1; e.head.headers.x = 1; Object.preventExtensions(e.head);
            Object.setPrototypeOf(e.head.headers, null);
        }))";
        let (seen, _) = run(script, "seen.join()");
        assert_eq!(seen, "|||true|true,|||true|true,|||true|true");
        let script = "var seen = []; pipeline($=>$.handleMessageStart(({ head }) => {
            seen.push(Object.keys(head.headers).join('+') + ' ' + head.headers.cookie + ' ' + head.path);
            head.path = '/changed';
        }))";
        let (seen, _) = run(script, "seen.join()");
        assert_eq!(seen, "host+cookie n=0 /0,host+cookie n=1 /1,host+cookie n=2 /2");
    }
}
