//! BGP-4 messages (RFC 4271) as [`Tree`]s shaped as Pipy's `BGP.Message` objects:
//! `{ type, body }`, `type` the message type's name (`'OPEN'`, `'UPDATE'`, `'NOTIFICATION'`,
//! `'KEEPALIVE'`, `'ROUTE_REFRESH'`) or its number, and the body's fields as Pipy names them.
//! Address prefixes are strings in CIDR notation (`'10.1.0.0/16'`), where Pipy gives `IPMask`
//! objects that print the same. `encode` is in `bgp_encode.rs`.

use bytes::{Bytes, BytesMut};

use super::tree::Tree;

/// The 16 bytes of marker, the length and the type.
pub const HEADER: usize = 19;

pub const TYPES: &[(u8, &str)] =
    &[(1, "OPEN"), (2, "UPDATE"), (3, "NOTIFICATION"), (4, "KEEPALIVE"), (5, "ROUTE_REFRESH")];
pub const PARAMETERS: &[(u8, &str)] = &[(2, "Capabilities")];
pub const ATTRIBUTES: &[(u8, &str)] = &[
    (1, "ORIGIN"),
    (2, "AS_PATH"),
    (3, "NEXT_HOP"),
    (4, "MULTI_EXIT_DISC"),
    (5, "LOCAL_PREF"),
    (6, "ATOMIC_AGGREGATE"),
    (7, "AGGREGATOR"),
];

pub fn name_of(table: &[(u8, &'static str)], code: u8) -> Option<&'static str> {
    table.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

pub fn code_of(table: &[(u8, &str)], name: &str) -> Option<u8> {
    table.iter().find(|(_, n)| *n == name).map(|(c, _)| *c)
}

/// A message whose length field is under the header's own, or whose body does not parse.
#[derive(Debug, PartialEq)]
pub struct Malformed;

/// Cuts a byte stream into whole messages. A message is at most 65535 bytes (its length
/// field), so that is all it ever holds beyond the last read.
#[derive(Default)]
pub struct Framer {
    buf: BytesMut,
}

impl Framer {
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole message, header included, if all its bytes are there.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, Malformed> {
        if self.buf.len() < HEADER {
            return Ok(None);
        }
        let size = usize::from(u16::from_be_bytes([self.buf[16], self.buf[17]]));
        if size < HEADER {
            return Err(Malformed);
        }
        if self.buf.len() < size {
            return Ok(None);
        }
        Ok(Some(self.buf.split_to(size).freeze()))
    }

    /// Whether a message was begun and not finished.
    pub fn is_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

/// Every whole message in `data`, up to the first that does not parse (as `BGP.decode`).
pub fn decode_all(data: &[u8], as4: bool) -> Vec<Tree> {
    let mut framer = Framer::default();
    framer.feed(data);
    let mut out = Vec::new();
    while let Ok(Some(msg)) = framer.next_message() {
        match decode(&msg, as4) {
            Ok(t) => out.push(t),
            Err(Malformed) => break,
        }
    }
    out
}

/// One whole message (as [`Framer::next`] gives it) as a tree; `as4` reads AS numbers as 4
/// bytes.
pub fn decode(msg: &[u8], as4: bool) -> Result<Tree, Malformed> {
    let kind = msg[18];
    let mut r = Reader(&msg[HEADER..]);
    let empty = msg.len() == HEADER;
    let body = match kind {
        1 => open(&mut r, empty)?,
        2 => update(&mut r, as4)?,
        3 => notification(&mut r, empty)?,
        4 => Tree::Null,
        5 => route_refresh(&mut r, empty)?,
        _ if empty => Tree::Null,
        _ => Tree::Data(Bytes::copy_from_slice(r.0)),
    };
    let kind = name_of(TYPES, kind).map_or(Tree::Number(f64::from(kind)), |n| Tree::Str(n.into()));
    Ok(Tree::Object(vec![("type".into(), kind), ("body".into(), body)]))
}

/// Big-endian reads that fail at the end of the bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().map_err(|_| Malformed)?))
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().map_err(|_| Malformed)?))
    }

    fn as_number(&mut self, as4: bool) -> Result<u32, Malformed> {
        if as4 { self.u32() } else { self.u16().map(u32::from) }
    }

    fn ipv4(&mut self) -> Result<Tree, Malformed> {
        let ip = self.take(4)?;
        Ok(Tree::Str(format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn num(n: impl Into<f64>) -> Tree {
    Tree::Number(n.into())
}

fn obj(fields: Vec<(&str, Tree)>) -> Tree {
    Tree::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// An empty OPEN body has Pipy's defaults; so do NOTIFICATION and ROUTE-REFRESH.
fn open(r: &mut Reader, empty: bool) -> Result<Tree, Malformed> {
    if empty {
        let (identifier, parameters) = (Tree::Null, Tree::Null);
        let fields = vec![("version", num(4)), ("myAS", num(0)), ("holdTime", num(0))];
        return Ok(obj([fields, vec![("identifier", identifier), ("parameters", parameters)]].concat()));
    }
    let version = r.u8()?;
    let my_as = r.u16()?;
    let hold_time = r.u16()?;
    let identifier = r.ipv4()?;
    let size = r.u8()?;
    let mut params = Reader(r.take(usize::from(size))?);
    let mut list = Vec::new();
    while !params.is_empty() {
        list.push(parameter(&mut params)?);
    }
    let parameters = if size > 0 { Tree::Array(list) } else { Tree::Null };
    Ok(obj(vec![
        ("version", num(version)),
        ("myAS", num(my_as)),
        ("holdTime", num(hold_time)),
        ("identifier", identifier),
        ("parameters", parameters),
    ]))
}

fn parameter(r: &mut Reader) -> Result<Tree, Malformed> {
    let code = r.u8()?;
    let size = r.u8()?;
    let data = r.take(usize::from(size))?;
    let value = match code {
        _ if data.is_empty() => Tree::Null,
        2 => {
            let mut caps = Reader(data);
            let mut list = Vec::new();
            while !caps.is_empty() {
                let code = caps.u8()?;
                let size = caps.u8()?;
                let value = Tree::Data(Bytes::copy_from_slice(caps.take(usize::from(size))?));
                list.push(obj(vec![("code", num(code)), ("value", value)]));
            }
            Tree::Array(list)
        }
        _ => Tree::Data(Bytes::copy_from_slice(data)),
    };
    let name = name_of(PARAMETERS, code).map_or(Tree::Null, |n| Tree::Str(n.into()));
    Ok(obj(vec![("name", name), ("value", value), ("code", num(code))]))
}

fn prefixes(r: &mut Reader) -> Result<Tree, Malformed> {
    let mut list = Vec::new();
    while !r.is_empty() {
        let bits = r.u8()?;
        if bits > 32 {
            return Err(Malformed);
        }
        let mut ip = [0u8; 4];
        let n = usize::from(bits).div_ceil(8);
        ip[..n].copy_from_slice(r.take(n)?);
        list.push(Tree::Str(format!("{}.{}.{}.{}/{bits}", ip[0], ip[1], ip[2], ip[3])));
    }
    Ok(if list.is_empty() { Tree::Null } else { Tree::Array(list) })
}

fn update(r: &mut Reader, as4: bool) -> Result<Tree, Malformed> {
    let size = r.u16()?;
    let withdrawn = prefixes(&mut Reader(r.take(usize::from(size))?))?;
    let size = r.u16()?;
    let mut attrs = Reader(r.take(usize::from(size))?);
    let mut list = Vec::new();
    while !attrs.is_empty() {
        list.push(attribute(&mut attrs, as4)?);
    }
    let attributes = if list.is_empty() { Tree::Null } else { Tree::Array(list) };
    let destinations = prefixes(r)?;
    Ok(obj(vec![("withdrawnRoutes", withdrawn), ("pathAttributes", attributes), ("destinations", destinations)]))
}

/// An attribute whose value is empty has `null` for it, as in Pipy; a non-empty
/// ATOMIC_AGGREGATE has `undefined`.
fn attribute(r: &mut Reader, as4: bool) -> Result<Tree, Malformed> {
    let flags = r.u8()?;
    let code = r.u8()?;
    let size = if flags & 0x10 != 0 { usize::from(r.u16()?) } else { usize::from(r.u8()?) };
    let data = r.take(size)?;
    let value = if data.is_empty() { Tree::Null } else { attribute_value(code, data, as4)? };
    let name = name_of(ATTRIBUTES, code).map_or(Tree::Null, |n| Tree::Str(n.into()));
    Ok(obj(vec![
        ("name", name),
        ("value", value),
        ("code", num(code)),
        ("optional", Tree::Bool(flags & 0x80 != 0)),
        ("transitive", Tree::Bool(flags & 0x40 != 0)),
        ("partial", Tree::Bool(flags & 0x20 != 0)),
    ]))
}

fn attribute_value(code: u8, data: &[u8], as4: bool) -> Result<Tree, Malformed> {
    let mut r = Reader(data);
    Ok(match code {
        1 => num(r.u8()?),
        2 => as_path(&mut r, as4)?,
        3 => r.ipv4()?,
        4 | 5 => num(r.u32()?),
        6 => Tree::Undefined,
        7 => {
            let number = r.as_number(as4)?;
            Tree::Array(vec![num(number), r.ipv4()?])
        }
        _ => Tree::Data(Bytes::copy_from_slice(data)),
    })
}

/// Segments: an AS_SEQUENCE is an array of AS numbers, an AS_SET an object keyed by them.
fn as_path(r: &mut Reader, as4: bool) -> Result<Tree, Malformed> {
    let mut segments = Vec::new();
    while !r.is_empty() {
        let kind = r.u8()?;
        let size = r.u8()?;
        let numbers = (0..size).map(|_| r.as_number(as4)).collect::<Result<Vec<_>, _>>()?;
        segments.push(match kind {
            1 => Tree::Object(numbers.into_iter().map(|n| (n.to_string(), num(n))).collect()),
            2 => Tree::Array(numbers.into_iter().map(num).collect()),
            _ => return Err(Malformed),
        });
    }
    Ok(Tree::Array(segments))
}

fn notification(r: &mut Reader, empty: bool) -> Result<Tree, Malformed> {
    let (code, subcode) = if empty { (0, 0) } else { (r.u8()?, r.u8()?) };
    let data = if r.is_empty() { Tree::Null } else { Tree::Data(Bytes::copy_from_slice(r.0)) };
    Ok(obj(vec![("errorCode", num(code)), ("errorSubcode", num(subcode)), ("data", data)]))
}

fn route_refresh(r: &mut Reader, empty: bool) -> Result<Tree, Malformed> {
    if empty {
        return Ok(obj(vec![("afi", num(0)), ("safi", num(0))]));
    }
    let afi = r.u16()?;
    r.u8()?;
    let safi = r.u8()?;
    Ok(obj(vec![("afi", num(afi)), ("safi", num(safi))]))
}

#[cfg(test)]
#[path = "bgp_tests.rs"]
mod tests;
