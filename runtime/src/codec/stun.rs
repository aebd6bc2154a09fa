//! STUN (RFC 5389) as far as Pipy's `STUN` reads and writes it: a Binding Request with no
//! attributes out, a Binding Request or Response in, and of a response only its first
//! (XOR-)MAPPED-ADDRESS. Written here rather than with a STUN crate because what matters is
//! Pipy's exact leniency (attributes past the declared length are read, one that overruns the
//! message ends the walk quietly) and its text for an IPv6 address (eight groups of four hex
//! digits, never shortened), which no crate reproduces; the bytes are twenty.

pub const BINDING_REQUEST: u16 = 0x0001;
pub const BINDING_RESPONSE: u16 = 0x0101;
const MAPPED_ADDRESS: u16 = 0x0001;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// A decoded message: its type (one of the two above), transaction id and mapped address.
#[derive(Debug, PartialEq)]
pub struct Message {
    pub kind: u16,
    pub transaction_id: [u8; 12],
    pub mapped: Option<Mapped>,
}

/// A mapped address as Pipy gives it: the IP as text, the port, `"IPv4"` or `"IPv6"`.
#[derive(Debug, PartialEq)]
pub struct Mapped {
    pub ip: String,
    pub port: u16,
    pub family: &'static str,
}

/// A Binding Request with no attributes.
pub fn encode_binding_request(transaction_id: &[u8; 12]) -> [u8; 20] {
    let mut out = [0u8; 20];
    out[..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
    out[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out[8..].copy_from_slice(transaction_id);
    out
}

/// A message, or Pipy's text for why not.
pub fn decode(buf: &[u8]) -> Result<Message, &'static str> {
    if buf.len() < 20 {
        return Err("STUN decode: message too short");
    }
    let kind = u16::from_be_bytes([buf[0], buf[1]]);
    if kind != BINDING_REQUEST && kind != BINDING_RESPONSE {
        return Err("STUN decode: unknown message type");
    }
    if u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) != MAGIC_COOKIE {
        return Err("STUN decode: invalid magic cookie");
    }
    let transaction_id: [u8; 12] = buf[8..20].try_into().unwrap();
    let declared = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    if buf.len() < 20 + declared {
        return Err("STUN decode: message length mismatch");
    }
    let mapped = if kind == BINDING_RESPONSE { mapped_address(buf) } else { None };
    Ok(Message { kind, transaction_id, mapped })
}

/// The first mapped address among the attributes that are whole, each padded to 4 bytes.
fn mapped_address(buf: &[u8]) -> Option<Mapped> {
    let mut pos = 20;
    while pos + 4 <= buf.len() {
        let kind = u16::from_be_bytes([buf[pos], buf[pos + 1]]);
        let len = u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]) as usize;
        pos += 4;
        if pos + len > buf.len() {
            return None;
        }
        if (kind == XOR_MAPPED_ADDRESS || kind == MAPPED_ADDRESS)
            && len >= 8
            && let Some(m) = address(&buf[pos..pos + len], kind == XOR_MAPPED_ADDRESS, &buf[4..20])
        {
            return Some(m);
        }
        pos = (pos + len + 3) & !3;
    }
    None
}

/// An address attribute's value; `mask` is the cookie and transaction id XOR-ed over it.
fn address(value: &[u8], xor: bool, mask: &[u8]) -> Option<Mapped> {
    let mut port = u16::from_be_bytes([value[2], value[3]]);
    if xor {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = |n: usize| -> Vec<u8> {
        let raw = &value[4..4 + n];
        raw.iter().zip(mask).map(|(b, m)| if xor { b ^ m } else { *b }).collect()
    };
    match value[1] {
        0x01 => {
            let ip = ip(4);
            Some(Mapped { ip: format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]), port, family: "IPv4" })
        }
        0x02 if value.len() >= 20 => {
            let ip = ip(16);
            let groups: Vec<String> = ip.chunks(2).map(|g| format!("{:02x}{:02x}", g[0], g[1])).collect();
            Some(Mapped { ip: groups.join(":"), port, family: "IPv6" })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TID: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    fn response(attrs: &[u8]) -> Vec<u8> {
        let mut m = vec![0x01, 0x01];
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&TID);
        m.extend_from_slice(attrs);
        m
    }

    #[test]
    fn a_request_is_twenty_bytes_and_decodes_back() {
        let req = encode_binding_request(&TID);
        assert_eq!(&req[..8], &[0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]);
        let m = decode(&req).unwrap();
        assert_eq!((m.kind, m.transaction_id, m.mapped), (BINDING_REQUEST, TID, None));
    }

    #[test]
    fn xor_mapped_ipv4_and_ipv6_and_plain_mapped() {
        // 192.0.2.1:32853 XOR-ed (RFC 5769's sample response address).
        let v4 = response(&[0, 0x20, 0, 8, 0, 1, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]);
        let m = decode(&v4).unwrap().mapped.unwrap();
        assert_eq!((m.ip.as_str(), m.port, m.family), ("192.0.2.1", 32853, "IPv4"));
        // An unknown attribute of 5 bytes (padded to 8) first, then a plain MAPPED-ADDRESS.
        let plain = response(&[
            0x80, 0x22, 0, 5, b'w', b'e', b'i', b'r', 0, 0, 0, 0, 0, 1, 0, 8, 0, 1, 0x1f, 0x90, 10, 0, 0, 7,
        ]);
        let m = decode(&plain).unwrap().mapped.unwrap();
        assert_eq!((m.ip.as_str(), m.port), ("10.0.0.7", 8080));
        let mut v6 = vec![0, 0x20, 0, 20, 0, 2, 0x21 ^ 0x1f, 0x12 ^ 0x90];
        let ip: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mask: Vec<u8> = MAGIC_COOKIE.to_be_bytes().into_iter().chain(TID).collect();
        v6.extend(ip.iter().zip(&mask).map(|(a, b)| a ^ b));
        let m = decode(&response(&v6)).unwrap().mapped.unwrap();
        assert_eq!((m.ip.as_str(), m.port, m.family), ("2001:0db8:0000:0000:0000:0000:0000:0001", 8080, "IPv6"));
    }

    #[test]
    fn malformed_messages_give_pipys_errors_and_truncated_attributes_are_skipped() {
        assert_eq!(decode(&[0; 19]), Err("STUN decode: message too short"));
        let mut m = response(&[]);
        m[1] = 0x11;
        assert_eq!(decode(&m), Err("STUN decode: unknown message type"));
        let mut m = response(&[]);
        m[4] = 0;
        assert_eq!(decode(&m), Err("STUN decode: invalid magic cookie"));
        let mut m = response(&[]);
        m[3] = 4;
        assert_eq!(decode(&m), Err("STUN decode: message length mismatch"));
        let m = response(&[0, 0x20, 0, 12, 0, 1, 0, 0]);
        assert_eq!(decode(&m).unwrap().mapped, None);
    }
}
