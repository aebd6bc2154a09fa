//! Writing MQTT packets from the message shape `mqtt` reads (a head, a payload object, and
//! for PUBLISH the body), as Pipy's `encodeMQTT` writes them: 5.0 packets always carry their
//! reason code and properties length, and missing fields read as zero.

use super::fields::{absent, bytes, field as get, int, items, truthy};
use super::mqtt::{CONNECT, Kind, PROPERTIES, PUBLISH, TYPES, USER_PROPERTY};
use super::tree::Tree;

/// The biggest remaining length the fixed header can say.
const MAX_REMAINING: usize = 268_435_455;

/// The packet type a head names (`type` by name, or by number); `None` for no packet type.
pub fn kind(head: &Tree) -> Option<u8> {
    match get(head, "type") {
        Tree::Str(name) => TYPES.iter().position(|t| !t.is_empty() && t == name).map(|i| i as u8),
        t @ (Tree::Number(_) | Tree::Int(_)) => u8::try_from(int(t)).ok().filter(|k| (1..=15).contains(k)),
        _ => None,
    }
}

/// The protocol level to write `head` at: its own `protocolLevel`, or the connection's.
pub fn level(head: &Tree, connection: u8) -> u8 {
    match get(head, "protocolLevel") {
        t @ (Tree::Number(_) | Tree::Int(_) | Tree::Str(_)) => u8::try_from(int(t)).unwrap_or(connection),
        _ => connection,
    }
}

/// Appends the packet; an error says why it cannot be written.
pub fn encode(head: &Tree, payload: &Tree, body: &[u8], conn_level: u8, out: &mut Vec<u8>) -> Result<(), String> {
    let kind = kind(head).ok_or("a head without a packet type")?;
    let w = Writer { level: level(head, conn_level), buf: Vec::new() };
    let (flags, rest) = match kind {
        CONNECT => (0, w.connect(head, payload)),
        2 => (0, w.connack(head)),
        PUBLISH => (publish_flags(head), w.publish(head, body)),
        4..=7 => (if kind == 6 { 2 } else { 0 }, w.ack(head)),
        8 => (2, w.subscribe(head, payload)),
        10 => (2, w.unsubscribe(head, payload)),
        9 | 11 => (0, w.codes(head, payload)),
        12 | 13 => (0, Vec::new()),
        _ => (0, w.ack_v5(head)),
    };
    if rest.len() > MAX_REMAINING {
        return Err(format!("a packet of {} bytes, more than MQTT can frame", rest.len()));
    }
    out.push(kind << 4 | flags);
    var_int(out, rest.len() as u32);
    out.extend_from_slice(&rest);
    Ok(())
}

fn publish_flags(head: &Tree) -> u8 {
    let mut flags = ((int(get(head, "qos")) & 3) as u8) << 1;
    if truthy(get(head, "dup")) {
        flags |= 0x08;
    }
    if truthy(get(head, "retain")) {
        flags |= 0x01;
    }
    flags
}

fn var_int(out: &mut Vec<u8>, mut n: u32) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        out.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            return;
        }
    }
}

/// A packet's bytes after the fixed header.
struct Writer {
    level: u8,
    buf: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, n: i64) {
        self.buf.push(n as u8);
    }

    fn u16(&mut self, n: i64) {
        self.buf.extend_from_slice(&(n as u16).to_be_bytes());
    }

    /// A string or binary field, cut to the 65535 bytes its length can say.
    fn bin(&mut self, v: &Tree) {
        let b = bytes(v);
        let b = &b[..b.len().min(0xffff)];
        self.u16(b.len() as i64);
        self.buf.extend_from_slice(b);
    }

    fn properties(&mut self, props: &Tree) {
        if self.level < 5 {
            return;
        }
        let mut p = Writer { level: self.level, buf: Vec::new() };
        if let Tree::Object(fields) = props {
            for (name, v) in fields {
                match PROPERTIES.iter().find(|p| p.1 == name) {
                    Some(&(id, _, kind)) => {
                        p.buf.push(id);
                        match kind {
                            Kind::VarInt => var_int(&mut p.buf, int(v) as u32),
                            Kind::U8 => p.u8(int(v)),
                            Kind::U16 => p.u16(int(v)),
                            Kind::U32 => p.buf.extend_from_slice(&(int(v) as u32).to_be_bytes()),
                            Kind::Str => p.bin(&Tree::Str(v.text())),
                            Kind::Bin => p.bin(if matches!(v, Tree::Data(_)) { v } else { &Tree::Null }),
                        }
                    }
                    None => {
                        p.buf.push(USER_PROPERTY);
                        p.bin(&Tree::Str(name.clone()));
                        p.bin(&Tree::Str(v.text()));
                    }
                }
            }
        }
        var_int(&mut self.buf, p.buf.len() as u32);
        self.buf.extend_from_slice(&p.buf);
    }

    fn connect(mut self, head: &Tree, payload: &Tree) -> Vec<u8> {
        let will = get(payload, "will");
        let mut flags = 0u8;
        if truthy(get(payload, "cleanStart")) {
            flags |= 0x02;
        }
        if !absent(will) {
            flags |= 0x04 | ((int(get(will, "qos")) & 3) as u8) << 3;
            if truthy(get(will, "retain")) {
                flags |= 0x20;
            }
        }
        if !absent(get(payload, "username")) {
            flags |= 0x80;
        }
        if !absent(get(payload, "password")) {
            flags |= 0x40;
        }
        let name = if self.level == 3 { "MQIsdp" } else { "MQTT" };
        self.bin(&Tree::Str(name.into()));
        self.u8(self.level.into());
        self.u8(flags.into());
        self.u16(int(get(head, "keepAlive")));
        self.properties(get(head, "properties"));
        self.bin(get(payload, "clientID"));
        if !absent(will) {
            self.properties(get(will, "properties"));
            self.bin(get(will, "topic"));
            self.bin(get(will, "payload"));
        }
        for field in ["username", "password"] {
            if !absent(get(payload, field)) {
                self.bin(get(payload, field));
            }
        }
        self.buf
    }

    fn connack(mut self, head: &Tree) -> Vec<u8> {
        self.u8(truthy(get(head, "sessionPresent")).into());
        self.u8(int(get(head, "reasonCode")));
        self.properties(get(head, "properties"));
        self.buf
    }

    fn publish(mut self, head: &Tree, body: &[u8]) -> Vec<u8> {
        self.bin(get(head, "topicName"));
        if int(get(head, "qos")) & 3 > 0 {
            self.u16(int(get(head, "packetIdentifier")));
        }
        self.properties(get(head, "properties"));
        self.buf.extend_from_slice(body);
        self.buf
    }

    /// PUBACK, PUBREC, PUBREL and PUBCOMP: the packet identifier, and in 5.0 the reason code
    /// and properties.
    fn ack(mut self, head: &Tree) -> Vec<u8> {
        self.u16(int(get(head, "packetIdentifier")));
        self.ack_v5(head)
    }

    /// DISCONNECT and AUTH: in 5.0 the reason code and properties, before that nothing.
    fn ack_v5(mut self, head: &Tree) -> Vec<u8> {
        if self.level >= 5 {
            self.u8(int(get(head, "reasonCode")));
            self.properties(get(head, "properties"));
        }
        self.buf
    }

    fn subscribe(mut self, head: &Tree, payload: &Tree) -> Vec<u8> {
        self.u16(int(get(head, "packetIdentifier")));
        self.properties(get(head, "properties"));
        for f in items(get(payload, "topicFilters")) {
            self.bin(get(f, "filter"));
            self.u8(int(get(f, "qos")) & 3);
        }
        self.buf
    }

    fn unsubscribe(mut self, head: &Tree, payload: &Tree) -> Vec<u8> {
        self.u16(int(get(head, "packetIdentifier")));
        self.properties(get(head, "properties"));
        for topic in items(payload) {
            self.bin(&Tree::Str(topic.text()));
        }
        self.buf
    }

    /// SUBACK and UNSUBACK: the reason codes the payload lists.
    fn codes(mut self, head: &Tree, payload: &Tree) -> Vec<u8> {
        self.u16(int(get(head, "packetIdentifier")));
        self.properties(get(head, "properties"));
        for code in items(payload) {
            self.u8(int(code));
        }
        self.buf
    }
}
