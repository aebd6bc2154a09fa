//! `new http.Agent(host, options?)`: a small HTTP client for scripts.
//! `agent.request(method, path, headers?, body?)` (or `agent.request(message)`) sends one
//! request and returns a promise of the response `Message`.
//!
//! As Pipy builds it (src/api/http.cpp), the agent is a layout of the runtime's own filters:
//! `muxHTTP(options)` to `[connectTLS(options.tls) to] connect(host, options)`, so `options`
//! are those filters' (`maxQueue`, `maxIdle`, `version`, `connectTimeout`, `readTimeout`...).
//! Each request runs a pipeline of that layout; its requests share the agent's sessions
//! (keep-alive: a request after another's response reuses the connection; with Pipy's
//! default `maxQueue: 1` requests at the same time take a connection each, and with
//! `maxQueue: 0` they queue in order on one). `host` without a
//! port gets 80 (443 with `tls`). A `host` header is added when `headers` has none.
//!
//! A connection that fails (refused, unresolved, timed out) gets, as under Pipy, a made-up
//! response from muxHTTP's decoder: `502 Connection Refused`, `504 Gateway Timeout`...
//! (connect's warning names the address). Deviation from Pipy: a request whose pipeline ends
//! with no response at all rejects with an `Error` naming the agent's host and the reason
//! (`http.Agent 127.0.0.1:1: ConnectionReset`), which carries Pipy's rejection (a response
//! head) as `head`, so code reading `e.head.status` works as under Pipy.

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::{JsFunction, JsPromise};
use boa_engine::property::Attribute;
use boa_engine::{
    Context, Finalize, JsData, JsError, JsNativeError, JsResult, JsString, JsValue, NativeFunction, Trace, js_string,
};
use bytes::{Bytes, BytesMut};
use tokio::sync::oneshot;

use crate::codec::http1::RequestHead;
use crate::engine::{self, Event, Head, Layout, Pipeline, StreamError};
use crate::filters::maker;
use crate::js::layout::{self, LayoutBuilder};
use crate::js::message::{self, Message};
use crate::js::{data, type_error, with_js};

#[derive(Trace, Finalize, JsData)]
pub struct Agent {
    #[unsafe_ignore_trace]
    host: String,
    #[unsafe_ignore_trace]
    layout: Rc<Layout>,
}

impl Class for Agent {
    const NAME: &'static str = "Agent";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let host = match args.first() {
            Some(v) if !v.is_null_or_undefined() => v.to_string(ctx)?.to_std_string_escaped(),
            _ => return Err(type_error("http.Agent() takes a host")),
        };
        let options = args.get(1).cloned().unwrap_or_default();
        let tls = match options.as_object() {
            Some(o) => Some(o.get(js_string!("tls"), ctx)?).filter(|t| !t.is_null_or_undefined()),
            None => None,
        };
        let target = target(&host, tls.is_some());
        let layout = build(&host, &target, &options, tls, ctx)?;
        Ok(Agent { host, layout })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(JsString::from("request"), 2, NativeFunction::from_fn_ptr(request));
        Ok(())
    }
}

/// Where to connect: `host` with Pipy's default port when it names none.
fn target(host: &str, tls: bool) -> String {
    let port = if tls { 443 } else { 80 };
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        return format!("[{host}]:{port}");
    }
    match host.rsplit_once(':') {
        Some((name, p)) if !name.is_empty() && p.parse::<u16>().is_ok() => host.to_string(),
        Some((name, "")) => format!("{name}:{port}"),
        _ => format!("{host}:{port}"),
    }
}

fn filter(b: &mut LayoutBuilder, name: &'static str, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let maker = maker(name).expect("a filter of the designer");
    let made = layout::make(name, maker, args, ctx)?;
    b.add(name, made)
}

/// `muxHTTP(() => host, options)` to `[connectTLS(tls) to] connect(target, options)`. The
/// selector keys every request of the agent to the same sessions (without one, a request
/// pipeline with no client connection would be a key of its own).
fn build(host: &str, target: &str, options: &JsValue, tls: Option<JsValue>, ctx: &mut Context) -> JsResult<Rc<Layout>> {
    let mut connect = LayoutBuilder::default();
    filter(&mut connect, "connect", &[JsString::from(target).into(), options.clone()], ctx)?;
    let mut sub = connect.finish("http.Agent connect")?;
    if let Some(tls) = tls {
        let mut b = LayoutBuilder::default();
        filter(&mut b, "connectTLS", &[tls], ctx)?;
        b.to(sub)?;
        sub = b.finish("http.Agent connectTLS")?;
    }
    let key = JsValue::from(JsString::from(host));
    let selector = crate::js::function(ctx, key, |key, _, _, _| Ok(key.clone()));
    let mut b = LayoutBuilder::default();
    filter(&mut b, "muxHTTP", &[selector.into(), options.clone()], ctx)?;
    b.to(sub)?;
    b.finish("http.Agent")
}

/// The request head and body of `request(...)`'s arguments.
fn request_of(host: &str, args: &[JsValue], ctx: &mut Context) -> JsResult<(RequestHead, Bytes)> {
    let first = args.first().cloned().unwrap_or_default();
    if let Some(m) =
        first.as_object().and_then(|o| o.downcast_ref::<Message>().map(|m| (m.head.clone(), m.body.clone())))
    {
        let head = message::js_request_head(&m.0, ctx)?;
        let body = if m.1.is_null_or_undefined() { Vec::new() } else { data::encode(&m.1, None, ctx)? };
        return Ok((with_host(head, host), body.into()));
    }
    let (Some(method), Some(path)) = (args.first(), args.get(1)) else {
        return Err(type_error("http.Agent.request() takes a method and a path, or a Message"));
    };
    let head = ObjectInitializer::new(ctx)
        .property(js_string!("method"), method.clone(), Attribute::all())
        .property(js_string!("path"), path.clone(), Attribute::all())
        .property(js_string!("headers"), args.get(2).cloned().unwrap_or_default(), Attribute::all())
        .build();
    let head = message::js_request_head(&head.into(), ctx)?;
    let body = match args.get(3) {
        None => Vec::new(),
        Some(v) if v.is_undefined() => Vec::new(),
        Some(v) if v.is_string() || data::Data::bytes_of(v).is_some() => data::encode(v, None, ctx)?,
        Some(_) => return Err(type_error("http.Agent.request(): the body is a string or a Data")),
    };
    Ok((with_host(head, host), body.into()))
}

fn with_host(mut head: RequestHead, host: &str) -> RequestHead {
    if !head.headers.iter().any(|h| h.name.eq_ignore_ascii_case("host")) {
        head.headers.insert(0, crate::codec::http1::Header::new("host", host));
    }
    head
}

/// What the request's pipeline gave back.
enum Reply {
    Message(Head, Bytes, JsValue),
    Failed(Option<StreamError>),
}

/// Collects the first whole message of the pipeline's output.
struct Collector {
    head: Option<Head>,
    body: BytesMut,
    tx: Option<oneshot::Sender<Reply>>,
}

impl Collector {
    fn on(&mut self, evt: Event) {
        match evt {
            Event::MessageStart(head) => {
                self.head = Some(head);
                self.body.clear();
            }
            Event::Data(b) if self.head.is_some() => self.body.extend_from_slice(&b),
            Event::Data(_) => {}
            Event::MessageEnd(tail) => {
                if let (Some(head), Some(tx)) = (self.head.take(), self.tx.take()) {
                    let _ = tx.send(Reply::Message(head, self.body.split().freeze(), tail));
                }
            }
            Event::StreamEnd(e) => {
                if let Some(tx) = self.tx.take() {
                    let _ = tx.send(Reply::Failed(Some(e.unwrap_or(StreamError::Code("ConnectionReset")))));
                }
            }
        }
    }
}

/// `agent.request(method, path, headers?, body?)` or `agent.request(message)`.
fn request(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this.as_object().ok_or_else(|| type_error("not an http.Agent"))?;
    let (host, layout) = {
        let a = obj.downcast_ref::<Agent>().ok_or_else(|| type_error("not an http.Agent"))?;
        (a.host.clone(), a.layout.clone())
    };
    let (head, body) = request_of(&host, args, ctx)?;
    let (promise, resolvers) = JsPromise::new_pending(ctx);
    // From a task of its own: the pipeline's filters may call back into the script, which is
    // busy with this call now.
    tokio::task::spawn_local(async move {
        let (tx, rx) = oneshot::channel();
        let collector = RefCell::new(Collector { head: None, body: BytesMut::new(), tx: Some(tx) });
        let sink = move |evt: Event| collector.borrow_mut().on(evt);
        let context = crate::js::state::root().copy(None);
        let p = Pipeline::new(layout, context.clone(), Rc::new(sink));
        p.start(&[]);
        p.input(Event::MessageStart(Head::Request(Rc::new(head))));
        if !body.is_empty() {
            p.input(Event::Data(body));
        }
        p.input(Event::MessageEnd(JsValue::undefined()));
        let reply = rx.await.unwrap_or(Reply::Failed(None));
        drop(p);
        settle(&context, &host, reply, resolvers.resolve, resolvers.reject);
    });
    Ok(promise.into())
}

fn settle(context: &Rc<engine::Context>, host: &str, reply: Reply, resolve: JsFunction, reject: JsFunction) {
    crate::js::in_context(context, || {
        with_js(|ctx| {
            let r = match reply {
                Reply::Message(head, body, tail) => message::collected(&head, &body, tail, ctx)
                    .and_then(|m| resolve.call(&JsValue::undefined(), &[m], ctx)),
                Reply::Failed(e) => {
                    let e = rejection(host, e, ctx);
                    reject.call(&JsValue::undefined(), &[e], ctx)
                }
            };
            if let Err(e) = r {
                tracing::error!(target: "http", "http.Agent {host}: {}", crate::js::describe(&e, ctx));
            }
            let _ = ctx.run_jobs();
        })
    });
}

/// An `Error` naming the host and the reason, with Pipy's rejection (a response head) as `head`.
fn rejection(host: &str, e: Option<StreamError>, ctx: &mut Context) -> JsValue {
    let reason = e.as_ref().map_or_else(|| "no response".to_string(), |e| e.name());
    let (status, text) = match e.as_ref().map(|e| e.name()).as_deref() {
        Some("CannotResolve") => (502, "Cannot Resolve"),
        Some("ConnectionRefused") => (502, "Connection Refused"),
        Some("Unauthorized") => (401, "Unauthorized"),
        Some("ReadError") => (502, "Read Error"),
        Some("WriteError") => (502, "Write Error"),
        Some("ConnectionTimeout" | "ReadTimeout" | "WriteTimeout" | "IdleTimeout") => (504, "Gateway Timeout"),
        _ => (502, "Bad Gateway"),
    };
    let error: JsError = JsNativeError::error().with_message(format!("http.Agent {host}: {reason}")).into();
    let error =
        error.into_opaque(ctx).unwrap_or_else(|_| JsString::from(format!("http.Agent {host}: {reason}")).into());
    let head = ObjectInitializer::new(ctx)
        .property(js_string!("status"), status, Attribute::all())
        .property(js_string!("statusText"), JsString::from(text), Attribute::all())
        .build();
    if let Some(o) = error.as_object() {
        let _ = o.set(js_string!("head"), head, false, ctx);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::target;

    #[test]
    fn a_host_without_a_port_gets_the_default_one() {
        assert_eq!(target("example.com", false), "example.com:80");
        assert_eq!(target("example.com", true), "example.com:443");
        assert_eq!(target("127.0.0.1:8080", false), "127.0.0.1:8080");
        assert_eq!(target("::1", false), "[::1]:80");
        assert_eq!(target("[::1]:81", true), "[::1]:81");
        assert_eq!(target("127.0.0.1:", false), "127.0.0.1:80");
    }
}
