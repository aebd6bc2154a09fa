//! The options of a listening port, read alike wherever a script opens one: `pipy.listen`,
//! the legacy `pipy().listen(...)` and `ListenerArray` entries.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use boa_engine::{Context, JsObject, JsResult, js_string};

use super::type_error;
use crate::engine::Layout;
use crate::net::listener::{self, ListenSpec, Transport};

/// Where and how a port listens.
#[derive(Clone)]
pub struct ListenOptions {
    pub addr: SocketAddr,
    pub protocol: Transport,
    max_connections: Option<Option<usize>>,
    idle_timeout: Option<Duration>,
    peer_stats: bool,
    transparent: bool,
}

impl ListenOptions {
    /// `protocol` (else `protocol`, the one the caller was given apart), `maxConnections`,
    /// `idleTimeout`, `peerStats` and `transparent` of an options object, if any.
    pub fn read(addr: SocketAddr, protocol: Transport, o: Option<&JsObject>, ctx: &mut Context) -> JsResult<Self> {
        let mut options = ListenOptions {
            addr,
            protocol,
            max_connections: None,
            idle_timeout: None,
            peer_stats: false,
            transparent: false,
        };
        let Some(o) = o else { return Ok(options) };
        let protocol = o.get(js_string!("protocol"), ctx)?;
        if !protocol.is_undefined() {
            let p = protocol.to_string(ctx)?.to_std_string_escaped();
            options.protocol = Transport::parse(&p).map_err(|e| type_error(format!("listen(): {e}")))?;
        }
        let max = o.get(js_string!("maxConnections"), ctx)?;
        if !max.is_undefined() {
            options.max_connections = Some(listener::max_connections(max.to_number(ctx)?));
        }
        let idle = o.get(js_string!("idleTimeout"), ctx)?;
        if !idle.is_undefined() {
            options.idle_timeout = Some(crate::options::duration(&idle, ctx)?);
        }
        options.peer_stats = o.get(js_string!("peerStats"), ctx)?.to_boolean();
        options.transparent = o.get(js_string!("transparent"), ctx)?.to_boolean();
        Ok(options)
    }

    /// The same options on another address.
    pub fn at(&self, addr: SocketAddr) -> ListenOptions {
        ListenOptions { addr, ..self.clone() }
    }

    /// The listener serving `layout` this way.
    pub fn spec(&self, layout: Rc<Layout>) -> ListenSpec {
        ListenSpec {
            addr: self.addr,
            layout,
            max_connections: self.max_connections,
            idle_timeout: self.idle_timeout,
            protocol: self.protocol,
            peer_stats: self.peer_stats,
            transparent: self.transparent,
        }
    }
}
