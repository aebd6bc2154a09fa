//! Listening sockets and their accept loops.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

use crate::engine::Layout;
use crate::engine::budget::BUDGET;

/// A `pipy.listen(...)` request, collected while the script loads and opened after.
pub struct ListenSpec {
    pub addr: SocketAddr,
    pub layout: Rc<Layout>,
    /// `maxConnections` as the script gave it: `None` when it said nothing (each transport
    /// has its own default), `Some(None)` for no bound (zero or negative, as in Pipy).
    pub max_connections: Option<Option<usize>>,
    /// `idleTimeout` as the script gave it, `None` when it said nothing.
    pub idle_timeout: Option<Duration>,
    pub protocol: Transport,
    /// `peerStats`: the inbound series also per peer address under the listener.
    pub peer_stats: bool,
    /// `transparent`: the socket takes connections and datagrams addressed to any address
    /// (IP_TRANSPARENT), as iptables `TPROXY` hands them over.
    pub transparent: bool,
}

/// A TCP connection's idle timeout when the script gives none, as in Pipy.
pub const TCP_IDLE: Duration = Duration::from_secs(60);

/// `maxConnections` read as Pipy reads it: a positive count bounds, anything else does not.
pub fn max_connections(n: f64) -> Option<usize> {
    (n >= 1.0).then_some(n as usize)
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Transport {
    Tcp,
    /// One session per peer (see `net::udp`).
    Udp,
}

impl Transport {
    /// `'tcp'` or `'udp'`, as scripts name them.
    pub fn parse(s: &str) -> Result<Transport, String> {
        match s {
            "tcp" => Ok(Transport::Tcp),
            "udp" => Ok(Transport::Udp),
            _ => Err(format!("unknown protocol: {s}")),
        }
    }

    /// `"TCP"` or `"UDP"`, as the log lines name them.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        }
    }
}

/// `port`, `'port'`, `'ip:port'` or `'[ipv6]:port'`; a bare port binds 0.0.0.0.
pub fn parse_address(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u32>() {
        return port_only(port);
    }
    let (ip, port) = s.rsplit_once(':').ok_or_else(|| format!("invalid 'address:port' form: {s}"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let ip = ip.parse().map_err(|_| format!("invalid IP address: {ip}"))?;
    let port: u32 = port.parse().map_err(|_| format!("invalid port number: {port}"))?;
    let port = u16::try_from(port).ok().filter(|p| *p > 0).ok_or_else(|| format!("port out of range: {port}"))?;
    Ok(SocketAddr::new(ip, port))
}

pub fn port_only(port: u32) -> Result<SocketAddr, String> {
    let port = u16::try_from(port).ok().filter(|p| *p > 0).ok_or_else(|| format!("port out of range: {port}"))?;
    Ok(SocketAddr::from(([0, 0, 0, 0], port)))
}

/// Binds with SO_REUSEADDR, and SO_REUSEPORT when several workers share the port.
pub fn bind(spec: &ListenSpec, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = socket(spec, Type::STREAM, Protocol::TCP, reuse_port)?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// A socket of `spec`'s family bound to its address, non-blocking, with the options a
/// listening socket of either transport takes.
pub fn socket(spec: &ListenSpec, ty: Type, protocol: Protocol, reuse_port: bool) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(spec.addr), ty, Some(protocol))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if spec.transparent {
        // Without the capability the listener does not open, and the error says why, rather
        // than opening one that TPROXY would never hand anything to.
        let set = match spec.addr {
            SocketAddr::V4(_) => socket.set_ip_transparent_v4(true),
            SocketAddr::V6(_) => socket.set_ip_transparent_v6(true),
        };
        set.map_err(|e| std::io::Error::new(e.kind(), format!("option transparent: {e} (it needs CAP_NET_ADMIN)")))?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&spec.addr.into())?;
    Ok(socket)
}

/// Accepts until the task running it is aborted (which closes the socket); each connection
/// is served by `serve` on its own local task.
pub async fn run<F, Fut>(listener: TcpListener, spec: Rc<ListenSpec>, serve: F)
where
    F: Fn(tokio::net::TcpStream, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let limit = spec.max_connections.flatten().map(|n| std::sync::Arc::new(tokio::sync::Semaphore::new(n)));
    loop {
        // With maxConnections reached, stop accepting but keep the socket: clients wait
        // in the backlog, as in Pipy.
        let permit = match &limit {
            Some(l) => l.clone().acquire_owned().await.ok(),
            None => None,
        };
        // Past the process's buffer budget, likewise: a new connection would only add to
        // what the slow ones hold.
        BUDGET.under().await;
        match listener.accept().await {
            Ok((stream, peer)) => {
                let served = serve(stream, peer);
                tokio::task::spawn_local(async move {
                    served.await;
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!(target: "listener", "accept on {}: {e}", spec.addr);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
