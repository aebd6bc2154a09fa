//! What the engine needs from a script host, and the host a worker installed.
//!
//! The engine runs pipelines; scripts decide. Whenever a pipeline or a filter has to ask the
//! script (an `onStart` callback, a promise to wait for, a value to turn into events), it
//! goes through [`Host`]. The JS layer implements it for Boa and installs it when a worker
//! starts; tests install a stub and run filters with no JS engine at all.

use std::cell::RefCell;
use std::rc::Rc;

use super::quota::Bucket;
use super::{Context, Event, Head, Inbound};
use crate::codec::http1::{Header, RequestHead, ResponseHead};
use crate::codec::tree::Tree;

/// A script value, carried by events and filter specs without the engine looking inside.
/// It is Boa's value type because converting every payload to a neutral one would cost a copy
/// per event for the one host there is.
pub type Value = boa_engine::JsValue;

/// A script function, as held by filter specs.
pub type Callback = boa_engine::JsObject;

/// A TLS certificate chain (DER, leaf first) and its private key (DER).
pub type CertificatePair = (Vec<Vec<u8>>, Vec<u8>);

/// A settled promise: its value, or the error message.
pub type Settled = Box<dyn FnOnce(Result<Value, String>)>;

pub trait Host {
    /// Calls `f(args)` with `context` as the current pipeline context.
    fn call(&self, context: &Rc<Context>, f: &Callback, args: &[Value]) -> Result<Value, String>;

    /// Whether `v` is a promise to wait for.
    fn is_promise(&self, v: &Value) -> bool;

    /// Runs `done` once `promise` settles, from its own task (never inside the script job that
    /// settled it, so `done` may call into the host again).
    fn on_settled(&self, promise: &Value, context: &Rc<Context>, done: Settled);

    /// The events a value stands for (an event, a message, or an array of them).
    fn to_events(&self, v: &Value) -> Result<Vec<Event>, String>;

    /// The elements of `v` if it is an array.
    fn to_list(&self, v: &Value) -> Option<Vec<Value>>;

    /// The value a callback is handed for a message head.
    fn head_value(&self, head: &Head) -> Result<Value, String>;

    /// The value a callback is handed for one event.
    fn event_value(&self, evt: &Event) -> Result<Value, String>;

    /// Hands back a value from [`Host::event_value`] once the callback it was made for has
    /// returned: the host may reuse it for a later event if the script did not keep it.
    fn recycle(&self, _value: Value) {}

    /// The head a `MessageStart` value carries now, which the script may have edited.
    fn head_of(&self, event: &Value) -> Option<Head>;

    /// The value a callback is handed for a whole message a filter collected.
    fn message_value(&self, head: &Head, body: &[u8], tail: Value) -> Result<Value, String>;

    /// The tail of a `MessageEnd` whose message ended with trailer fields: `{ headers }`,
    /// where Pipy's HTTP/2 decoder puts them.
    fn tail_value(&self, trailers: &[Header]) -> Result<Value, String>;

    /// The trailer fields a `MessageEnd`'s tail carries in its `headers`, if any.
    fn trailers_of(&self, tail: &Value) -> Vec<Header>;

    /// The text of a value (a `connect` target, a session key).
    fn to_text(&self, v: &Value) -> Result<String, String>;

    /// The argument a listener pipeline's `onStart` callback gets for its connection.
    fn inbound_value(&self, inbound: &Rc<Inbound>) -> Result<Value, String>;

    /// Runs `f` now if the host is not in the middle of a call, else right after it returns.
    fn when_free(&self, f: Box<dyn FnOnce()>);

    /// Runs the script's collection callbacks (`stats.Gauge`'s third argument), just before
    /// the admin port answers `/metrics`.
    fn collect_metrics(&self) {}

    /// A plain object with these fields, for a callback's argument.
    fn object(&self, fields: &[(&str, Value)]) -> Result<Value, String>;

    /// The value of header `name` (lower case) in a script's head object.
    fn script_header(&self, head: &Value, name: &str) -> Option<String>;

    /// Sets header `name` (lower case) of a script's head object, or deletes it for `None`;
    /// a head that is not an object is replaced by a new one. Returns the head.
    fn set_script_header(&self, head: &Value, name: &str, value: Option<&str>) -> Value;

    /// A head read as a request, with Pipy's defaults for what a script's head lacks.
    fn request_head(&self, head: &Head) -> Rc<RequestHead>;

    /// A head read as a response, with Pipy's defaults for what a script's head lacks.
    fn response_head(&self, head: &Head) -> Rc<ResponseHead>;

    /// The token bucket of an `algo.Quota` value (what a throttle's function returned).
    fn quota_of(&self, v: &Value) -> Option<Rc<Bucket>>;

    /// The number in field `name` of a script's head object (a netlink head's `type`), if
    /// it has one.
    fn head_number(&self, _head: &Value, _name: &str) -> Option<f64> {
        None
    }

    /// The own enumerable fields of an object value (an `exec` filter's `env`); `None` for
    /// anything else.
    fn fields(&self, _v: &Value) -> Option<Vec<(String, Value)>> {
        None
    }

    /// The hub of a `pipeline.Hub` value (what `swap` joins), if it is one.
    fn hub_of(&self, _v: &Value) -> Option<Rc<super::hub::Hub>> {
        None
    }

    /// The layout of a pipeline value (what `pipeline(...)` made), if it is one.
    fn layout_of(&self, _v: &Value) -> Option<Rc<super::Layout>> {
        None
    }

    /// An array of these values, for a callback's argument.
    fn array(&self, _items: &[Value]) -> Result<Value, String> {
        Err("no arrays in this host".into())
    }

    /// The DER certificates and the DER private key of a TLS `{ cert, key }` (`cert` a
    /// `crypto.Certificate` or `CertificateChain`, `key` a `crypto.PrivateKey`); `None` for
    /// null or undefined.
    fn certificate_pair(&self, _v: &Value) -> Result<Option<CertificatePair>, String> {
        Err("no certificates in this host".into())
    }

    /// The DER certificates of a `crypto.Certificate` or `crypto.CertificateChain`.
    fn certificates(&self, _v: &Value) -> Result<Vec<Vec<u8>>, String> {
        Err("no certificates in this host".into())
    }

    /// A `crypto.Certificate` for a DER certificate (a TLS peer's).
    fn certificate_value(&self, _der: &[u8]) -> Result<Value, String> {
        Err("no certificates in this host".into())
    }

    /// A decoded message's tree as a script value (hosts without values refuse).
    fn tree_value(&self, _tree: &Tree) -> Result<Value, String> {
        Err("no script values on this host".into())
    }

    /// A script value as a tree, for an encoder (functions and other objects become their
    /// own fields, or `Undefined`).
    fn value_tree(&self, _v: &Value) -> Tree {
        Tree::Undefined
    }

    /// Field `name` of an object a function returned (`undefined` if absent or not an
    /// object): `connectProxyProtocol`'s addresses.
    fn field(&self, v: &Value, name: &str) -> Value;
}

/// What a host's `request_head`/`response_head` do with a head that is already Rust.
pub fn rust_request_head(head: &Head) -> Option<Rc<RequestHead>> {
    match head {
        Head::Request(r) => Some(r.clone()),
        _ => None,
    }
}

/// See [`rust_request_head`].
pub fn rust_response_head(head: &Head) -> Option<Rc<ResponseHead>> {
    match head {
        Head::Response(r) => Some(r.clone()),
        _ => None,
    }
}

thread_local! {
    static HOST: RefCell<Option<Rc<dyn Host>>> = const { RefCell::new(None) };
}

/// Makes `host` the one this thread's pipelines ask.
pub fn install(host: Rc<dyn Host>) {
    HOST.with(|h| *h.borrow_mut() = Some(host));
}

/// Drops this thread's host (at worker teardown, before the script engine goes).
pub fn uninstall() {
    HOST.with(|h| h.borrow_mut().take());
}

/// This thread's host. Without one, every request to the script fails with a clear message.
pub fn host() -> Rc<dyn Host> {
    HOST.with(|h| h.borrow().clone()).unwrap_or_else(|| Rc::new(NoHost))
}

/// Stands in where no script host was installed: nothing can be called.
struct NoHost;

const NO_HOST: &str = "no script host on this thread";

impl Host for NoHost {
    fn call(&self, _: &Rc<Context>, _: &Callback, _: &[Value]) -> Result<Value, String> {
        Err(NO_HOST.into())
    }
    fn is_promise(&self, _: &Value) -> bool {
        false
    }
    fn on_settled(&self, _: &Value, _: &Rc<Context>, done: Settled) {
        done(Err(NO_HOST.into()))
    }
    fn to_events(&self, _: &Value) -> Result<Vec<Event>, String> {
        Err(NO_HOST.into())
    }
    fn to_list(&self, _: &Value) -> Option<Vec<Value>> {
        None
    }
    fn head_value(&self, _: &Head) -> Result<Value, String> {
        Err(NO_HOST.into())
    }
    fn event_value(&self, _: &Event) -> Result<Value, String> {
        Err(NO_HOST.into())
    }
    fn head_of(&self, _: &Value) -> Option<Head> {
        None
    }
    fn message_value(&self, _: &Head, _: &[u8], _: Value) -> Result<Value, String> {
        Err(NO_HOST.into())
    }
    fn tail_value(&self, _: &[Header]) -> Result<Value, String> {
        Err(NO_HOST.into())
    }
    fn trailers_of(&self, _: &Value) -> Vec<Header> {
        Vec::new()
    }
    fn to_text(&self, _: &Value) -> Result<String, String> {
        Err(NO_HOST.into())
    }
    fn inbound_value(&self, _: &Rc<Inbound>) -> Result<Value, String> {
        Err(NO_HOST.into())
    }
    fn when_free(&self, f: Box<dyn FnOnce()>) {
        f()
    }
    fn object(&self, _: &[(&str, Value)]) -> Result<Value, String> {
        Err(NO_HOST.into())
    }
    fn script_header(&self, _: &Value, _: &str) -> Option<String> {
        None
    }
    fn set_script_header(&self, head: &Value, _: &str, _: Option<&str>) -> Value {
        head.clone()
    }
    fn request_head(&self, head: &Head) -> Rc<RequestHead> {
        rust_request_head(head).unwrap_or_default()
    }
    fn response_head(&self, head: &Head) -> Rc<ResponseHead> {
        rust_response_head(head).unwrap_or_default()
    }
    fn quota_of(&self, _: &Value) -> Option<Rc<Bucket>> {
        None
    }
    fn field(&self, _: &Value, _: &str) -> Value {
        Value::undefined()
    }
}

/// The `StreamEnd` a filter emits when a script callback failed with `message`.
pub fn runtime_error(message: String) -> Event {
    Event::StreamEnd(Some(super::StreamError::Value(Value::from(boa_engine::JsString::from(message)))))
}

/// A host for tests of filters: no script engine, every callback "returns" `undefined`,
/// and what the filters asked for is recorded.
#[cfg(test)]
pub mod stub {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    use super::{Callback, Host, Settled, Value};
    use crate::codec::http1::{Header, RequestHead, ResponseHead};
    use crate::engine::quota::Bucket;
    use crate::engine::{Context, Event, Filter, FilterEnv, FilterSpec, Head, Inbound, Layout, Output, Pipeline};

    #[derive(Default)]
    pub struct StubHost {
        /// One line per request: `call`, `event MessageStart`, ...
        pub log: RefCell<Vec<String>>,
        /// What the next calls return, in order; `undefined` once none are left.
        pub returns: RefCell<VecDeque<Value>>,
        /// The events the next values turned into events stand for, in order; none once
        /// none are left.
        pub events: RefCell<VecDeque<Vec<Event>>>,
    }

    impl StubHost {
        /// Installs a fresh stub as this thread's host and returns it.
        pub fn install() -> Rc<StubHost> {
            let stub = Rc::new(StubHost::default());
            super::install(stub.clone());
            stub
        }

        /// A callback to put in a filter spec; the stub never runs it.
        pub fn callback() -> Callback {
            Callback::with_null_proto()
        }

        fn note(&self, line: String) {
            self.log.borrow_mut().push(line);
        }
    }

    impl Host for StubHost {
        fn call(&self, _: &Rc<Context>, _: &Callback, args: &[Value]) -> Result<Value, String> {
            self.note(format!("call/{}", args.len()));
            Ok(self.returns.borrow_mut().pop_front().unwrap_or_default())
        }
        fn is_promise(&self, _: &Value) -> bool {
            false
        }
        fn on_settled(&self, _: &Value, _: &Rc<Context>, done: Settled) {
            done(Ok(Value::undefined()))
        }
        fn to_events(&self, _: &Value) -> Result<Vec<Event>, String> {
            Ok(self.events.borrow_mut().pop_front().unwrap_or_default())
        }
        fn to_list(&self, _: &Value) -> Option<Vec<Value>> {
            None
        }
        fn head_value(&self, _: &Head) -> Result<Value, String> {
            Ok(Value::undefined())
        }
        fn event_value(&self, evt: &Event) -> Result<Value, String> {
            self.note(format!("event {}", evt.type_name()));
            Ok(Value::undefined())
        }
        fn head_of(&self, _: &Value) -> Option<Head> {
            None
        }
        fn message_value(&self, _: &Head, body: &[u8], _: Value) -> Result<Value, String> {
            self.note(format!("message {}", body.len()));
            Ok(Value::undefined())
        }
        fn tail_value(&self, trailers: &[Header]) -> Result<Value, String> {
            self.note(format!("tail {}", trailers.len()));
            Ok(Value::undefined())
        }
        fn trailers_of(&self, _: &Value) -> Vec<Header> {
            Vec::new()
        }
        /// A string's text; anything else is empty.
        fn to_text(&self, v: &Value) -> Result<String, String> {
            Ok(v.as_string().map(|s| s.to_std_string_escaped()).unwrap_or_default())
        }
        fn inbound_value(&self, _: &Rc<Inbound>) -> Result<Value, String> {
            Ok(Value::undefined())
        }
        fn when_free(&self, f: Box<dyn FnOnce()>) {
            f()
        }
        fn object(&self, fields: &[(&str, Value)]) -> Result<Value, String> {
            self.note(format!("object {}", fields.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(",")));
            Ok(Value::undefined())
        }
        fn script_header(&self, _: &Value, _: &str) -> Option<String> {
            None
        }
        fn set_script_header(&self, head: &Value, name: &str, value: Option<&str>) -> Value {
            self.note(format!("set {name} {value:?}"));
            head.clone()
        }
        fn request_head(&self, head: &Head) -> Rc<RequestHead> {
            super::rust_request_head(head).unwrap_or_default()
        }
        fn response_head(&self, head: &Head) -> Rc<ResponseHead> {
            super::rust_response_head(head).unwrap_or_default()
        }
        fn quota_of(&self, _: &Value) -> Option<Rc<Bucket>> {
            None
        }
        fn field(&self, _: &Value, name: &str) -> Value {
            self.note(format!("field {name}"));
            self.returns.borrow_mut().pop_front().unwrap_or_default()
        }
    }

    /// A layout of `filters`, as a filter's sub-pipeline or a test's pipeline.
    pub fn layout(filters: Vec<Box<dyn FilterSpec>>) -> Rc<Layout> {
        Rc::new(Layout { name: "test".into(), on_start: None, on_end: None, filters, ..Default::default() })
    }

    /// Runs `filters` as a pipeline over `input`; returns what reached its end, described.
    pub fn run(filters: Vec<Box<dyn FilterSpec>>, input: Vec<Event>) -> Vec<String> {
        let out = Rc::new(RefCell::new(Vec::new()));
        let sink = out.clone();
        let p = Pipeline::new(layout(filters), Context::root(), Rc::new(move |e: Event| sink.borrow_mut().push(e)));
        p.start(&[]);
        input.into_iter().for_each(|e| p.input(e));
        out.borrow().iter().map(describe).collect()
    }

    /// An event as tests compare it: its type, and a `Data`'s bytes.
    pub fn describe(evt: &Event) -> String {
        match evt {
            Event::Data(b) => format!("Data {}", String::from_utf8_lossy(b)),
            Event::StreamEnd(Some(_)) => "StreamEnd error".into(),
            e => e.type_name().into(),
        }
    }

    /// A filter that writes each event it sees, described, into a shared list, after a
    /// `mark`, and passes it on: what a sub-pipeline was given.
    pub struct Record(pub &'static str, pub Rc<RefCell<Vec<String>>>);

    impl FilterSpec for Record {
        fn name(&self) -> &'static str {
            "record"
        }

        fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
            Box::new(Record(self.0, self.1.clone()))
        }
    }

    impl Filter for Record {
        fn process(&mut self, evt: Event, out: &mut Output<'_>) {
            self.1.borrow_mut().push(format!("{}: {}", self.0, describe(&evt)));
            out.emit(evt);
        }
    }

    /// Queued answers for [`Answer`]: the events each `Data` it is given is answered with.
    pub type Answers = Rc<RefCell<VecDeque<Vec<Event>>>>;

    /// A stand-in server for filters that speak a handshake with their sub-pipeline: writes
    /// each event it is given, described, into a shared list after a `mark`, and answers
    /// each `Data` with the next queued answer (nothing once none are left); other events
    /// come back unchanged, as a server closing too.
    pub struct Answer(pub &'static str, pub Rc<RefCell<Vec<String>>>, pub Answers);

    impl FilterSpec for Answer {
        fn name(&self) -> &'static str {
            "answer"
        }

        fn instantiate(&self, _: FilterEnv) -> Box<dyn Filter> {
            Box::new(Answer(self.0, self.1.clone(), self.2.clone()))
        }
    }

    impl Filter for Answer {
        fn process(&mut self, evt: Event, out: &mut Output<'_>) {
            self.1.borrow_mut().push(format!("{}: {}", self.0, describe(&evt)));
            match evt {
                Event::Data(_) => self.2.borrow_mut().pop_front().into_iter().flatten().for_each(|e| out.emit(e)),
                evt => out.emit(evt),
            }
        }
    }
}
