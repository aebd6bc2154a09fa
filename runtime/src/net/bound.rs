//! An upstream TCP socket bound to a chosen local address before it connects: `connect`'s
//! `bind` option, and with `transparent` an address this host does not own (the client's,
//! so that the server sees who really connected, not the proxy).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};

/// Where the upstream socket is bound: `ip` or `ip:port` (port 0: the kernel picks one).
#[derive(Clone, Debug, PartialEq)]
pub struct Local {
    pub addr: SocketAddr,
    pub transparent: bool,
}

impl Local {
    /// `'10.0.0.2'`, `'10.0.0.2:4000'`, `'::1'` or `'[::1]:4000'`, as Pipy's `bind` reads it.
    pub fn parse(text: &str, transparent: bool) -> Result<Local, String> {
        let addr = if let Ok(a) = text.parse::<SocketAddr>() {
            a
        } else {
            let ip: IpAddr = text
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("invalid bind address {text:?}"))?;
            SocketAddr::new(ip, 0)
        };
        Ok(Local { addr, transparent })
    }
}

/// Connects to `to` from `local`. An IPv4 local address for an IPv6 target is written
/// IPv4-mapped; the other way round cannot be, and fails.
pub async fn connect(to: SocketAddr, local: &Local) -> io::Result<TcpStream> {
    let from = match (local.addr, to) {
        (SocketAddr::V4(a), SocketAddr::V6(_)) => SocketAddr::new(IpAddr::V6(a.ip().to_ipv6_mapped()), a.port()),
        (SocketAddr::V6(_), SocketAddr::V4(_)) => {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "an IPv6 bind address for an IPv4 target"));
        }
        (a, _) => a,
    };
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    if local.transparent {
        // Lets the socket use an address of another host as its own (needs CAP_NET_ADMIN);
        // the replies reach it only where policy routing sends them to this host.
        match to {
            SocketAddr::V4(_) => socket.set_ip_transparent_v4(true)?,
            SocketAddr::V6(_) => socket.set_ip_transparent_v6(true)?,
        }
    }
    if from.port() == 0 {
        // The port is chosen at connect, by the whole 4-tuple, not at bind by the address
        // alone: many connections from one client address to different servers share ports.
        set_flag(&socket, libc::SOL_IP, libc::IP_BIND_ADDRESS_NO_PORT)?;
    }
    socket.bind(&from.into())?;
    let std: std::net::TcpStream = socket.into();
    TcpSocket::from_std_stream(std).connect(to).await
}

fn set_flag(socket: &Socket, level: libc::c_int, name: libc::c_int) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: a valid socket and a c_int option of the size given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_addresses_read_as_pipy_writes_them() {
        let a = |s| Local::parse(s, false).map(|l| l.addr.to_string());
        assert_eq!(a("127.0.0.2"), Ok("127.0.0.2:0".into()));
        assert_eq!(a("127.0.0.2:4000"), Ok("127.0.0.2:4000".into()));
        assert_eq!(a("::1"), Ok("[::1]:0".into()));
        assert_eq!(a("[::1]:4000"), Ok("[::1]:4000".into()));
        assert!(a("host:80").is_err());
    }

    #[tokio::test]
    async fn the_server_sees_the_bound_address() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let to = server.local_addr().unwrap();
        let local = Local::parse("127.0.0.3", false).unwrap();
        let stream = connect(to, &local).await.unwrap();
        let (_, peer) = server.accept().unwrap();
        assert_eq!(peer.ip().to_string(), "127.0.0.3");
        assert_eq!(stream.local_addr().unwrap(), peer);
    }
}
