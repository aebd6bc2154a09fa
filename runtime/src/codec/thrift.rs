//! Thrift messages in the binary protocol (strict and old encodings) and the compact
//! protocol, read into the shape Pipy's `Thrift` gives scripts:
//! `{ protocol, type, seqID, name, fields }`, each field `{ id, type, value }`, a list or set
//! `{ elementType, elements }`, a map `{ keyType, valueType, pairs: [[key, value], ...] }`;
//! type names `BOOL`, `I8`, `I16`, `I32`, `I64` (a BigInt), `DOUBLE`, `BINARY` (a string if it
//! is UTF-8, else `Data`), `STRUCT` (an array of fields), `MAP`, `SET`, `LIST`, `UUID` (text).
//! Writing them back is `thrift_encode`.

use bytes::{Buf, BytesMut};

use super::thrift_scan::{Scan, Scanner};
use super::tree::Tree;

/// Value types by Pipy's names; the index is [`Ty`]'s.
pub const TYPES: [&str; 12] =
    ["BOOL", "I8", "I16", "I32", "I64", "DOUBLE", "BINARY", "STRUCT", "MAP", "SET", "LIST", "UUID"];

/// Message types by number (0 is none).
pub const MESSAGE_TYPES: [&str; 5] = ["", "call", "reply", "exception", "oneway"];

/// Containers nested deeper than this are refused rather than risk the stack.
pub(super) const MAX_DEPTH: usize = 64;

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Ty {
    Bool,
    I8,
    I16,
    I32,
    I64,
    Double,
    Binary,
    Struct,
    Map,
    Set,
    List,
    Uuid,
}

const ALL: [Ty; 12] = [
    Ty::Bool,
    Ty::I8,
    Ty::I16,
    Ty::I32,
    Ty::I64,
    Ty::Double,
    Ty::Binary,
    Ty::Struct,
    Ty::Map,
    Ty::Set,
    Ty::List,
    Ty::Uuid,
];
const BINARY_CODES: [u8; 12] = [2, 3, 6, 8, 10, 4, 11, 12, 13, 14, 15, 16];
const COMPACT_CODES: [u8; 12] = [2, 3, 4, 5, 6, 7, 8, 12, 11, 10, 9, 13];

impl Ty {
    pub fn name(self) -> &'static str {
        TYPES[self as usize]
    }

    pub fn by_name(name: &str) -> Option<Ty> {
        TYPES.iter().position(|t| *t == name).map(|i| ALL[i])
    }

    pub fn code(self, compact: bool) -> u8 {
        if compact { COMPACT_CODES[self as usize] } else { BINARY_CODES[self as usize] }
    }

    /// The type a code stands for; in the compact protocol both boolean codes are `BOOL`.
    fn of(code: u8, compact: bool) -> Option<Ty> {
        if compact && code == 1 {
            return Some(Ty::Bool);
        }
        let codes = if compact { &COMPACT_CODES } else { &BINARY_CODES };
        codes.iter().position(|c| *c == code).map(|i| ALL[i])
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Protocol {
    Binary,
    Compact,
    Old,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Binary => "binary",
            Protocol::Compact => "compact",
            Protocol::Old => "old",
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum DecodeError {
    /// Bytes that are not a Thrift message.
    Malformed,
    /// A message bigger than the decoder may hold.
    TooBig,
}

/// A streaming decoder: bytes in, whole messages out, however the bytes are split. A
/// [`Scanner`] finds where a message ends a step at a time as its bytes come, and the message
/// is parsed once, whole, so a message arriving in many pieces costs no more than one that
/// comes at once.
pub struct Decoder {
    buf: BytesMut,
    scan: Scanner,
    limit: usize,
}

impl Decoder {
    pub fn new(limit: usize) -> Decoder {
        Decoder { buf: BytesMut::new(), scan: Scanner::default(), limit }
    }

    /// Takes more input and appends the messages it completed to `out`, those before an error
    /// too.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Tree>) -> Result<(), DecodeError> {
        self.buf.extend_from_slice(data);
        while !self.buf.is_empty() {
            match self.scan.scan(&self.buf) {
                Scan::Done(n) => {
                    let mut r = Reader::at(&self.buf[..n], 0, false);
                    let tree = r.message().ok().filter(|_| r.pos == n).ok_or(DecodeError::Malformed)?;
                    self.buf.advance(n);
                    self.scan = Scanner::default();
                    out.push(tree);
                }
                Scan::More(need) if need > self.limit => return Err(DecodeError::TooBig),
                Scan::More(_) => break,
                Scan::Bad => return Err(DecodeError::Malformed),
            }
        }
        if self.buf.len() > self.limit {
            return Err(DecodeError::TooBig);
        }
        Ok(())
    }

    /// Whether a message was begun and not finished.
    pub fn is_partial(&self) -> bool {
        !self.buf.is_empty()
    }
}

pub(super) enum Stop {
    /// Not all there yet: at least this many bytes in all are needed.
    Short(usize),
    Bad,
}

pub(super) type Read<T> = Result<T, Stop>;

pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pub(super) pos: usize,
    pub(super) compact: bool,
    depth: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn at(buf: &'a [u8], pos: usize, compact: bool) -> Reader<'a> {
        Reader { buf, pos, compact, depth: 0 }
    }

    fn take(&mut self, n: usize) -> Read<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Stop::Bad)?;
        if end > self.buf.len() {
            return Err(Stop::Short(end));
        }
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Read<[u8; N]> {
        Ok(self.take(N)?.try_into().unwrap_or([0; N]))
    }

    pub(super) fn u8(&mut self) -> Read<u8> {
        Ok(self.take(1)?[0])
    }

    fn i32(&mut self) -> Read<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// A ULEB128 varint of up to 64 bits.
    fn var_int(&mut self) -> Read<u64> {
        let mut n = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            n |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(Stop::Bad)
    }

    pub(super) fn zigzag(&mut self) -> Read<i64> {
        let n = self.var_int()?;
        Ok((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    /// A length: a varint in the compact protocol, an i32 in the binary one.
    fn len(&mut self) -> Read<usize> {
        let n = if self.compact { i64::try_from(self.var_int()?).map_err(|_| Stop::Bad)? } else { self.i32()?.into() };
        usize::try_from(n).map_err(|_| Stop::Bad)
    }

    fn text(&mut self) -> Read<String> {
        let n = self.len()?;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    fn message(&mut self) -> Read<Tree> {
        let (protocol, kind, seq, name) = self.header()?;
        let fields = self.fields()?;
        Ok(Tree::Object(vec![
            ("protocol".into(), Tree::Str(protocol.name().into())),
            ("type".into(), Tree::Str(kind.into())),
            ("seqID".into(), Tree::Number(seq.into())),
            ("name".into(), Tree::Str(name)),
            ("fields".into(), fields),
        ]))
    }

    /// A message's protocol, type, seqID and name.
    pub(super) fn header(&mut self) -> Read<(Protocol, &'static str, i32, String)> {
        let first = self.buf.get(self.pos).copied().ok_or(Stop::Short(self.pos + 1))?;
        let (protocol, kind, seq, name) = match first {
            0x80 => {
                let [_, version, _, kind] = self.array()?;
                if version != 1 {
                    return Err(Stop::Bad);
                }
                let name = self.text()?;
                (Protocol::Binary, kind & 7, self.i32()?, name)
            }
            0x82 => {
                self.compact = true;
                let [_, b] = self.array()?;
                if b & 0x1f != 1 {
                    return Err(Stop::Bad);
                }
                let seq = self.var_int()? as u32 as i32;
                (Protocol::Compact, b >> 5, seq, self.text()?)
            }
            b if b & 0x80 != 0 => return Err(Stop::Bad),
            _ => {
                let name = self.text()?;
                let kind = self.u8()?;
                (Protocol::Old, kind, self.i32()?, name)
            }
        };
        let kind = MESSAGE_TYPES.get(usize::from(kind)).filter(|k| !k.is_empty()).ok_or(Stop::Bad)?;
        Ok((protocol, kind, seq, name))
    }

    pub(super) fn ty(&mut self, code: u8) -> Read<Ty> {
        Ty::of(code, self.compact).ok_or(Stop::Bad)
    }

    fn deeper(&mut self) -> Read<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(Stop::Bad) } else { Ok(()) }
    }

    /// A struct: its fields up to the stop field, as an array of `{ id, type, value }`.
    fn fields(&mut self) -> Read<Tree> {
        self.deeper()?;
        let mut fields = Vec::new();
        let mut last = 0i64;
        loop {
            let b = self.u8()?;
            if b == 0 {
                break;
            }
            let (id, ty, value) = if self.compact {
                let ty = self.ty(b & 0x0f)?;
                let delta = i64::from(b >> 4);
                last = if delta > 0 { last + delta } else { i64::from(self.zigzag()? as i16) };
                let value = if ty == Ty::Bool { Tree::Bool(b & 0x0f == 1) } else { self.value(ty)? };
                (last, ty, value)
            } else {
                let ty = self.ty(b)?;
                let id = i16::from_be_bytes(self.array()?);
                (i64::from(id), ty, self.value(ty)?)
            };
            fields.push(Tree::Object(vec![
                ("id".into(), Tree::Number(id as f64)),
                ("type".into(), Tree::Str(ty.name().into())),
                ("value".into(), value),
            ]));
        }
        self.depth -= 1;
        Ok(Tree::Array(fields))
    }

    pub(super) fn value(&mut self, ty: Ty) -> Read<Tree> {
        Ok(match ty {
            Ty::Bool => Tree::Bool(self.u8()? == 1),
            Ty::I8 => Tree::Number((self.u8()? as i8).into()),
            Ty::I16 if self.compact => Tree::Number((self.zigzag()? as i16).into()),
            Ty::I16 => Tree::Number(i16::from_be_bytes(self.array()?).into()),
            Ty::I32 if self.compact => Tree::Number((self.zigzag()? as i32).into()),
            Ty::I32 => Tree::Number(self.i32()?.into()),
            Ty::I64 if self.compact => Tree::Int(self.zigzag()?),
            Ty::I64 => Tree::Int(i64::from_be_bytes(self.array()?)),
            Ty::Double if self.compact => Tree::Number(f64::from_le_bytes(self.array()?)),
            Ty::Double => Tree::Number(f64::from_be_bytes(self.array()?)),
            Ty::Binary => {
                let n = self.len()?;
                let b = self.take(n)?;
                match std::str::from_utf8(b) {
                    Ok(s) => Tree::Str(s.into()),
                    Err(_) => Tree::Data(bytes::Bytes::copy_from_slice(b)),
                }
            }
            Ty::Uuid => Tree::Str(uuid_text(&self.array::<16>()?)),
            Ty::Struct => self.fields()?,
            Ty::List | Ty::Set => self.list()?,
            Ty::Map => self.map()?,
        })
    }

    fn list(&mut self) -> Read<Tree> {
        let (ty, n) = self.list_head()?;
        self.deeper()?;
        // Every element is a byte at least, so a claimed size costs nothing before its bytes come.
        let elements = (0..n).map(|_| self.value(ty)).collect::<Read<Vec<_>>>()?;
        self.depth -= 1;
        Ok(Tree::Object(vec![
            ("elementType".into(), Tree::Str(ty.name().into())),
            ("elements".into(), Tree::Array(elements)),
        ]))
    }

    /// A list's or set's element type and size.
    pub(super) fn list_head(&mut self) -> Read<(Ty, usize)> {
        Ok(if self.compact {
            let b = self.u8()?;
            let ty = self.ty(b & 0x0f)?;
            let n = if b >> 4 == 0x0f { self.len()? } else { usize::from(b >> 4) };
            (ty, n)
        } else {
            let ty = self.u8()?;
            (self.ty(ty)?, self.len()?)
        })
    }

    fn map(&mut self) -> Read<Tree> {
        let (k, v, n) = self.map_head()?;
        self.deeper()?;
        let pairs = (0..n).map(|_| Ok(Tree::Array(vec![self.value(k)?, self.value(v)?]))).collect::<Read<Vec<_>>>()?;
        self.depth -= 1;
        Ok(Tree::Object(vec![
            ("keyType".into(), Tree::Str(k.name().into())),
            ("valueType".into(), Tree::Str(v.name().into())),
            ("pairs".into(), Tree::Array(pairs)),
        ]))
    }

    /// A map's key type, value type and size.
    pub(super) fn map_head(&mut self) -> Read<(Ty, Ty, usize)> {
        Ok(if self.compact {
            match self.len()? {
                0 => (Ty::I32, Ty::I32, 0),
                n => {
                    let b = self.u8()?;
                    (self.ty(b >> 4)?, self.ty(b & 0x0f)?, n)
                }
            }
        } else {
            let [k, v] = self.array()?;
            (self.ty(k)?, self.ty(v)?, self.len()?)
        })
    }
}

/// A UUID's 16 bytes as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
fn uuid_text(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::codec::thrift_encode::encode;

    /// A strict binary call with a list and a nested struct, then a compact reply with a bool
    /// field, a map and a multi-byte seqID.
    const SAMPLE: &[u8] = b"\x80\x01\x00\x01\x00\x00\x00\x01f\x00\x00\x00\x07\
\x0f\x00\x01\x08\x00\x00\x00\x02\x00\x00\x00\x01\xff\xff\xff\xff\
\x0c\x00\x02\x0b\x00\x01\x00\x00\x00\x01x\x00\x00\
\x82\x41\x80\x01\x01f\x11\x1b\x01\x85\x01k\x04\x00";

    fn decode_split(input: &[u8], cuts: &[usize]) -> (Vec<Tree>, Option<DecodeError>) {
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
    fn known_messages_decode_and_encode_back_to_the_same_bytes() {
        let (messages, error) = decode_split(SAMPLE, &[]);
        assert_eq!(error, None);
        assert_eq!(messages.len(), 2);
        let seq = crate::codec::fields::field(&messages[1], "seqID");
        assert_eq!(seq, &Tree::Number(128.0));
        let mut out = Vec::new();
        messages.iter().for_each(|m| encode(m, &mut out));
        assert_eq!(out, SAMPLE);
    }

    #[test]
    fn malformed_and_oversized_input_is_refused() {
        assert_eq!(decode_split(b"\x81\x01", &[]).1, Some(DecodeError::Malformed));
        assert_eq!(decode_split(b"\x82\x02", &[]).1, Some(DecodeError::Malformed));
        assert_eq!(decode_split(b"\x00\x00\x00\x01f\x07\x00\x00\x00\x01\x00", &[]).1, Some(DecodeError::Malformed));
        let deep =
            [&b"\x80\x01\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"[..], &b"\x0c\x00\x01".repeat(MAX_DEPTH + 1)].concat();
        assert_eq!(decode_split(&deep, &[]).1, Some(DecodeError::Malformed));
        let mut d = Decoder::new(64);
        assert_eq!(d.feed(b"\x80\x01\x00\x01\x00\x00\x10\x00", &mut Vec::new()), Err(DecodeError::TooBig));
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_messages(cuts in proptest::collection::vec(0..SAMPLE.len(), 0..8)) {
            let mut cuts = cuts;
            cuts.sort();
            prop_assert_eq!(decode_split(SAMPLE, &cuts), decode_split(SAMPLE, &[]));
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_split_the_same(
            input in proptest::collection::vec(prop_oneof![Just(0x80u8), Just(0x82), Just(0x01), Just(0x0c), Just(0x0f), Just(0), any::<u8>()], 0..64),
            cut in 0..64usize,
        ) {
            let whole = decode_split(&input, &[]);
            prop_assert_eq!(decode_split(&input, &[cut]), whole);
        }
    }
}
