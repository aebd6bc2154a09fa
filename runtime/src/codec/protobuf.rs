//! The protobuf wire format without a schema, as Pipy's `protobuf.Message` holds it: each
//! field number keeps its records (wire type and bits, or bytes) in the order they came, and
//! a message is written field by field in ascending order.
//!
//! Our own code rather than a crate's: prost's wire functions (`prost::encoding`) are hidden
//! from its documentation as meant only for the code its derive macro generates, and its
//! public API needs each message's schema at build time, where Pipy's messages have none;
//! what is left is varints and little-endian words.

use std::collections::BTreeMap;

use bytes::Bytes;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    Varint,
    I64,
    Len,
    I32,
}

impl Wire {
    /// The name Pipy's `getWireType` gives.
    pub fn name(self) -> &'static str {
        match self {
            Wire::Varint => "VARINT",
            Wire::I64 => "I64",
            Wire::Len => "LEN",
            Wire::I32 => "I32",
        }
    }

    fn code(self) -> u64 {
        match self {
            Wire::Varint => 0,
            Wire::I64 => 1,
            Wire::Len => 2,
            Wire::I32 => 5,
        }
    }
}

/// One occurrence of a field: a number's bits, or a `Len` record's bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub wire: Wire,
    pub bits: u64,
    pub data: Bytes,
}

impl Record {
    pub fn number(wire: Wire, bits: u64) -> Record {
        Record { wire, bits, data: Bytes::new() }
    }

    pub fn bytes(data: Bytes) -> Record {
        Record { wire: Wire::Len, bits: 0, data }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Message {
    fields: BTreeMap<u32, Vec<Record>>,
}

impl Message {
    /// The records of `bytes`, or `None` when they are not the wire format, or one field
    /// comes with two wire types (as Pipy refuses them).
    pub fn decode(bytes: &[u8]) -> Option<Message> {
        let mut r = bytes;
        let mut fields: BTreeMap<u32, Vec<Record>> = BTreeMap::new();
        while !r.is_empty() {
            let tag = varint(&mut r)?;
            let field = u32::try_from(tag >> 3).ok()?;
            let rec = match tag & 7 {
                0 => Record::number(Wire::Varint, varint(&mut r)?),
                1 => Record::number(Wire::I64, u64::from_le_bytes(take(&mut r, 8)?.try_into().ok()?)),
                2 => {
                    let len = usize::try_from(varint(&mut r)?).ok()?;
                    Record::bytes(Bytes::copy_from_slice(take(&mut r, len)?))
                }
                5 => Record::number(Wire::I32, u64::from(u32::from_le_bytes(take(&mut r, 4)?.try_into().ok()?))),
                _ => return None,
            };
            let list = fields.entry(field).or_default();
            if list.first().is_some_and(|f| f.wire != rec.wire) {
                return None;
            }
            list.push(rec);
        }
        Some(Message { fields })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        for (field, records) in &self.fields {
            for rec in records {
                put_varint(u64::from(*field) << 3 | rec.wire.code(), out);
                match rec.wire {
                    Wire::Varint => put_varint(rec.bits, out),
                    Wire::I64 => out.extend_from_slice(&rec.bits.to_le_bytes()),
                    Wire::I32 => out.extend_from_slice(&(rec.bits as u32).to_le_bytes()),
                    Wire::Len => {
                        put_varint(rec.data.len() as u64, out);
                        out.extend_from_slice(&rec.data);
                    }
                }
            }
        }
    }

    /// The wire type of a field's last record.
    pub fn wire(&self, field: u32) -> Option<Wire> {
        self.last(field).map(|r| r.wire)
    }

    /// A field's last record: the one a singular field reads, as in protobuf.
    pub fn last(&self, field: u32) -> Option<&Record> {
        self.fields.get(&field).and_then(|l| l.last())
    }

    pub fn all(&self, field: u32) -> &[Record] {
        self.fields.get(&field).map_or(&[], |l| l.as_slice())
    }

    /// Replaces the field's records.
    pub fn set(&mut self, field: u32, records: Vec<Record>) {
        self.fields.insert(field, records);
    }
}

/// A varint of at most 10 bytes; bits past 64 are dropped, as Pipy drops them.
fn varint(r: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for i in 0..10 {
        let (&b, rest) = r.split_first()?;
        *r = rest;
        n |= u64::from(b & 0x7f).checked_shl(7 * i).unwrap_or(0);
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

fn take<'a>(r: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if r.len() < n {
        return None;
    }
    let (head, rest) = r.split_at(n);
    *r = rest;
    Some(head)
}

pub fn put_varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The scalar types of `get<Type>` and `set<Type>`: how each reads and writes its bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    Float,
    Double,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
}

impl Scalar {
    /// The wire type of one value.
    pub fn wire(self) -> Wire {
        match self {
            Scalar::Float | Scalar::Fixed32 | Scalar::Sfixed32 => Wire::I32,
            Scalar::Double | Scalar::Fixed64 | Scalar::Sfixed64 => Wire::I64,
            _ => Wire::Varint,
        }
    }

    /// A record's bits as a number (a bool as 0 or 1).
    pub fn value(self, bits: u64) -> f64 {
        match self {
            Scalar::Float => f64::from(f32::from_bits(bits as u32)),
            Scalar::Double => f64::from_bits(bits),
            Scalar::Int32 | Scalar::Sfixed32 => f64::from(bits as u32 as i32),
            Scalar::Int64 | Scalar::Sfixed64 => bits as i64 as f64,
            Scalar::Uint32 | Scalar::Fixed32 => f64::from(bits as u32),
            Scalar::Uint64 | Scalar::Fixed64 => bits as f64,
            Scalar::Sint32 => f64::from((bits as u32 >> 1) as i32 ^ -((bits & 1) as i32)),
            Scalar::Sint64 => ((bits >> 1) as i64 ^ -((bits & 1) as i64)) as f64,
            Scalar::Bool => f64::from(u8::from(bits != 0)),
        }
    }

    /// A number's bits. An `int32` is sign-extended to 64 bits, as protobuf writes it.
    pub fn bits(self, n: f64) -> u64 {
        match self {
            Scalar::Float => u64::from((n as f32).to_bits()),
            Scalar::Double => n.to_bits(),
            Scalar::Int32 => n as i32 as i64 as u64,
            Scalar::Int64 | Scalar::Sfixed64 | Scalar::Uint64 | Scalar::Fixed64 => n as i64 as u64,
            Scalar::Uint32 | Scalar::Fixed32 => u64::from(n as i64 as u32),
            Scalar::Sfixed32 => u64::from(n as i32 as u32),
            Scalar::Sint32 => {
                let i = n as i32;
                u64::from((i << 1 ^ i >> 31) as u32)
            }
            Scalar::Sint64 => {
                let i = n as i64;
                (i << 1 ^ i >> 63) as u64
            }
            Scalar::Bool => u64::from(n != 0.0),
        }
    }

    /// The bits of the values a packed `Len` record holds, or `None` if it is cut short.
    pub fn unpack(self, mut data: &[u8]) -> Option<Vec<u64>> {
        let mut out = Vec::new();
        while !data.is_empty() {
            out.push(match self.wire() {
                Wire::I32 => u64::from(u32::from_le_bytes(take(&mut data, 4)?.try_into().ok()?)),
                Wire::I64 => u64::from_le_bytes(take(&mut data, 8)?.try_into().ok()?),
                _ => varint(&mut data)?,
            });
        }
        Some(out)
    }

    /// Values packed into the bytes of one `Len` record.
    pub fn pack(self, bits: &[u64]) -> Bytes {
        let mut out = Vec::new();
        for b in bits {
            match self.wire() {
                Wire::I32 => out.extend_from_slice(&(*b as u32).to_le_bytes()),
                Wire::I64 => out.extend_from_slice(&b.to_le_bytes()),
                _ => put_varint(*b, &mut out),
            }
        }
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn fields_are_written_in_ascending_order_and_repeats_keep_theirs() {
        // Field 2 "b", field 1 = 150, field 2 "a".
        let bytes = b"\x12\x01b\x08\x96\x01\x12\x01a";
        let m = Message::decode(bytes).unwrap();
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, b"\x08\x96\x01\x12\x01b\x12\x01a");
        assert_eq!(m.wire(1), Some(Wire::Varint));
        assert_eq!(Scalar::Int32.value(m.last(1).unwrap().bits), 150.0);
        assert_eq!(m.last(2).unwrap().data.as_ref(), b"a");
    }

    #[test]
    fn malformed_or_mixed_wire_types_are_refused() {
        assert_eq!(Message::decode(b"\x08"), None);
        assert_eq!(Message::decode(b"\x0b"), None, "groups are not supported");
        assert_eq!(Message::decode(b"\x12\x05ab"), None);
        assert_eq!(Message::decode(b"\x08\x01\x0d\x00\x00\x00\x00"), None);
        assert_eq!(Message::decode(&[0xff; 11]), None);
    }

    #[test]
    fn scalars_read_and_write_as_protobuf_does() {
        assert_eq!(Scalar::Int32.bits(-1.0), u64::MAX);
        assert_eq!(Scalar::Int32.value(u64::MAX), -1.0);
        assert_eq!(Scalar::Sint32.bits(-1.0), 1);
        assert_eq!(Scalar::Sint32.value(3), -2.0);
        assert_eq!(Scalar::Sint64.bits(-2.0), 3);
        assert_eq!(Scalar::Uint32.value(u64::from(u32::MAX)), 4294967295.0);
        assert_eq!(Scalar::Float.value(Scalar::Float.bits(1.5)), 1.5);
        assert_eq!(Scalar::Sfixed32.value(Scalar::Sfixed32.bits(-7.0)), -7.0);
        assert_eq!(Scalar::Bool.value(Scalar::Bool.bits(2.0)), 1.0);
        assert_eq!(Scalar::Double.pack(&[1.0f64.to_bits()]).as_ref(), 1.0f64.to_le_bytes());
        assert_eq!(Scalar::Int32.pack(&[3, 270]).as_ref(), b"\x03\x8e\x02");
        assert_eq!(Scalar::Int32.unpack(b"\x03\x8e\x02"), Some(vec![3, 270]));
        assert_eq!(Scalar::Fixed32.unpack(b"\x01\x00\x00"), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Some(m) = Message::decode(&bytes) {
                let mut out = Vec::new();
                m.encode(&mut out);
                prop_assert_eq!(Message::decode(&out), Some(m));
            }
        }

        #[test]
        fn scalars_survive_their_bits(n in any::<i32>()) {
            for s in [Scalar::Int32, Scalar::Int64, Scalar::Sint32, Scalar::Sint64, Scalar::Sfixed32, Scalar::Sfixed64, Scalar::Double] {
                prop_assert_eq!(s.value(s.bits(f64::from(n))), f64::from(n));
            }
        }
    }
}
