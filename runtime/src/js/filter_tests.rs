//! Filters made and driven through the real JS host: made from script arguments as the
//! designer makes them, fed script heads and script callbacks. The filters' own tests use the
//! stub host, which cannot read a script's objects.

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, JsValue, Source, js_string};
use bytes::Bytes;

use crate::engine::{Context as PipelineContext, Event, FilterSpec, Head, Layout, Pipeline};
use crate::filters::{self, Made};

/// Filter `name` made from the script expression `args` (an array), as `$.name(...args)`.
fn filter(name: &'static str, args: &str, ctx: &mut Context) -> Box<dyn FilterSpec> {
    let maker = filters::maker(name).expect("a filter of that name");
    let args = values(args, ctx);
    match super::layout::make(name, maker, &args, ctx).unwrap() {
        Made::Filter(spec) => spec,
        Made::Joint(_) => panic!("{name} is a joint filter"),
    }
}

/// The elements of the script array `src`.
fn values(src: &str, ctx: &mut Context) -> Vec<JsValue> {
    let array = ctx.eval(Source::from_bytes(src)).unwrap();
    let array = JsArray::from_object(array.as_object().unwrap().clone()).unwrap();
    (0..array.length(ctx).unwrap()).map(|i| array.get(i, ctx).unwrap()).collect()
}

/// Installs `ctx` as the worker's script engine, as a worker does once its script has run.
fn install(ctx: Context) {
    super::install(Rc::new(RefCell::new(ctx)));
}

/// Runs `input` through a pipeline of `spec` alone; one line per output event.
fn run(spec: Box<dyn FilterSpec>, input: Vec<Event>) -> Vec<String> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = seen.clone();
    let layout =
        Layout { name: "test".into(), on_start: None, on_end: None, filters: vec![spec], ..Default::default() };
    let p = Pipeline::new(Rc::new(layout), PipelineContext::root(), Rc::new(move |e: Event| sink.borrow_mut().push(e)));
    p.start(&[]);
    input.into_iter().for_each(|e| p.input(e));
    seen.borrow().iter().map(line).collect()
}

fn line(e: &Event) -> String {
    match e {
        Event::MessageStart(Head::Request(h)) => format!("start {} {}", h.method, h.path),
        Event::MessageStart(Head::Js(h)) => {
            let path = super::with_js(|ctx| h.as_object().unwrap().get(js_string!("path"), ctx).unwrap());
            format!("start js {}", path.unwrap().display())
        }
        Event::Data(b) => format!("data {}", String::from_utf8_lossy(b)),
        Event::MessageEnd(t) => format!("end {}", t.display()),
        Event::StreamEnd(e) => format!("stream end {:?}", e.as_ref().map(|e| e.name())),
        other => other.type_name().to_string(),
    }
}

fn data(s: &'static str) -> Event {
    Event::Data(Bytes::from_static(s.as_bytes()))
}

#[test]
fn encode_http_request_writes_script_heads_and_chunks_over_the_buffer_size() {
    let mut ctx = super::new_context().unwrap();
    let spec = filter("encodeHTTPRequest", "[{ bufferSize: '0.002k' }]", &mut ctx);
    let head = ctx
        .eval(Source::from_bytes(
            "({ method: 'PUT', headers: { 'content-type': 'text/plain', connection: 'close' }, \
             headerNames: { 'content-type': 'Content-Type' } })",
        ))
        .unwrap();
    install(ctx);
    let end = || Event::MessageEnd(JsValue::undefined());
    let out = run(spec, vec![Event::MessageStart(Head::Js(head)), data("a"), data("bc"), data("d"), end()]);
    assert_eq!(
        out,
        [
            "start js undefined",
            "data PUT / HTTP/1.1\r\nContent-Type: text/plain\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
            "data 3\r\nabc\r\n",
            "data 1\r\nd\r\n",
            "data 0\r\n\r\n",
            "end undefined",
        ]
    );
}

#[test]
fn decode_http_request_hands_each_head_to_its_handler_and_passes_its_changes_on() {
    let mut ctx = super::new_context().unwrap();
    let rewrite =
        filter("decodeHTTPRequest", "[(h) => { h.path = h.method + ':' + h.headers.host; return 42 }]", &mut ctx);
    let throws = filter("decodeHTTPRequest", "[(h) => { throw new Error('no ' + h.method) }]", &mut ctx);
    install(ctx);
    let out = run(rewrite, vec![data("GET / HTTP/1.1\r\nHost: a\r\n\r\nPUT / HTTP/1.1\r\nHost: b\r\n\r\n")]);
    assert_eq!(out, [r#"start js "GET:a""#, "end undefined", r#"start js "PUT:b""#, "end undefined"]);

    let out = run(throws, vec![data("GET / HTTP/1.1\r\n\r\n"), data("GET / HTTP/1.1\r\n\r\n"), Event::end()]);
    assert_eq!(out.len(), 1);
    assert!(out[0].starts_with("stream end Some(") && out[0].contains("no GET"), "{out:?}");
}

#[test]
fn filter_arguments_are_checked_when_the_layout_is_built() {
    let mut ctx = super::new_context().unwrap();
    let fails = |name: &'static str, args: &str, ctx: &mut Context| {
        let maker = filters::maker(name).unwrap();
        let args = values(args, ctx);
        let e = super::layout::make(name, maker, &args, ctx).err().expect("an error");
        e.as_native().map(|n| n.message().to_string()).unwrap_or_default()
    };
    assert_eq!(fails("connect", "[42]", &mut ctx), "connect() takes a target 'host:port' or a function returning one");
    assert_eq!(
        fails("connect", "['a:1', { idleTimeout: 'soon' }]", &mut ctx),
        "connect(): option idleTimeout: invalid duration: soon"
    );
    assert_eq!(fails("connect", "['a:1', { protocol: 'sctp' }]", &mut ctx), "connect(): unknown protocol: sctp");
    assert_eq!(fails("compress", "['zip']", &mut ctx), "compress(): unknown compression algorithm: zip");
    assert_eq!(fails("handleMessageStart", "[1]", &mut ctx), "handleMessageStart() takes a function");
    assert!(fails("replaceMessage", "[42]", &mut ctx).starts_with("replaceMessage(): "));
    assert_eq!(
        fails("throttleDataRate", "[{}]", &mut ctx),
        "throttleDataRate() takes an algo.Quota or a function returning one"
    );
    assert_eq!(fails("muxHTTP", "[{ maxIdle: 'x' }]", &mut ctx), "muxHTTP(): option maxIdle: invalid duration: x");
}
