//! The PROXY protocol header (HAProxy's, versions 1 and 2) as bytes: parsing what a proxy
//! in front of us sent, and writing one for the server behind us.
//!
//! [`parse`] looks at everything received so far and says whether it needs more, what it
//! found and how many bytes the header took; what follows is the connection's own data.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The 12 bytes a version 2 header starts with.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const V1_PREFIX: &[u8; 6] = b"PROXY ";
/// The longest version 1 line, CRLF included (the specification's limit).
const V1_MAX: usize = 107;

/// What a header says, as the script sees it. Parsed headers always have a protocol;
/// version 2 ones also a command. Addresses and ports are absent for `UNKNOWN`, `UNIX`
/// and `UNIX_DGRAM`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Info {
    pub version: u8,
    pub command: Option<String>,
    pub protocol: Option<String>,
    pub source_address: Option<String>,
    pub source_port: Option<u16>,
    pub target_address: Option<String>,
    pub target_port: Option<u16>,
}

/// What [`parse`] found at the front of its input.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not enough bytes yet.
    More,
    Header {
        info: Info,
        len: usize,
    },
    /// Not a PROXY header, or a malformed one.
    Invalid(&'static str),
}

/// Reads a version 1 or 2 header at the front of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    if buf.len() >= V1_PREFIX.len() && buf.starts_with(V1_PREFIX) {
        return parse_v1(buf);
    }
    let n = buf.len().min(V2_SIGNATURE.len());
    let v1_so_far = buf.len() < V1_PREFIX.len() && V1_PREFIX.starts_with(buf);
    if buf[..n] != V2_SIGNATURE[..n] {
        return if v1_so_far { Parsed::More } else { Parsed::Invalid("not a PROXY protocol header") };
    }
    parse_v2(buf)
}

fn parse_v1(buf: &[u8]) -> Parsed {
    let Some(end) = buf.windows(2).take(V1_MAX - 1).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX { Parsed::Invalid("version 1 line too long") } else { Parsed::More };
    };
    let Ok(line) = std::str::from_utf8(&buf[V1_PREFIX.len()..end]) else {
        return Parsed::Invalid("version 1 line is not text");
    };
    let fields: Vec<&str> = line.split(' ').collect();
    let mut info = Info { version: 1, protocol: Some(fields[0].to_string()), ..Info::default() };
    let ip_ok: fn(&str) -> bool = match fields[0] {
        "UNKNOWN" => return Parsed::Header { info, len: end + 2 },
        "TCP4" => |s| s.parse::<Ipv4Addr>().is_ok(),
        "TCP6" => |s| s.parse::<Ipv6Addr>().is_ok(),
        _ => return Parsed::Invalid("version 1 protocol is not TCP4, TCP6 or UNKNOWN"),
    };
    let [_, src, dst, sport, dport] = fields[..] else {
        return Parsed::Invalid("version 1 line has not 5 fields");
    };
    let (Ok(sport), Ok(dport)) = (sport.parse::<u16>(), dport.parse::<u16>()) else {
        return Parsed::Invalid("version 1 port is not a number");
    };
    if !ip_ok(src) || !ip_ok(dst) {
        return Parsed::Invalid("version 1 address does not match its protocol");
    }
    info.source_address = Some(src.to_string());
    info.target_address = Some(dst.to_string());
    info.source_port = Some(sport);
    info.target_port = Some(dport);
    Parsed::Header { info, len: end + 2 }
}

fn parse_v2(buf: &[u8]) -> Parsed {
    if buf.len() < 16 {
        return Parsed::More;
    }
    let size = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    if buf.len() < 16 + size {
        return Parsed::More;
    }
    if buf[12] >> 4 != 2 {
        return Parsed::Invalid("version 2 header of another version");
    }
    let command = match buf[12] & 0x0f {
        0 => "LOCAL",
        1 => "PROXY",
        _ => return Parsed::Invalid("version 2 command is not LOCAL or PROXY"),
    };
    let (protocol, addresses) = match buf[13] {
        0x00 => ("UNKNOWN", 0),
        0x11 => ("TCP4", 12),
        0x12 => ("UDP4", 12),
        0x21 => ("TCP6", 36),
        0x22 => ("UDP6", 36),
        0x31 => ("UNIX", 0),
        0x32 => ("UNIX_DGRAM", 0),
        _ => return Parsed::Invalid("version 2 address family is unknown"),
    };
    if size < addresses {
        return Parsed::Invalid("version 2 addresses are cut short");
    }
    let mut info =
        Info { version: 2, command: Some(command.into()), protocol: Some(protocol.into()), ..Info::default() };
    let a = &buf[16..16 + addresses];
    let (src, dst, ports) = match addresses {
        12 => (ipv4(&a[0..4]), ipv4(&a[4..8]), &a[8..12]),
        36 => (ipv6(&a[0..16]), ipv6(&a[16..32]), &a[32..36]),
        _ => return Parsed::Header { info, len: 16 + size },
    };
    info.source_address = Some(src);
    info.target_address = Some(dst);
    info.source_port = Some(u16::from_be_bytes([ports[0], ports[1]]));
    info.target_port = Some(u16::from_be_bytes([ports[2], ports[3]]));
    Parsed::Header { info, len: 16 + size }
}

fn ipv4(b: &[u8]) -> String {
    Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()
}

fn ipv6(b: &[u8]) -> String {
    Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap_or_default()).to_string()
}

/// The header for `info`: version 2 when `info.version` is 2, else a version 1 line.
/// As Pipy, a missing protocol is `TCP4`, a missing or unreadable address all zeros, a
/// missing port 0, and only `LOCAL` makes a version 2 command other than `PROXY`.
pub fn encode(info: &Info) -> Vec<u8> {
    let protocol = info.protocol.as_deref().unwrap_or("TCP4");
    let v6 = matches!(protocol, "TCP6" | "UDP6");
    let (sport, dport) = (info.source_port.unwrap_or(0), info.target_port.unwrap_or(0));
    if info.version != 2 {
        let zero = if v6 { "::" } else { "0.0.0.0" };
        let src = info.source_address.as_deref().unwrap_or(zero);
        let dst = info.target_address.as_deref().unwrap_or(zero);
        return format!("PROXY {protocol} {src} {dst} {sport} {dport}\r\n").into_bytes();
    }
    let command = if info.command.as_deref() == Some("LOCAL") { 0 } else { 1 };
    let family = match protocol {
        "UDP4" => 0x12,
        "TCP6" => 0x21,
        "UDP6" => 0x22,
        _ => 0x11,
    };
    let mut out = V2_SIGNATURE.to_vec();
    out.extend_from_slice(&[0x20 | command, family]);
    let address = |a: &Option<String>| -> Vec<u8> {
        let a = a.as_deref().unwrap_or_default();
        match v6 {
            true => a.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED).octets().to_vec(),
            false => a.parse::<Ipv4Addr>().unwrap_or(Ipv4Addr::UNSPECIFIED).octets().to_vec(),
        }
    };
    let (src, dst) = (address(&info.source_address), address(&info.target_address));
    out.extend_from_slice(&((src.len() * 2 + 4) as u16).to_be_bytes());
    out.extend_from_slice(&src);
    out.extend_from_slice(&dst);
    out.extend_from_slice(&sport.to_be_bytes());
    out.extend_from_slice(&dport.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(version: u8, src: &str, dst: &str, sport: u16, dport: u16) -> Info {
        let v6 = src.contains(':');
        Info {
            version,
            command: (version == 2).then(|| "PROXY".into()),
            protocol: Some(if v6 { "TCP6" } else { "TCP4" }.into()),
            source_address: Some(src.into()),
            source_port: Some(sport),
            target_address: Some(dst.into()),
            target_port: Some(dport),
        }
    }

    #[test]
    fn version_1_lines_round_trip_and_what_follows_is_not_the_header() {
        let info = tcp(1, "192.0.2.7", "198.51.100.9", 4242, 80);
        let mut bytes = encode(&info);
        assert_eq!(bytes, b"PROXY TCP4 192.0.2.7 198.51.100.9 4242 80\r\n");
        let len = bytes.len();
        bytes.extend_from_slice(b"GET /");
        assert_eq!(parse(&bytes), Parsed::Header { info, len });
        let info6 = tcp(1, "2001:db8::1", "::1", 1, 65535);
        assert_eq!(parse(&encode(&info6)), Parsed::Header { len: encode(&info6).len(), info: info6 });
    }

    #[test]
    fn version_2_headers_round_trip_for_both_families() {
        for info in [tcp(2, "192.0.2.7", "198.51.100.9", 4242, 80), tcp(2, "2001:db8::1", "::1", 1, 443)] {
            let bytes = encode(&info);
            assert_eq!(bytes[..12], V2_SIGNATURE[..]);
            assert_eq!(parse(&bytes), Parsed::Header { len: bytes.len(), info });
        }
    }

    #[test]
    fn every_prefix_of_a_header_asks_for_more() {
        for bytes in [encode(&tcp(1, "10.0.0.1", "10.0.0.2", 1, 2)), encode(&tcp(2, "10.0.0.1", "10.0.0.2", 1, 2))] {
            for n in 0..bytes.len() {
                assert_eq!(parse(&bytes[..n]), Parsed::More, "{n} bytes");
            }
        }
    }

    #[test]
    fn unknown_local_and_unix_headers_carry_no_addresses() {
        let unknown = parse(b"PROXY UNKNOWN whatever\r\n");
        let info = Info { version: 1, protocol: Some("UNKNOWN".into()), ..Info::default() };
        assert_eq!(unknown, Parsed::Header { info, len: 24 });
        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 3, 9, 9, 9]);
        let Parsed::Header { info, len } = parse(&local) else { panic!() };
        assert_eq!(
            (info.command.as_deref(), info.protocol.as_deref(), info.source_address, len),
            (Some("LOCAL"), Some("UNKNOWN"), None, 19)
        );
    }

    #[test]
    fn malformed_headers_are_invalid() {
        let long = [&b"PROXY TCP4 "[..], &[b'1'; 120]].concat();
        for bad in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 ::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1 70000\r\n",
            &long,
            b"\r\n\r\n\0\r\nQUIT\n\x31\x11\0\x0c000000000000",
            b"\r\n\r\n\0\r\nQUIT\n\x22\x11\0\x0c000000000000",
            b"\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x04zzzz",
        ] {
            assert!(matches!(parse(bad), Parsed::Invalid(_)), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
