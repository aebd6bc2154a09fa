//! The outbound objects `pipy.outbound.forEach` gives: `state` (Pipy's names: `idle`,
//! `connecting`, `connected`, `closed`), `localAddress`, `localPort`, `remoteAddress`,
//! `remotePort` (`''` and 0 until connected), and `close()`, which ends the connection and
//! its pipeline's output with `StreamEnd('ConnectionAborted')`. Unlike Pipy there is no
//! `socket` (raw options of an upstream socket) and no `resolving` state (name resolution
//! counts as `connecting`).
//!
//! The object holds its outbound weakly, so that one a script once saw is not listed until
//! the garbage collector runs: once the outbound is gone it reads as `closed`, with the
//! addresses it last had.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::type_error;
use crate::engine::outbound::Outbound as Info;

#[derive(Trace, Finalize, JsData)]
pub struct Outbound {
    #[unsafe_ignore_trace]
    info: Weak<Info>,
    /// The local and remote addresses, as last seen.
    #[unsafe_ignore_trace]
    addrs: Cell<Option<(SocketAddr, SocketAddr)>>,
}

pub fn to_js(info: &Rc<Info>, ctx: &mut Context) -> JsResult<JsValue> {
    let addrs = info.local().zip(info.remote());
    Ok(Outbound::from_data(Outbound { info: Rc::downgrade(info), addrs: Cell::new(addrs) }, ctx)?.into())
}

/// What a getter reads: the state and the addresses.
struct Seen {
    state: &'static str,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
}

fn seen(this: &JsValue) -> JsResult<Seen> {
    let obj = this.as_object().ok_or_else(|| type_error("not an outbound"))?;
    let data = obj.downcast_ref::<Outbound>().ok_or_else(|| type_error("not an outbound"))?;
    let state = match data.info.upgrade() {
        Some(info) => {
            if let Some(a) = info.local().zip(info.remote()) {
                data.addrs.set(Some(a));
            }
            info.state().name()
        }
        None => "closed",
    };
    let addrs = data.addrs.get();
    Ok(Seen { state, local: addrs.map(|a| a.0), remote: addrs.map(|a| a.1) })
}

fn getter(class: &mut ClassBuilder<'_>, name: JsString, read: fn(Seen) -> JsValue) {
    let realm = class.context().realm().clone();
    let f = NativeFunction::from_copy_closure(move |this, _, _| Ok(read(seen(this)?)));
    class.accessor(name, Some(f.to_js_function(&realm)), None, Attribute::CONFIGURABLE | Attribute::ENUMERABLE);
}

fn ip(addr: Option<SocketAddr>) -> JsValue {
    JsString::from(addr.map_or(String::new(), |a| a.ip().to_string())).into()
}

fn port(addr: Option<SocketAddr>) -> JsValue {
    addr.map_or(0, |a| a.port()).into()
}

impl Class for Outbound {
    const NAME: &'static str = "Outbound";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("outbound objects are made by connect"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        getter(class, js_string!("state"), |s| JsString::from(s.state).into());
        getter(class, js_string!("localAddress"), |s| ip(s.local));
        getter(class, js_string!("localPort"), |s| port(s.local));
        getter(class, js_string!("remoteAddress"), |s| ip(s.remote));
        getter(class, js_string!("remotePort"), |s| port(s.remote));
        class.method(
            js_string!("close"),
            0,
            NativeFunction::from_fn_ptr(|this, _, _| {
                let obj = this.as_object().ok_or_else(|| type_error("not an outbound"))?;
                let data = obj.downcast_ref::<Outbound>().ok_or_else(|| type_error("not an outbound"))?;
                if let Some(info) = data.info.upgrade() {
                    info.close();
                }
                Ok(JsValue::undefined())
            }),
        );
        Ok(())
    }
}

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<Outbound>()
}
