//! MQTT 3.1, 3.1.1 and 5.0 packets, read into the message shape Pipy gives scripts: a head
//! `{ type, dup, retain, sessionPresent, qos, packetIdentifier, protocolLevel, keepAlive,
//! reasonCode, topicName, properties }`, the bytes after the variable header as the body (a
//! PUBLISH's application message), and for CONNECT, SUBSCRIBE, SUBACK, UNSUBSCRIBE and
//! UNSUBACK a payload object. Writing them back is `mqtt_encode`.
//!
//! The protocol level is a property of the connection, not of a packet: the decoder learns it
//! from the CONNECT it reads, or, reading a server's side, from the size of the CONNACK (two
//! bytes up to 3.1.1, at least three in 5.0, which adds properties), and reads 5.0 until it
//! knows.

use bytes::{Bytes, BytesMut};

use super::tree::Tree;

/// Packet type names by number, as Pipy's `PacketType` names them (0 is reserved).
pub const TYPES: [&str; 16] = [
    "",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

pub const CONNECT: u8 = 1;
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;

/// The level a connection is read and written at until a CONNECT or CONNACK says otherwise.
pub const DEFAULT_LEVEL: u8 = 5;

/// The user property: any name that is not one of [`PROPERTIES`].
pub const USER_PROPERTY: u8 = 38;

/// How a property's value is written.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    VarInt,
    U8,
    U16,
    U32,
    Str,
    Bin,
}

/// MQTT 5.0 properties by identifier, with the names Pipy gives them.
pub const PROPERTIES: &[(u8, &str, Kind)] = &[
    (1, "payloadFormatIndicator", Kind::U8),
    (2, "messageExpiryInterval", Kind::U32),
    (3, "contentType", Kind::Str),
    (8, "responseTopic", Kind::Str),
    (9, "correlationData", Kind::Bin),
    (11, "subscriptionIdentifier", Kind::VarInt),
    (17, "sessionExpiryInterval", Kind::U32),
    (18, "assignedClientIdentifier", Kind::Str),
    (19, "serverKeepAlive", Kind::U16),
    (21, "authenticationMethod", Kind::Str),
    (22, "authenticationData", Kind::Bin),
    (23, "requestProblemInfo", Kind::U8),
    (24, "willDelayInterval", Kind::U32),
    (25, "requestResponseInfo", Kind::U8),
    (26, "responseInfo", Kind::Str),
    (28, "serverReference", Kind::Str),
    (31, "reasonString", Kind::Str),
    (33, "receiveMaximum", Kind::U16),
    (34, "topicAliasMaximum", Kind::U16),
    (35, "topicAlias", Kind::U16),
    (36, "maximumQoS", Kind::U8),
    (37, "retainAvailable", Kind::U8),
    (39, "maximumPacketSize", Kind::U32),
    (40, "wildcardSubscriptionAvailable", Kind::U8),
    (41, "subscriptionIdentifierAvailable", Kind::U8),
    (42, "sharedSubscriptionAvailable", Kind::U8),
];

#[derive(Debug, PartialEq)]
pub enum DecodeError {
    /// Bytes that are not an MQTT packet.
    Malformed,
    /// A packet bigger than the decoder may hold.
    TooBig,
}

/// One decoded packet.
#[derive(Debug, PartialEq)]
pub struct Packet {
    pub head: Tree,
    pub body: Bytes,
    pub payload: Tree,
}

/// A streaming decoder: bytes in, whole packets out, however the bytes are split. It holds
/// one packet at a time, at most `limit` bytes of it.
pub struct Decoder {
    buf: BytesMut,
    limit: usize,
    level: Option<u8>,
}

impl Decoder {
    pub fn new(limit: usize) -> Decoder {
        Decoder { buf: BytesMut::new(), limit, level: None }
    }

    /// Takes more input and appends the packets it completed to `out`, those before an error
    /// too.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Packet>) -> Result<(), DecodeError> {
        self.buf.extend_from_slice(data);
        while let Some((first, len, at)) = fixed_header(&self.buf)? {
            if len > self.limit {
                return Err(DecodeError::TooBig);
            }
            if self.buf.len() < at + len {
                self.buf.reserve(at + len - self.buf.len());
                break;
            }
            let frame = self.buf.split_to(at + len).freeze().slice(at..);
            out.push(self.packet(first, frame)?);
        }
        Ok(())
    }

    /// Whether a packet was begun and not finished.
    pub fn is_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    fn packet(&mut self, first: u8, frame: Bytes) -> Result<Packet, DecodeError> {
        let kind = first >> 4;
        let guess = match (kind, self.level) {
            (CONNACK, None) => Some(if frame.len() == 2 { 4 } else { 5 }),
            _ => self.level,
        };
        let mut p = Parser::new(first, guess.unwrap_or(DEFAULT_LEVEL), frame);
        let payload = p.packet().ok_or(DecodeError::Malformed)?;
        if kind == CONNECT || kind == CONNACK {
            self.level = Some(p.level);
        }
        let body = p.frame.slice(p.payload_at..);
        Ok(Packet { head: p.head(), body, payload })
    }
}

/// The first byte, the remaining length and where the rest starts; `None` until all of the
/// fixed header is there.
fn fixed_header(buf: &[u8]) -> Result<Option<(u8, usize, usize)>, DecodeError> {
    let Some(&first) = buf.first() else { return Ok(None) };
    if first >> 4 == 0 {
        return Err(DecodeError::Malformed);
    }
    let mut len = 0usize;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else { return Ok(None) };
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((first, len, 2 + i)));
        }
    }
    Err(DecodeError::Malformed)
}

/// Reads one packet's variable header and payload.
struct Parser {
    first: u8,
    level: u8,
    frame: Bytes,
    pos: usize,
    payload_at: usize,
    packet_id: u16,
    keep_alive: u16,
    reason: u8,
    session_present: bool,
    topic: Option<String>,
    properties: Option<Vec<(String, Tree)>>,
}

impl Parser {
    fn new(first: u8, level: u8, frame: Bytes) -> Parser {
        Parser {
            first,
            level,
            frame,
            pos: 0,
            payload_at: 0,
            packet_id: 0,
            keep_alive: 0,
            reason: 0,
            session_present: false,
            topic: None,
            properties: None,
        }
    }

    fn u8(&mut self) -> Option<u8> {
        let b = *self.frame.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes([self.u8()?, self.u8()?, self.u8()?, self.u8()?]))
    }

    fn var_int(&mut self) -> Option<u32> {
        let mut n = 0u32;
        for i in 0..4 {
            let b = self.u8()?;
            n |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    /// A two-byte length and that many bytes.
    fn bin(&mut self) -> Option<Bytes> {
        let len = usize::from(self.u16()?);
        let end = self.pos.checked_add(len).filter(|e| *e <= self.frame.len())?;
        let b = self.frame.slice(self.pos..end);
        self.pos = end;
        Some(b)
    }

    fn str(&mut self) -> Option<String> {
        self.bin().map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    fn at_end(&self) -> bool {
        self.pos >= self.frame.len()
    }

    /// The variable header and the payload object; `None` if the packet is malformed.
    fn packet(&mut self) -> Option<Tree> {
        let v5 = |p: &Parser| p.level >= 5;
        let mut payload = Tree::Undefined;
        match self.first >> 4 {
            CONNECT => {
                let name = self.str()?;
                self.level = self.u8()?;
                if !(name == "MQTT" || name == "MQIsdp" && self.level == 3) {
                    return None;
                }
                let flags = self.u8()?;
                self.keep_alive = self.u16()?;
                if v5(self) {
                    self.properties = Some(self.properties()?);
                }
                self.payload_at = self.pos;
                payload = self.connect_payload(flags)?;
            }
            CONNACK => {
                self.session_present = self.u8()? & 1 != 0;
                self.reason = self.u8().unwrap_or(0);
                self.optional_properties()?;
            }
            PUBLISH => {
                if (self.first >> 1) & 3 == 3 {
                    return None;
                }
                self.topic = Some(self.str()?);
                if (self.first >> 1) & 3 > 0 {
                    self.packet_id = self.u16()?;
                }
                if v5(self) {
                    self.properties = Some(self.properties()?);
                }
            }
            4..=7 => {
                self.packet_id = self.u16()?;
                self.reason = self.u8().unwrap_or(0);
                self.optional_properties()?;
            }
            8..=11 => {
                self.packet_id = self.u16()?;
                if v5(self) {
                    self.properties = Some(self.properties()?);
                }
                self.payload_at = self.pos;
                payload = self.list_payload()?;
            }
            12 | 13 => {}
            _ => {
                self.reason = self.u8().unwrap_or(0);
                self.optional_properties()?;
            }
        }
        if self.payload_at == 0 {
            self.payload_at = self.pos;
        }
        Some(payload)
    }

    /// Properties where 5.0 lets a packet end before them (a reason code of success and no
    /// properties may be left out).
    fn optional_properties(&mut self) -> Option<()> {
        if self.level >= 5 && !self.at_end() {
            self.properties = Some(self.properties()?);
        }
        Some(())
    }

    fn properties(&mut self) -> Option<Vec<(String, Tree)>> {
        let size = self.var_int()? as usize;
        let end = self.pos.checked_add(size).filter(|e| *e <= self.frame.len())?;
        let mut props = Vec::new();
        while self.pos < end {
            let id = self.u8()?;
            let (name, value) = if id == USER_PROPERTY {
                (self.str()?, Tree::Str(self.str()?))
            } else {
                let &(_, name, kind) = PROPERTIES.iter().find(|p| p.0 == id)?;
                let value = match kind {
                    Kind::VarInt => Tree::Number(self.var_int()?.into()),
                    Kind::U8 => Tree::Number(self.u8()?.into()),
                    Kind::U16 => Tree::Number(self.u16()?.into()),
                    Kind::U32 => Tree::Number(self.u32()?.into()),
                    Kind::Str => Tree::Str(self.str()?),
                    Kind::Bin => Tree::Data(self.bin()?),
                };
                (name.to_string(), value)
            };
            set(&mut props, name, value);
        }
        (self.pos == end).then_some(props)
    }

    fn connect_payload(&mut self, flags: u8) -> Option<Tree> {
        let mut fields = vec![("clientID".to_string(), Tree::Str(self.str()?))];
        let mut will = None;
        if flags & 0x04 != 0 {
            let props = if self.level >= 5 { self.properties()? } else { Vec::new() };
            will = Some(Tree::Object(vec![
                ("qos".into(), Tree::Number(f64::from((flags >> 3) & 3))),
                ("retain".into(), Tree::Bool(flags & 0x20 != 0)),
                ("properties".into(), Tree::Object(props)),
                ("topic".into(), Tree::Str(self.str()?)),
                ("payload".into(), Tree::Data(self.bin()?)),
            ]));
        }
        if flags & 0x80 != 0 {
            fields.push(("username".into(), Tree::Str(self.str()?)));
        }
        if flags & 0x40 != 0 {
            fields.push(("password".into(), Tree::Data(self.bin()?)));
        }
        if let Some(will) = will {
            fields.push(("will".into(), will));
        }
        fields.push(("cleanStart".into(), Tree::Bool(flags & 0x02 != 0)));
        Some(Tree::Object(fields))
    }

    /// SUBSCRIBE's topic filters, UNSUBSCRIBE's topics, the reason codes of the acks.
    fn list_payload(&mut self) -> Option<Tree> {
        let kind = self.first >> 4;
        let mut items = Vec::new();
        while !self.at_end() {
            items.push(match kind {
                8 => {
                    let filter = Tree::Str(self.str()?);
                    let qos = Tree::Number(f64::from(self.u8()? & 3));
                    Tree::Object(vec![("filter".into(), filter), ("qos".into(), qos)])
                }
                10 => Tree::Str(self.str()?),
                _ => Tree::Number(self.u8()?.into()),
            });
        }
        Some(if kind == 8 {
            Tree::Object(vec![("topicFilters".into(), Tree::Array(items))])
        } else {
            Tree::Array(items)
        })
    }

    fn head(&mut self) -> Tree {
        let num = |n: f64| Tree::Number(n);
        let mut fields = vec![
            ("type".to_string(), Tree::Str(TYPES[usize::from(self.first >> 4)].into())),
            ("dup".into(), Tree::Bool(self.first & 0x08 != 0)),
            ("retain".into(), Tree::Bool(self.first & 0x01 != 0)),
            ("sessionPresent".into(), Tree::Bool(self.session_present)),
            ("qos".into(), num(f64::from((self.first >> 1) & 3))),
            ("packetIdentifier".into(), num(self.packet_id.into())),
            ("protocolLevel".into(), num(self.level.into())),
            ("keepAlive".into(), num(self.keep_alive.into())),
            ("reasonCode".into(), num(self.reason.into())),
        ];
        if let Some(t) = self.topic.take() {
            fields.push(("topicName".into(), Tree::Str(t)));
        }
        if let Some(p) = self.properties.take().filter(|p| !p.is_empty()) {
            fields.push(("properties".into(), Tree::Object(p)));
        }
        Tree::Object(fields)
    }
}

/// Sets a field, replacing one of the same name (a property given twice keeps the last, as in
/// Pipy).
fn set(fields: &mut Vec<(String, Tree)>, name: String, value: Tree) {
    match fields.iter_mut().find(|(k, _)| *k == name) {
        Some(f) => f.1 = value,
        None => fields.push((name, value)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::codec::mqtt_encode::encode;

    /// A 5.0 CONNECT with properties, a PUBLISH with a user property, a short PUBACK, a
    /// SUBSCRIBE, a PINGREQ.
    const SAMPLE: &[u8] = b"\x10\x14\x00\x04MQTT\x05\x02\x00\x3c\x05\x11\x00\x00\x00\x0a\x00\x02c1\
\x32\x12\x00\x03a/b\x00\x05\x07\x26\x00\x01k\x00\x01vhey\
\x40\x02\x00\x05\
\x82\x09\x00\x06\x00\x00\x03a/#\x01\
\xc0\x00";

    fn decode_split(input: &[u8], cuts: &[usize]) -> (Vec<Packet>, Option<DecodeError>) {
        let mut d = Decoder::new(1 << 20);
        let mut out = Vec::new();
        let mut from = 0;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            let c = c.clamp(from, input.len());
            if let Err(e) = d.feed(&input[from..c], &mut out) {
                return (out, Some(e));
            }
            from = c;
        }
        (out, None)
    }

    #[test]
    fn known_packets_decode_and_encode_back() {
        let (packets, error) = decode_split(SAMPLE, &[]);
        assert_eq!(error, None);
        assert_eq!(packets.len(), 5);
        assert_eq!(packets[1].body.as_ref(), b"hey");
        let props = crate::codec::fields::field(&packets[1].head, "properties");
        assert_eq!(props, &Tree::Object(vec![("k".into(), Tree::Str("v".into()))]));
        let mut out = Vec::new();
        for p in &packets {
            encode(&p.head, &p.payload, &p.body, 5, &mut out).unwrap();
        }
        // The short 5.0 PUBACK comes back with its reason code and properties length, as
        // Pipy writes it.
        let want = [&SAMPLE[..42], b"\x40\x04\x00\x05\x00\x00", &SAMPLE[46..]].concat();
        assert_eq!(out, want);
    }

    #[test]
    fn the_level_comes_from_connect_or_the_size_of_connack() {
        let (p, _) = decode_split(b"\x20\x02\x01\x00\x90\x03\x00\x01\x00", &[]);
        assert_eq!(crate::codec::fields::field(&p[1].head, "protocolLevel"), &Tree::Number(4.0));
        assert_eq!(p[1].payload, Tree::Array(vec![Tree::Number(0.0)]));
        let (p, _) = decode_split(b"\x20\x03\x01\x00\x00\x90\x04\x00\x01\x00\x00", &[]);
        assert_eq!(crate::codec::fields::field(&p[1].head, "protocolLevel"), &Tree::Number(5.0));
    }

    #[test]
    fn malformed_and_oversized_input_is_refused() {
        assert_eq!(decode_split(b"\x00\x00", &[]).1, Some(DecodeError::Malformed));
        assert_eq!(decode_split(b"\xc0\xff\xff\xff\xff\x01", &[]).1, Some(DecodeError::Malformed));
        assert_eq!(decode_split(b"\x36\x03\x00\x01x", &[]).1, Some(DecodeError::Malformed));
        assert_eq!(decode_split(b"\x40\x01\x00", &[]).1, Some(DecodeError::Malformed));
        let mut d = Decoder::new(64);
        assert_eq!(d.feed(b"\x30\x80\x02", &mut Vec::new()), Err(DecodeError::TooBig));
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_packets(cuts in proptest::collection::vec(0..SAMPLE.len(), 0..8)) {
            let mut cuts = cuts;
            cuts.sort();
            prop_assert_eq!(decode_split(SAMPLE, &cuts), decode_split(SAMPLE, &[]));
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_split_the_same(
            input in proptest::collection::vec(prop_oneof![Just(0x10u8), Just(0x30), Just(0x82), Just(0), Just(4), any::<u8>()], 0..64),
            cut in 0..64usize,
        ) {
            let whole = decode_split(&input, &[]);
            prop_assert_eq!(decode_split(&input, &[cut]), whole);
        }
    }
}
