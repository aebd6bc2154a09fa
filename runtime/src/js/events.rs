//! Conversions between pipeline events and the JS objects scripts see and return.

use std::cell::RefCell;

use boa_engine::class::Class;
use boa_engine::object::builtins::JsArray;
use boa_engine::object::shape::Shape;
use boa_engine::property::PropertyDescriptor;
use boa_engine::realm::Realm;
use boa_engine::{Context, JsObject, JsResult, JsValue, js_string};
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
        // An event carries one value: a payload (`new MessageEnd(null, value)`, for the
        // codecs) stands in for a tail that is not there.
        let value = if m.tail.is_null_or_undefined() && !m.payload.is_undefined() { &m.payload } else { &m.tail };
        out.push(Event::MessageEnd(value.clone()));
    } else if let Some(s) = obj.downcast_ref::<StreamEnd>() {
        out.push(Event::StreamEnd(message::stream_error(&s.error)));
    } else if let Some(m) = obj.downcast_ref::<Message>() {
        out.push(Event::MessageStart(message::head_from_js(&m.head)));
        if let Some(body) = Data::bytes_of(&m.body).filter(|b| !b.is_empty()) {
            out.push(Event::Data(body));
        }
        // `new Message(null, value)` carries its payload the same way (the bgp sample's).
        let value = if m.tail.is_null_or_undefined() && !m.payload.is_undefined() { &m.payload } else { &m.tail };
        out.push(Event::MessageEnd(value.clone()));
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
            // Codecs put a decoded value where Pipy has the payload: it reads as both.
            MessageEnd::from_data(MessageEnd { tail: tail.clone(), payload: tail.clone() }, ctx)?.into()
        }
        Event::StreamEnd(e) => StreamEnd::from_data(StreamEnd { error: message::error_to_js(e) }, ctx)?.into(),
    })
}

thread_local! {
    /// `MessageStart` objects that callbacks gave back untouched, each with its head object
    /// when that came back untouched too (see [`recycle`]).
    static SPARE: RefCell<Vec<JsObject>> = const { RefCell::new(Vec::new()) };
    /// The shape of a `MessageStart` as [`message_start`] makes it: held, so that no other
    /// shape can take its address. With the realm it was made in: a spare goes only to a
    /// call in that realm (after a reload, old connections run in the old script's realm).
    static SHAPE: RefCell<Option<(Shape, Realm)>> = const { RefCell::new(None) };
}

/// Spares kept: callbacks nested in callbacks are few.
const SPARES: usize = 8;

/// A `MessageStart` for `head`, reusing a spare one and its head object when there is one:
/// a callback per message then makes no garbage for Boa's collector.
///
/// The event carries its head as an own, read-only, non-enumerable data property (besides
/// the native field the pipeline reads), so that `evt.head` is a plain property read rather
/// than a call of the class's getter.
fn message_start(head: &Head, ctx: &mut Context) -> JsResult<JsValue> {
    let ours = SHAPE.with(|s| s.borrow().as_ref().is_none_or(|(_, realm)| realm == ctx.realm()));
    let Some(obj) = SPARE.with(|s| if ours { take_spare(&mut s.borrow_mut(), head) } else { None }) else {
        let value = message::head_to_js(head, ctx)?;
        let obj = MessageStart::from_data(MessageStart { head: value.clone() }, ctx)?;
        obj.insert_property(js_string!("head"), own_head(value));
        adopt_shape(&obj, ctx);
        return Ok(obj.into());
    };
    let old = obj.downcast_mut::<MessageStart>().map(|mut m| std::mem::take(&mut m.head)).unwrap_or_default();
    // `old` is also the own `head` property's value: rewrite that only if the head changes
    // (not for events without a head, whose `null` stays).
    let value = match old.as_object() {
        Some(o) if super::head::renew(&o, head, ctx)? => o.into(),
        _ => message::head_to_js(head, ctx)?,
    };
    if !JsValue::same_value(&old, &value) {
        obj.insert_property(js_string!("head"), own_head(value.clone()));
    }
    if let Some(mut m) = obj.downcast_mut::<MessageStart>() {
        m.head = value;
    }
    Ok(obj.into())
}

/// The spare for `head`: the latest whose head object is of the same kind (request,
/// response, or neither), which [`super::head::renew`] can point at it. A proxy's thread
/// alternates requests and responses: from a plain stack each would take the other's spare,
/// fail to renew its head and build a new one, on every message of every connection. An
/// HTTP head with no spare of its kind gets a new event (the spares of the other kind stay);
/// any other head takes the latest spare, as its head object is not reused anyway.
fn take_spare(spare: &mut Vec<JsObject>, head: &Head) -> Option<JsObject> {
    let kind = super::head::kind(head);
    let of = |o: &JsObject| {
        let m = o.downcast_ref::<MessageStart>();
        m.and_then(|m| m.head.as_object()).map_or(super::head::Kind::Other, |h| super::head::kind_of(&h))
    };
    let other = super::head::Kind::Other;
    let i = match spare.iter().rposition(|o| of(o) == kind) {
        Some(i) => i,
        None if kind == other => spare.len().checked_sub(1)?,
        // One whose head went with the script that kept it: nothing of it to lose.
        None => spare.iter().rposition(|o| of(o) == other)?,
    };
    Some(spare.remove(i))
}

/// Makes the shape of `obj` the one spares have, if there is none yet, or if the one there
/// is of a realm reloaded away and `obj`'s is not: the current script's events are the ones
/// worth reusing.
fn adopt_shape(obj: &JsObject, ctx: &Context) {
    SHAPE.with(|s| {
        let mut s = s.borrow_mut();
        let stale =
            s.as_ref().is_some_and(|(_, r)| super::realms::is_retired(r) && !super::realms::is_retired(ctx.realm()));
        if s.is_none() || stale {
            *s = Some((obj.borrow().shape().clone(), ctx.realm().clone()));
            SPARE.with(|spare| spare.borrow_mut().clear());
        }
    });
}

fn own_head(value: JsValue) -> PropertyDescriptor {
    PropertyDescriptor::builder().value(value).writable(false).enumerable(false).configurable(false).build()
}

/// Whether a `MessageStart` is as [`message_start`] made it: no other own property, still
/// extensible, on its class's prototype.
fn as_made(obj: &JsObject, ctx: &mut Context) -> bool {
    let (shape, indexed) = {
        let o = obj.borrow();
        (o.shape().to_addr_usize(), o.properties().index_property_keys().next().is_some())
    };
    !indexed
        && SHAPE.with(|s| s.borrow().as_ref().is_some_and(|(s, _)| s.to_addr_usize() == shape))
        && obj.is_extensible(ctx).unwrap_or(false)
}

/// Takes back the event a callback was given, for the next [`to_value`]: only a
/// `MessageStart` (and its head) that the script neither kept nor changed is reused, so a
/// script that stores an event or a head keeps seeing that message.
pub fn recycle(v: JsValue, ctx: &mut Context) {
    let obj = v.as_object();
    drop(v);
    let Some(obj) = obj.filter(|o| o.is::<MessageStart>()) else { return };
    if super::refs::strong_count(&obj) != Some(1) || !as_made(&obj, ctx) {
        return;
    }
    let Some(mut m) = obj.downcast_mut::<MessageStart>() else { return };
    let Some(head_obj) = m.head.as_object() else {
        // A `null` head holds nothing: the spare keeps it.
        drop(m);
        return spare(obj);
    };
    m.head = JsValue::undefined();
    drop(m);
    // Ours: the event's own `head` property and `head_obj`.
    let head = Some(head_obj).filter(|o| o.is::<super::head::HttpHead>()).and_then(|o| super::head::recycle(o, 2, ctx));
    match head {
        Some(head) => {
            if let Some(mut m) = obj.downcast_mut::<MessageStart>() {
                m.head = head.into();
            }
        }
        // The head stays with whoever kept it, not with a spare event.
        None => {
            obj.insert_property(js_string!("head"), own_head(JsValue::undefined()));
        }
    }
    spare(obj);
}

/// Keeps `obj` as the latest spare; when there are enough, the oldest goes, so that spares
/// of a kind no longer made do not crowd out those in use.
fn spare(obj: JsObject) {
    SPARE.with(|s| {
        let mut spare = s.borrow_mut();
        if spare.len() >= SPARES {
            spare.remove(0);
        }
        spare.push(obj);
    });
}

/// Forgets the spares (at worker teardown, before the context goes).
pub fn uninstall() {
    SPARE.with(|s| s.borrow_mut().clear());
    SHAPE.with(|s| s.borrow_mut().take());
}

/// Reused objects must never show: whatever a script keeps or changes, every callback sees
/// a head of its own message, and what it kept keeps showing that message.
#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use boa_engine::{JsObject, JsValue, Source};

    use crate::codec::http1::{Header, RequestHead, ResponseHead};
    use crate::engine::{Context, Event, Head, Pipeline};
    use crate::js;
    use crate::js::message::MessageStart;

    fn request(i: usize, headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "GET".into(),
            path: format!("/{i}").into(),
            protocol: "HTTP/1.1".into(),
            headers: headers.iter().map(|(n, v)| Header::new(*n, *v)).collect(),
        }
    }

    /// Runs `script` (which returns a pipeline template) over three requests to
    /// `/0`..`/2` with hosts `a`..`c`, then gives the text of `check`, and how many
    /// events were left spare.
    fn run(script: &str, check: &str) -> (String, usize) {
        let heads = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, host)| request(i, &[("Host", host), ("Cookie", &format!("n={i}"))]))
            .collect();
        let (out, spare, _) = run_heads(script, check, heads);
        (out, spare)
    }

    /// As [`run`], over `heads`; also gives the heads that came out of the pipeline.
    fn run_heads(script: &str, check: &str, heads: Vec<RequestHead>) -> (String, usize, Vec<Head>) {
        let mut ctx = js::new_context().unwrap();
        let template = ctx.eval(Source::from_bytes(script)).unwrap();
        let layout = js::pipeline::template_layout(&template).unwrap();
        js::install(Rc::new(RefCell::new(ctx)));
        let out = Rc::new(RefCell::new(Vec::new()));
        let sink = out.clone();
        let collect = move |e: Event| {
            if let Event::MessageStart(h) = e {
                sink.borrow_mut().push(h)
            }
        };
        let p = Pipeline::new(layout, Context::root(), Rc::new(collect));
        p.start(&[]);
        for head in heads {
            p.input(Event::MessageStart(Head::Request(Rc::new(head))));
            p.input(Event::MessageEnd(JsValue::undefined()));
        }
        let text = js::with_js(|ctx| {
            let v = ctx.eval(Source::from_bytes(check)).unwrap();
            v.to_string(ctx).unwrap().to_std_string_escaped()
        })
        .unwrap();
        let spare = super::SPARE.with(|s| s.borrow().len());
        drop(p);
        js::uninstall();
        let heads = out.borrow().clone();
        (text, spare, heads)
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

    #[test]
    fn headers_show_each_request_s_names_after_reuse() {
        let heads = vec![
            request(0, &[("Host", "a"), ("Cookie", "n=0")]),
            request(1, &[("Host", "b"), ("Cookie", "n=1")]),
            request(2, &[("Host", "c"), ("Accept", "x"), ("Connection", "close"), ("ACCEPT", "y")]),
        ];
        let script = "var seen = []; pipeline($=>$.handleMessageStart(({ head }) => {
            var names = []; for (var n in head.headers) names.push(n);
            seen.push([Object.keys(head.headers).join('+'), names.join('+'), JSON.stringify(head.headers),
                Object.entries(head.headers).length, 'host' in head.headers, head.headers.connection].join(' '));
        }))";
        let (seen, spare, _) = run_heads(script, "seen.join()", heads);
        assert_eq!(
            seen,
            "host+cookie host+cookie {\"host\":\"a\",\"cookie\":[\"n=0\"]} 2 true ,\
             host+cookie host+cookie {\"host\":\"b\",\"cookie\":[\"n=1\"]} 2 true ,\
             host+accept host+accept {\"host\":\"c\",\"accept\":\"y\"} 2 true "
        );
        assert_eq!(spare, 1);
    }

    #[test]
    fn a_head_serialises_with_every_field() {
        let script = "var seen = []; pipeline($=>$.handleMessageStart(({ head }) => {
            var keys = []; for (var k in head) keys.push(k);
            seen.push(JSON.stringify(head) + ' ' + keys.join('+'));
        }))";
        let (seen, _) = run(script, "seen[2]");
        assert_eq!(
            seen,
            r#"{"protocol":"HTTP/1.1","method":"GET","path":"/2","headers":{"host":"c","cookie":["n=2"]},"headerNames":{"host":"Host","cookie":"Cookie"}} protocol+method+path+headers+headerNames"#
        );
    }

    #[test]
    fn changed_heads_flow_on_and_untouched_ones_stay_the_rust_heads() {
        let script = "var seen = []; pipeline($=>$
            .handleMessageStart(({ head }) => {
                if (head.path == '/1') { head.headers.host = 'w'; head.headers['x-new'] = '1' }
                if (head.path == '/2') { head.path = '/x' }
            })
            .handleMessageStart(({ head }) => {
                seen.push([head.path, head.headers.host, head.headers['x-new'], Object.keys(head).join('+')].join(' '))
            }))";
        let heads: Vec<_> =
            ["a", "b", "c"].iter().enumerate().map(|(i, h)| request(i, &[("Host", h), ("Cookie", "n")])).collect();
        let (seen, _, out) = run_heads(script, "seen.join()", heads);
        assert_eq!(seen, "/0 a  ,/1 w 1 ,/x c  path");
        let kinds: Vec<&str> = out
            .iter()
            .map(|h| match h {
                Head::Request(_) => "rust",
                Head::Js(_) => "js",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["rust", "js", "js"]);
    }

    #[test]
    fn what_a_callback_kept_outlives_the_requests_after_it() {
        let script = "var seen = [], head0, headers0; pipeline($=>$.handleMessageStart(({ head }) => {
            if (!head0) { head0 = head; return }
            if (!headers0) headers0 = head.headers;
            seen.push(head.path + ' ' + head.headers.host);
        }))";
        let check = "[seen.join(), head0.path, head0.headers.host, Object.keys(head0.headers).join('+'), headers0.host].join(' ')";
        let (seen, _) = run(script, check);
        assert_eq!(seen, "/1 b,/2 c /0 a host+cookie b");
    }

    /// A proxy's thread sees requests and responses in turn (a fork decoding each way): each
    /// kind's event and head come back for the next message of that kind, new connections
    /// included, instead of each taking the other's spare and building a new head.
    #[test]
    fn requests_and_responses_in_turn_each_reuse_their_own_spare() {
        let mut ctx = js::new_context().unwrap();
        let script =
            "var seen = []; pipeline($=>$.handleMessageStart(({ head }) => { seen.push(head.path || head.status) }))";
        let template = ctx.eval(Source::from_bytes(script)).unwrap();
        let layout = js::pipeline::template_layout(&template).unwrap();
        js::install(Rc::new(RefCell::new(ctx)));
        let response = |status| ResponseHead {
            protocol: "HTTP/1.1".into(),
            status,
            status_text: "OK".into(),
            headers: vec![Header::new("Content-Length", "0")],
        };
        let mut made = Vec::new();
        for i in 0..3 {
            // A connection's two pipelines, as the sample's two forks are.
            let (req, res) = (
                Pipeline::new(layout.clone(), Context::root(), Rc::new(|_| {})),
                Pipeline::new(layout.clone(), Context::root(), Rc::new(|_| {})),
            );
            req.start(&[]);
            res.start(&[]);
            req.input(Event::MessageStart(Head::Request(Rc::new(request(i, &[("Host", "a")])))));
            res.input(Event::MessageStart(Head::Response(Rc::new(response(200 + i as u16)))));
            made.push(super::SPARE.with(|s| {
                // Addresses, not references: holding a head would count as the script keeping it.
                let head =
                    |o: &JsObject| o.downcast_ref::<MessageStart>().unwrap().head.as_object().map(|h| format!("{h:?}"));
                s.borrow().iter().map(head).collect::<Vec<_>>()
            }));
        }
        let seen = js::with_js(|ctx| {
            ctx.eval(Source::from_bytes("seen.join()")).unwrap().to_string(ctx).unwrap().to_std_string_escaped()
        })
        .unwrap();
        js::uninstall();
        assert_eq!(seen, "/0,200,/1,201,/2,202");
        assert_eq!(made[2].len(), 2, "a spare of each kind: {made:?}");
        for round in &made[1..] {
            let same = round.iter().zip(&made[0]).all(|(a, b)| a.is_some() && a == b);
            assert!(same, "the same two head objects every connection: {made:?}");
        }
    }

    #[test]
    fn frozen_or_trimmed_headers_are_not_handed_on() {
        let script = "var seen = []; pipeline($=>$.handleMessageStart(({ head }) => {
            seen.push([Object.isFrozen(head.headers), Object.isFrozen(head), head.headers.host].join(' '));
            if (head.path == '/0') { Object.freeze(head.headers) } else { delete head.headers.host }
        }))";
        let (seen, spare) = run(script, "seen.join()");
        assert_eq!(seen, "false false a,false false b,false false c");
        assert_eq!(spare, 1);
    }
}
