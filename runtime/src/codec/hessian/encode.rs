//! [`Value`]s to Hessian bytes, in the shortest form for each integer, string and binary
//! length, as Pipy writes them. Lists are written with their length (`V`, or `X` untyped),
//! maps with a closing `Z`, and an object's class definition just before its first instance.

use super::Value;

/// The values one after another, sharing one table of class definitions and of type
/// names, as the values of one Dubbo body do.
pub fn encode(values: &[Value], out: &mut Vec<u8>) {
    let mut w = Writer { out, classes: Vec::new(), types: Vec::new() };
    for v in values {
        w.value(v);
    }
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    /// Class definitions written so far, by type name.
    classes: Vec<String>,
    /// Type names of lists and maps written so far.
    types: Vec<String>,
}

/// Bytes `n` big-endian, the low `len` of them.
fn be(n: u64, len: usize) -> impl Iterator<Item = u8> {
    (0..len).rev().map(move |i| (n >> (8 * i)) as u8)
}

impl Writer<'_> {
    fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.out.push(b'N'),
            Value::Bool(b) => self.out.push(if *b { b'T' } else { b'F' }),
            Value::Int(i) => self.int(*i),
            Value::Long(l) => self.long(*l),
            Value::Double(d) => self.double(*d),
            Value::Date(ms) => {
                self.out.push(b'J');
                self.out.extend(be(*ms as u64, 8));
            }
            Value::Str(s) => self.string(s),
            Value::Binary(b) => self.binary(b),
            Value::List { type_name, items } => {
                match type_name {
                    Some(t) => {
                        self.out.push(b'V');
                        self.type_name(t);
                    }
                    None => self.out.push(b'X'),
                }
                self.int(items.len() as i32);
                items.iter().for_each(|v| self.value(v));
            }
            Value::Map { type_name, entries } => {
                match type_name {
                    Some(t) => {
                        self.out.push(b'M');
                        self.type_name(t);
                    }
                    None => self.out.push(b'H'),
                }
                for (k, v) in entries {
                    self.value(k);
                    self.value(v);
                }
                self.out.push(b'Z');
            }
            Value::Object { type_name, fields } => self.object(type_name, fields),
            Value::Ref(n) => {
                self.out.push(b'Q');
                self.int(*n as i32);
            }
        }
    }

    fn int(&mut self, i: i32) {
        match i {
            -0x10..=0x2f => self.out.push((i + 0x90) as u8),
            -0x800..=0x7ff => self.out.extend([((i >> 8) + 0xc8) as u8, i as u8]),
            -0x40000..=0x3ffff => self.out.extend([((i >> 16) + 0xd4) as u8, (i >> 8) as u8, i as u8]),
            _ => {
                self.out.push(b'I');
                self.out.extend(be(i as u32 as u64, 4));
            }
        }
    }

    fn long(&mut self, l: i64) {
        match l {
            -0x8..=0xf => self.out.push((l + 0xe0) as u8),
            -0x800..=0x7ff => self.out.extend([((l >> 8) + 0xf8) as u8, l as u8]),
            -0x40000..=0x3ffff => self.out.extend([((l >> 16) + 0x3c) as u8, (l >> 8) as u8, l as u8]),
            -0x8000_0000..=0x7fff_ffff => {
                self.out.push(b'Y');
                self.out.extend(be(l as u64, 4));
            }
            _ => {
                self.out.push(b'L');
                self.out.extend(be(l as u64, 8));
            }
        }
    }

    fn double(&mut self, d: f64) {
        // The compact forms hold whole numbers only (-0.0 is not one: it keeps its sign).
        let whole = d.fract() == 0.0 && (-32768.0..=32767.0).contains(&d) && !(d == 0.0 && d.is_sign_negative());
        match d as i32 {
            0 if whole => self.out.push(0x5b),
            1 if whole => self.out.push(0x5c),
            i @ -128..=127 if whole => self.out.extend([0x5d, i as u8]),
            i if whole => self.out.extend([0x5e, (i >> 8) as u8, i as u8]),
            _ => {
                self.out.push(b'D');
                self.out.extend(be(d.to_bits(), 8));
            }
        }
    }

    /// A string's length counts its characters, as the decoder reads it.
    fn string(&mut self, s: &str) {
        let n = s.chars().count();
        if n < 32 {
            self.out.push(n as u8);
        } else if n < 1024 {
            self.out.extend([0x30 + (n >> 8) as u8, n as u8]);
        } else {
            return self.long_string(s);
        }
        self.out.extend_from_slice(s.as_bytes());
    }

    /// Chunks of 65535 characters, all `R` but the last `S`.
    fn long_string(&mut self, s: &str) {
        let mut rest = s;
        while !rest.is_empty() {
            let (n, end) =
                rest.char_indices().nth(0xffff).map_or((rest.chars().count(), rest.len()), |(i, _)| (0xffff, i));
            self.out.push(if end == rest.len() { b'S' } else { b'R' });
            self.out.extend(be(n as u64, 2));
            self.out.extend_from_slice(&rest.as_bytes()[..end]);
            rest = &rest[end..];
        }
    }

    fn binary(&mut self, b: &[u8]) {
        let n = b.len();
        if n < 16 {
            self.out.push(0x20 + n as u8);
        } else if n < 1024 {
            self.out.extend([0x34 + (n >> 8) as u8, n as u8]);
        } else {
            let mut chunks = b.chunks(0xffff).peekable();
            while let Some(c) = chunks.next() {
                self.out.push(if chunks.peek().is_none() { b'B' } else { b'A' });
                self.out.extend(be(c.len() as u64, 2));
                self.out.extend_from_slice(c);
            }
            return;
        }
        self.out.extend_from_slice(b);
    }

    /// A list's or map's type: its number if written before, else its name.
    fn type_name(&mut self, t: &str) {
        match self.types.iter().position(|x| x == t) {
            Some(i) => self.int(i as i32),
            None => {
                self.string(t);
                self.types.push(t.to_string());
            }
        }
    }

    /// The class is defined by the fields of its first instance, as in Pipy.
    fn object(&mut self, type_name: &str, fields: &[(String, Value)]) {
        let i = match self.classes.iter().position(|x| x == type_name) {
            Some(i) => i,
            None => {
                self.out.push(b'C');
                self.string(type_name);
                self.int(fields.len() as i32);
                fields.iter().for_each(|(k, _)| self.string(k));
                self.classes.push(type_name.to_string());
                self.classes.len() - 1
            }
        };
        if i < 16 {
            self.out.push(0x60 + i as u8);
        } else {
            self.out.push(b'O');
            self.int(i as i32);
        }
        fields.iter().for_each(|(_, v)| self.value(v));
    }
}
