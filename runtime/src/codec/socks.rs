//! SOCKS handshakes as bytes: the server side of SOCKS4, SOCKS4a and SOCKS5 (no
//! authentication, CONNECT), and the client side of SOCKS5.
//!
//! The parsers look at everything received so far and say whether they need more, what
//! they found and how many bytes it took; what follows those bytes is the tunnel's.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest SOCKS4 user id or SOCKS4a domain accepted (SOCKS5 domains are at most 255 anyway).
const MAX_NAME: usize = 255;

/// A CONNECT request a client made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// 4 (SOCKS4 and 4a) or 5.
    pub version: u8,
    /// The SOCKS4 user id.
    pub id: Option<String>,
    pub ip: Option<IpAddr>,
    pub domain: Option<String>,
    pub port: u16,
}

/// What the server side found at the front of its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerStep {
    /// A SOCKS5 greeting offering "no authentication": answer [`METHOD_NO_AUTH`], then
    /// parse the request with `after_greeting` set.
    Greeting {
        len: usize,
    },
    Connect {
        request: Request,
        len: usize,
    },
}

/// Why a handshake failed. `reply` is what to send before closing, if anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocksError {
    pub what: String,
    pub reply: Option<Vec<u8>>,
}

impl fmt::Display for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for SocksError {}

fn fail(what: impl Into<String>, reply: Option<Vec<u8>>) -> SocksError {
    SocksError { what: what.into(), reply }
}

/// The server's answer to a SOCKS5 greeting: no authentication.
pub const METHOD_NO_AUTH: [u8; 2] = [5, 0];

/// SOCKS5 reply codes used here (RFC 1928).
const V5_GENERAL_FAILURE: u8 = 1;
const V5_NOT_ALLOWED: u8 = 2;
const V5_COMMAND_NOT_SUPPORTED: u8 = 7;
const V5_ADDRESS_NOT_SUPPORTED: u8 = 8;

/// The server's reply to a CONNECT: granted or refused.
pub fn reply(version: u8, granted: bool) -> Vec<u8> {
    match (version, granted) {
        (4, true) => v4_reply(0x5a),
        (4, false) => v4_reply(0x5b),
        (_, true) => v5_reply(0),
        (_, false) => v5_reply(V5_NOT_ALLOWED),
    }
}

fn v4_reply(code: u8) -> Vec<u8> {
    vec![0, code, 0, 0, 0, 0, 0, 0]
}

fn v5_reply(code: u8) -> Vec<u8> {
    vec![5, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

/// Parses the front of a server's input. `Ok(None)`: more bytes are needed.
pub fn parse_server(buf: &[u8], after_greeting: bool) -> Result<Option<ServerStep>, SocksError> {
    if after_greeting {
        return parse_v5_request(buf);
    }
    match buf.first() {
        None => Ok(None),
        Some(4) => parse_v4(buf),
        Some(5) => parse_v5_greeting(buf),
        Some(v) => Err(fail(format!("not a SOCKS greeting (first byte {v:#04x})"), None)),
    }
}

/// `04 CMD PORT(2) IP(4) USERID 00 [DOMAIN 00]`.
fn parse_v4(buf: &[u8]) -> Result<Option<ServerStep>, SocksError> {
    if buf.len() < 8 {
        return Ok(None);
    }
    if buf[1] != 1 {
        return Err(fail(format!("SOCKS4 command {} is not CONNECT", buf[1]), Some(v4_reply(0x5b))));
    }
    let port = u16::from_be_bytes([buf[2], buf[3]]);
    let ip = Ipv4Addr::new(buf[4], buf[5], buf[6], buf[7]);
    let Some((id, mut len)) = cstr(&buf[8..], "SOCKS4 user id")? else { return Ok(None) };
    len += 8;
    // 0.0.0.x with x != 0 means "the domain follows" (SOCKS4a).
    let [a, b, c, d] = ip.octets();
    let (ip, domain) = if a == 0 && b == 0 && c == 0 && d != 0 {
        let Some((domain, n)) = cstr(&buf[len..], "SOCKS4a domain")? else { return Ok(None) };
        if domain.is_empty() {
            return Err(fail("empty SOCKS4a domain", Some(v4_reply(0x5b))));
        }
        len += n;
        (None, Some(domain))
    } else {
        (Some(IpAddr::V4(ip)), None)
    };
    let request = Request { version: 4, id: Some(id), ip, domain, port };
    Ok(Some(ServerStep::Connect { request, len }))
}

/// A NUL-terminated string and the bytes it took, terminator included.
fn cstr(buf: &[u8], what: &str) -> Result<Option<(String, usize)>, SocksError> {
    match buf.iter().position(|&b| b == 0) {
        Some(n) if n <= MAX_NAME => Ok(Some((String::from_utf8_lossy(&buf[..n]).into_owned(), n + 1))),
        Some(_) => Err(fail(format!("{what} too long"), Some(v4_reply(0x5b)))),
        None if buf.len() > MAX_NAME => Err(fail(format!("{what} too long"), Some(v4_reply(0x5b)))),
        None => Ok(None),
    }
}

/// `05 NMETHODS METHODS...`
fn parse_v5_greeting(buf: &[u8]) -> Result<Option<ServerStep>, SocksError> {
    let Some(&n) = buf.get(1) else { return Ok(None) };
    if n == 0 {
        return Err(fail("SOCKS5 greeting offers no method", None));
    }
    let len = 2 + n as usize;
    if buf.len() < len {
        return Ok(None);
    }
    if !buf[2..len].contains(&0) {
        return Err(fail("SOCKS5 client requires authentication", Some(vec![5, 0xff])));
    }
    Ok(Some(ServerStep::Greeting { len }))
}

/// `05 CMD 00 ATYP ADDR PORT(2)`.
fn parse_v5_request(buf: &[u8]) -> Result<Option<ServerStep>, SocksError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    if buf[0] != 5 || buf[2] != 0 {
        return Err(fail("malformed SOCKS5 request", Some(v5_reply(V5_GENERAL_FAILURE))));
    }
    if buf[1] != 1 {
        return Err(fail(
            format!("SOCKS5 command {} is not CONNECT", buf[1]),
            Some(v5_reply(V5_COMMAND_NOT_SUPPORTED)),
        ));
    }
    let (addr_len, start) = match buf[3] {
        1 => (4, 4),
        4 => (16, 4),
        3 => match buf.get(4) {
            None => return Ok(None),
            Some(0) => return Err(fail("empty SOCKS5 domain", Some(v5_reply(V5_GENERAL_FAILURE)))),
            Some(&n) => (n as usize, 5),
        },
        t => {
            return Err(fail(format!("SOCKS5 address type {t}"), Some(v5_reply(V5_ADDRESS_NOT_SUPPORTED))));
        }
    };
    let len = start + addr_len + 2;
    if buf.len() < len {
        return Ok(None);
    }
    let addr = &buf[start..start + addr_len];
    let port = u16::from_be_bytes([buf[len - 2], buf[len - 1]]);
    let (ip, domain) = match buf[3] {
        1 => (Some(IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))), None),
        4 => (Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(addr).expect("16 bytes")))), None),
        _ => (None, Some(String::from_utf8_lossy(addr).into_owned())),
    };
    let request = Request { version: 5, id: None, ip, domain, port };
    Ok(Some(ServerStep::Connect { request, len }))
}

/// The client's greeting: SOCKS5, one method, no authentication.
pub const CLIENT_GREETING: [u8; 3] = [5, 1, 0];

/// The client's CONNECT request for `host:port` (IP literals as addresses, else a domain).
pub fn connect_request(host: &str, port: u16) -> Result<Vec<u8>, String> {
    let mut out = vec![5, 1, 0];
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            out.push(1);
            out.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            if host.is_empty() || host.len() > 255 {
                return Err(format!("invalid SOCKS target host: {host:?}"));
            }
            out.push(3);
            out.push(host.len() as u8);
            out.extend_from_slice(host.as_bytes());
        }
    }
    out.extend_from_slice(&port.to_be_bytes());
    Ok(out)
}

/// Parses the server's answer to [`CLIENT_GREETING`]: its length once complete.
pub fn parse_method_reply(buf: &[u8]) -> Result<Option<usize>, String> {
    match buf {
        [] | [_] => Ok(None),
        [5, 0, ..] => Ok(Some(2)),
        [5, m, ..] => Err(format!("SOCKS server wants authentication method {m:#04x}")),
        [v, ..] => Err(format!("not a SOCKS5 server (version {v})")),
    }
}

/// Parses the server's reply to a CONNECT: its length once complete.
pub fn parse_connect_reply(buf: &[u8]) -> Result<Option<usize>, String> {
    if buf.len() < 5 {
        return Ok(None);
    }
    if buf[0] != 5 {
        return Err(format!("not a SOCKS5 reply (version {})", buf[0]));
    }
    if buf[1] != 0 {
        return Err(format!("SOCKS server refused the connection (reply {})", buf[1]));
    }
    let len = match buf[3] {
        1 => 4 + 4 + 2,
        4 => 4 + 16 + 2,
        3 => 5 + buf[4] as usize + 2,
        t => return Err(format!("SOCKS5 reply with address type {t}")),
    };
    Ok(if buf.len() < len { None } else { Some(len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(buf: &[u8], after_greeting: bool) -> (Request, usize) {
        match parse_server(buf, after_greeting) {
            Ok(Some(ServerStep::Connect { request, len })) => (request, len),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn socks4_and_4a_requests() {
        let v4 = b"\x04\x01\x1f\x90\x7f\x00\x00\x01me\x00rest";
        for n in 0..v4.len() - 4 {
            assert_eq!(parse_server(&v4[..n], false), Ok(None), "{n} bytes");
        }
        let (r, len) = connect(v4, false);
        assert_eq!(len, v4.len() - 4);
        assert_eq!((r.version, r.ip, r.domain, r.port), (4, Some("127.0.0.1".parse().unwrap()), None, 8080));
        assert_eq!(r.id.as_deref(), Some("me"));

        let v4a = b"\x04\x01\x00\x50\x00\x00\x00\x01\x00example.com\x00";
        assert_eq!(parse_server(&v4a[..v4a.len() - 1], false), Ok(None));
        let (r, len) = connect(v4a, false);
        assert_eq!((r.ip, r.domain.as_deref(), r.port, len), (None, Some("example.com"), 80, v4a.len()));
    }

    #[test]
    fn socks5_greeting_then_requests() {
        assert_eq!(parse_server(b"\x05\x02\x02", false), Ok(None));
        assert_eq!(parse_server(b"\x05\x02\x02\x00", false), Ok(Some(ServerStep::Greeting { len: 4 })));
        let (r, len) = connect(b"\x05\x01\x00\x03\x09localhost\x1f\x90", true);
        assert_eq!((r.version, r.domain.as_deref(), r.port, len), (5, Some("localhost"), 8080, 16));
        let (r, _) = connect(b"\x05\x01\x00\x01\x0a\x00\x00\x02\x00\x16", true);
        assert_eq!((r.ip, r.port), (Some("10.0.0.2".parse().unwrap()), 22));
        let mut v6 = vec![5, 1, 0, 4];
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0, 80]);
        assert_eq!(parse_server(&v6[..v6.len() - 1], true), Ok(None));
        assert_eq!(connect(&v6, true).0.ip, Some("::1".parse().unwrap()));
    }

    #[test]
    fn malformed_input_fails_with_the_reply_to_send() {
        assert_eq!(parse_server(b"GET / HTTP/1.1\r\n", false).unwrap_err().reply, None);
        assert_eq!(parse_server(b"\x05\x00", false).unwrap_err().reply, None);
        assert_eq!(parse_server(b"\x05\x01\x02", false).unwrap_err().reply, Some(vec![5, 0xff]));
        assert_eq!(
            parse_server(b"\x04\x02\x00\x50\x01\x02\x03\x04\x00", false).unwrap_err().reply,
            Some(v4_reply(0x5b))
        );
        assert_eq!(parse_server(b"\x05\x02\x00\x01", true).unwrap_err().reply, Some(v5_reply(7)));
        assert_eq!(parse_server(b"\x05\x01\x00\x07", true).unwrap_err().reply, Some(v5_reply(8)));
        let long = [&b"\x04\x01\x00\x50\x01\x02\x03\x04"[..], &[b'a'; 300]].concat();
        assert!(parse_server(&long, false).is_err());
    }

    #[test]
    fn client_side() {
        assert_eq!(connect_request("127.0.0.1", 80).unwrap(), [5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
        assert_eq!(connect_request("ab", 1).unwrap(), [5, 1, 0, 3, 2, b'a', b'b', 0, 1]);
        assert_eq!(connect_request("[::1]", 1).unwrap().len(), 4 + 16 + 2);
        assert_eq!(parse_method_reply(b"\x05"), Ok(None));
        assert_eq!(parse_method_reply(b"\x05\x00xyz"), Ok(Some(2)));
        assert!(parse_method_reply(b"\x05\xff").is_err());
        assert_eq!(parse_connect_reply(b"\x05\x00\x00\x01\x00\x00\x00"), Ok(None));
        assert_eq!(parse_connect_reply(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00data"), Ok(Some(10)));
        assert_eq!(parse_connect_reply(b"\x05\x00\x00\x03\x01a\x00\x00"), Ok(Some(8)));
        assert!(parse_connect_reply(b"\x05\x02\x00\x01\x00").is_err());
    }
}
