//! `ListenerArray`: a set of listening addresses that a legacy `pipy().listen(array)` serves
//! with one pipeline, and that the script may change while it runs, as Pipy's:
//! `new ListenerArray(listeners?, options?)`, `set(listeners)`, `add(port, options?)`,
//! `remove(port, options?)`. A listener is a port number (on 0.0.0.0), an `'ip:port'`
//! string, or (in `set`) an object `{ port, protocol, maxConnections, idleTimeout }`; the
//! options default to the constructor's. Once listened, each change opens or closes the
//! worker's listeners at once.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::listen_options::ListenOptions;
use super::state;
use super::type_error;
use crate::engine::Layout;
use crate::net::listener::{self, Transport};

/// The addresses and, once listened, the pipeline they serve.
pub struct Inner {
    /// The constructor's options (with no address of their own).
    defaults: ListenOptions,
    entries: Vec<ListenOptions>,
    layout: Option<Rc<Layout>>,
}

pub type Shared = Rc<RefCell<Inner>>;

#[derive(Trace, Finalize, JsData)]
pub struct ListenerArray {
    #[unsafe_ignore_trace]
    inner: Shared,
}

/// The array behind a script value, if it is one.
pub fn of(value: &JsValue) -> Option<Shared> {
    value.as_object()?.downcast_ref::<ListenerArray>().map(|l| l.inner.clone())
}

/// Serves `layout` on every address of the array from now on (`pipy().listen(array)`).
pub fn apply(inner: &Shared, layout: Rc<Layout>) -> Result<(), String> {
    let mut a = inner.borrow_mut();
    if a.layout.is_some() {
        return Err("ListenerArray is being listened already".into());
    }
    a.entries.iter().for_each(|e| state::listen(e.spec(layout.clone())));
    a.layout = Some(layout);
    Ok(())
}

/// Pipy's `ip:port` check, with its messages.
fn ip_port(s: &str) -> JsResult<SocketAddr> {
    let (ip, port) = s.rsplit_once(':').ok_or_else(|| type_error(format!("invalid 'ip:port' form: {s}")))?;
    let port: u16 = port.parse().map_err(|_| type_error(format!("invalid 'ip:port' form: {s}")))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = ip.parse().map_err(|_| type_error(format!("invalid IP address: {ip}")))?;
    Ok(SocketAddr::new(ip, port))
}

/// A port number or an `'ip:port'` string.
fn address(port: &JsValue) -> JsResult<SocketAddr> {
    if let Some(n) = port.as_number() {
        return listener::port_only(n as u32).map_err(type_error);
    }
    match port.as_string() {
        Some(s) => ip_port(&s.to_std_string_escaped()),
        None => Err(type_error("argument #1 expects a number or string")),
    }
}

/// An element of `set`'s array, numbered from 0 in errors as Pipy numbers them.
fn element(v: &JsValue, i: usize, defaults: &ListenOptions, ctx: &mut Context) -> JsResult<ListenOptions> {
    if v.is_number() || v.is_string() {
        // Pipy listens on TCP for a bare port, whatever the default options say.
        let mut o = defaults.at(address(v)?);
        o.protocol = Transport::Tcp;
        return Ok(o);
    }
    let Some(obj) = v.as_object() else {
        return Err(type_error(format!("invalid value type for a listening port in element {i}")));
    };
    let port = obj.get(js_string!("port"), ctx)?;
    if !port.is_number() && !port.is_string() {
        return Err(type_error(format!("invalid value type for the port property in element {i}")));
    }
    ListenOptions::read(address(&port)?, Transport::Tcp, Some(&obj), ctx)
}

fn inner_of(this: &JsValue) -> JsResult<Shared> {
    of(this).ok_or_else(|| type_error("this is not a ListenerArray"))
}

/// Replaces the addresses with `list` (none for `null`/`undefined`).
fn set(inner: &Shared, list: &JsValue, ctx: &mut Context) -> JsResult<()> {
    let defaults = inner.borrow().defaults.clone();
    let mut entries: Vec<ListenOptions> = Vec::new();
    if let Some(arr) = list.as_object().filter(|o| o.is_array()) {
        let n = arr.get(js_string!("length"), ctx)?.to_length(ctx)? as usize;
        for i in 0..n {
            let e = element(&arr.get(i, ctx)?, i, &defaults, ctx)?;
            entries.retain(|o| o.addr != e.addr || o.protocol != e.protocol);
            entries.push(e);
        }
    } else if !list.is_null_or_undefined() {
        return Err(type_error("argument #1 expects an array"));
    }
    let mut a = inner.borrow_mut();
    if let Some(layout) = a.layout.clone() {
        for old in &a.entries {
            if !entries.iter().any(|e| e.addr == old.addr && e.protocol == old.protocol) {
                state::unlisten(old.addr, old.protocol);
            }
        }
        entries.iter().for_each(|e| state::listen(e.spec(layout.clone())));
    }
    a.entries = entries;
    Ok(())
}

/// `add` (`adding`) or `remove` of one address.
fn add_or_remove(this: &JsValue, args: &[JsValue], adding: bool, ctx: &mut Context) -> JsResult<JsValue> {
    let inner = inner_of(this)?;
    let addr = address(args.first().unwrap_or(&JsValue::undefined()))?;
    let e = match args.get(1).and_then(|v| v.as_object()) {
        Some(o) => ListenOptions::read(addr, Transport::Tcp, Some(&o), ctx)?,
        None => inner.borrow().defaults.at(addr),
    };
    let mut a = inner.borrow_mut();
    a.entries.retain(|o| o.addr != e.addr || o.protocol != e.protocol);
    match (&a.layout, adding) {
        (Some(layout), true) => state::listen(e.spec(layout.clone())),
        (Some(_), false) => state::unlisten(e.addr, e.protocol),
        (None, _) => {}
    }
    if adding {
        a.entries.push(e);
    }
    Ok(JsValue::undefined())
}

impl Class for ListenerArray {
    const NAME: &'static str = "ListenerArray";
    const LENGTH: usize = 0;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
        let defaults =
            ListenOptions::read(nowhere, Transport::Tcp, args.get(1).and_then(|v| v.as_object()).as_ref(), ctx)?;
        let inner = Rc::new(RefCell::new(Inner { defaults, entries: Vec::new(), layout: None }));
        set(&inner, args.first().unwrap_or(&JsValue::undefined()), ctx)?;
        Ok(ListenerArray { inner })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("set"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                set(&inner_of(this)?, args.first().unwrap_or(&JsValue::undefined()), ctx)?;
                Ok(JsValue::undefined())
            }),
        );
        class.method(js_string!("add"), 2, NativeFunction::from_fn_ptr(|t, a, ctx| add_or_remove(t, a, true, ctx)));
        class.method(js_string!("remove"), 2, NativeFunction::from_fn_ptr(|t, a, ctx| add_or_remove(t, a, false, ctx)));
        Ok(())
    }
}

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<ListenerArray>()
}
