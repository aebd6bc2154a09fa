//! Hessian bytes to [`Value`]s: a recursive descent over one whole buffer (Hessian is used
//! on message bodies already framed, a Dubbo body for one), bounded in depth, and allocating
//! no more for a claimed length than the bytes left could hold.

use super::{Error, MAX_DEPTH, Value};

/// The top-level values of `bytes`, in order. Class definitions are read where they stand
/// and are not values themselves.
pub fn decode(bytes: &[u8]) -> Result<Vec<Value>, Error> {
    let mut r = Reader { buf: bytes, pos: 0, classes: Vec::new(), types: Vec::new(), collections: 0, depth: 0 };
    let mut values = Vec::new();
    while r.pos < r.buf.len() {
        if r.peek()? == b'C' {
            r.pos += 1;
            r.class_def()?;
            continue;
        }
        values.push(r.value()?);
    }
    Ok(values)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Class definitions: type and field names.
    classes: Vec<(String, Vec<String>)>,
    /// Type names of typed lists and maps, for later ones to refer to by number.
    types: Vec<String>,
    /// Lists, maps and objects begun so far: what a reference may point at.
    collections: usize,
    depth: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Result<u8, Error> {
        self.buf.get(self.pos).copied().ok_or(Error::Short)
    }

    fn byte(&mut self) -> Result<u8, Error> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Error> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or(Error::Short)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// `n` bytes big-endian as an unsigned number.
    fn be(&mut self, n: usize) -> Result<u64, Error> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
    }

    fn malformed(&self, what: &'static str) -> Error {
        Error::Malformed(what, self.pos.saturating_sub(1))
    }

    /// One value; class definitions before it are read on the way.
    fn value(&mut self) -> Result<Value, Error> {
        loop {
            let c = self.byte()?;
            if c == b'C' {
                self.class_def()?;
                continue;
            }
            return self.value_of(c);
        }
    }

    fn value_of(&mut self, c: u8) -> Result<Value, Error> {
        Ok(match c {
            0x00..=0x1f | 0x30..=0x33 | b'R' | b'S' => Value::Str(self.string(c)?),
            0x20..=0x2f | 0x34..=0x37 | b'A' | b'B' => Value::Binary(self.binary(c)?),
            0x38..=0x3f => Value::Long((i64::from(c) - 0x3c) << 16 | self.be(2)? as i64),
            b'D' => Value::Double(f64::from_bits(self.be(8)?)),
            b'F' => Value::Bool(false),
            b'T' => Value::Bool(true),
            b'N' => Value::Null,
            b'I' => Value::Int(self.be(4)? as u32 as i32),
            b'J' => Value::Date(self.be(8)? as i64),
            b'K' => Value::Date(self.be(4)? as i64 * 60_000),
            b'L' => Value::Long(self.be(8)? as i64),
            b'Y' => Value::Long(i64::from(self.be(4)? as u32 as i32)),
            b'Q' => self.reference()?,
            0x5b => Value::Double(0.0),
            0x5c => Value::Double(1.0),
            0x5d => Value::Double(f64::from(self.byte()? as i8)),
            0x5e => Value::Double(f64::from(self.be(2)? as u16 as i16)),
            // A float's bits, as Pipy reads it (Java's Hessian reads thousandths here).
            0x5f => Value::Double(f64::from(f32::from_bits(self.be(4)? as u32))),
            0x80..=0xbf => Value::Int(i32::from(c) - 0x90),
            0xc0..=0xcf => Value::Int((i32::from(c) - 0xc8) << 8 | i32::from(self.byte()?)),
            0xd0..=0xd7 => Value::Int((i32::from(c) - 0xd4) << 16 | self.be(2)? as i32),
            0xd8..=0xef => Value::Long(i64::from(c) - 0xe0),
            0xf0..=0xff => Value::Long((i64::from(c) - 0xf8) << 8 | i64::from(self.byte()?)),
            _ => return self.collection(c),
        })
    }

    fn collection(&mut self, c: u8) -> Result<Value, Error> {
        if self.depth >= MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        self.depth += 1;
        self.collections += 1;
        let v = match c {
            b'U' => {
                let t = self.type_name()?;
                self.list(Some(t), None)
            }
            b'V' => {
                let t = self.type_name()?;
                let n = self.length()?;
                self.list(Some(t), Some(n))
            }
            b'W' => self.list(None, None),
            b'X' => {
                let n = self.length()?;
                self.list(None, Some(n))
            }
            0x70..=0x77 => {
                let t = self.type_name()?;
                self.list(Some(t), Some(usize::from(c - 0x70)))
            }
            0x78..=0x7f => self.list(None, Some(usize::from(c - 0x78))),
            b'H' => self.map(None),
            b'M' => {
                let t = self.type_name()?;
                self.map(Some(t))
            }
            b'O' => {
                let n = self.length()?;
                self.object(n)
            }
            0x60..=0x6f => self.object(usize::from(c - 0x60)),
            _ => Err(self.malformed("a byte code Hessian does not define")),
        };
        self.depth -= 1;
        v
    }

    fn list(&mut self, type_name: Option<String>, len: Option<usize>) -> Result<Value, Error> {
        let mut items = Vec::new();
        match len {
            // Each value takes a byte at least: a claimed length says nothing of what is there.
            Some(n) => {
                items.reserve(n.min(self.buf.len() - self.pos));
                for _ in 0..n {
                    items.push(self.value()?);
                }
            }
            None => {
                while !self.end()? {
                    items.push(self.value()?);
                }
            }
        }
        Ok(Value::List { type_name, items })
    }

    fn map(&mut self, type_name: Option<String>) -> Result<Value, Error> {
        let mut entries = Vec::new();
        while !self.end()? {
            let k = self.value()?;
            entries.push((k, self.value()?));
        }
        Ok(Value::Map { type_name, entries })
    }

    fn object(&mut self, def: usize) -> Result<Value, Error> {
        let Some((type_name, names)) = self.classes.get(def).cloned() else {
            return Err(self.malformed("an object of a class not defined"));
        };
        let mut fields = Vec::with_capacity(names.len());
        for name in names {
            fields.push((name, self.value()?));
        }
        Ok(Value::Object { type_name, fields })
    }

    /// Whether the `Z` closing a list or map is next (and if so, takes it).
    fn end(&mut self) -> Result<bool, Error> {
        let z = self.peek()? == b'Z';
        if z {
            self.pos += 1;
        }
        Ok(z)
    }

    /// `C string int string*`, the `C` already read.
    fn class_def(&mut self) -> Result<(), Error> {
        let type_name = self.text()?;
        let n = self.length()?;
        let mut names = Vec::with_capacity(n.min(self.buf.len() - self.pos));
        for _ in 0..n {
            names.push(self.text()?);
        }
        self.classes.push((type_name, names));
        Ok(())
    }

    /// A type: a name (remembered) or the number of one named before.
    fn type_name(&mut self) -> Result<String, Error> {
        match self.value()? {
            Value::Str(s) => {
                self.types.push(s.clone());
                Ok(s)
            }
            Value::Int(i) => usize::try_from(i)
                .ok()
                .and_then(|i| self.types.get(i).cloned())
                .ok_or_else(|| self.malformed("a type reference to no type")),
            _ => Err(self.malformed("a type that is neither a string nor an int")),
        }
    }

    fn text(&mut self) -> Result<String, Error> {
        match self.value()? {
            Value::Str(s) => Ok(s),
            _ => Err(self.malformed("a name that is not a string")),
        }
    }

    fn length(&mut self) -> Result<usize, Error> {
        let n = match self.value()? {
            Value::Int(i) => i64::from(i),
            Value::Long(l) => l,
            _ => return Err(self.malformed("a length that is not an integer")),
        };
        usize::try_from(n).map_err(|_| self.malformed("a negative length"))
    }

    fn reference(&mut self) -> Result<Value, Error> {
        match self.value()? {
            Value::Int(i) if (0..self.collections as i64).contains(&i64::from(i)) => Ok(Value::Ref(i as usize)),
            _ => Err(self.malformed("a reference to no list, map or object")),
        }
    }

    /// A string: compact, or chunks `R b1 b0 data` ending in a final one of any form.
    fn string(&mut self, mut c: u8) -> Result<String, Error> {
        let mut out = Vec::new();
        loop {
            let (n, last) = match c {
                b'R' => (self.be(2)? as usize, false),
                b'S' => (self.be(2)? as usize, true),
                0x00..=0x1f => (usize::from(c), true),
                0x30..=0x33 => (usize::from(c - 0x30) << 8 | usize::from(self.byte()?), true),
                _ => return Err(self.malformed("a string chunk followed by something else")),
            };
            out.extend_from_slice(self.utf8(n)?);
            if last {
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            c = self.byte()?;
        }
    }

    /// Binary data: compact, or chunks `A b1 b0 data` ending in a final one of any form.
    fn binary(&mut self, mut c: u8) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        loop {
            let (n, last) = match c {
                b'A' => (self.be(2)? as usize, false),
                b'B' => (self.be(2)? as usize, true),
                0x20..=0x2f => (usize::from(c - 0x20), true),
                0x34..=0x37 => (usize::from(c - 0x34) << 8 | usize::from(self.byte()?), true),
                _ => return Err(self.malformed("a binary chunk followed by something else")),
            };
            out.extend_from_slice(self.take(n)?);
            if last {
                return Ok(out);
            }
            c = self.byte()?;
        }
    }

    /// The bytes of `chars` UTF-8 characters: a string's length counts characters, as
    /// Pipy counts them (a stray byte counts as one).
    fn utf8(&mut self, chars: usize) -> Result<&[u8], Error> {
        let start = self.pos;
        for _ in 0..chars {
            let len = match self.byte()? {
                0xf0..=0xff => 4,
                0xe0..=0xef => 3,
                0xc0..=0xdf => 2,
                _ => 1,
            };
            self.take(len - 1)?;
        }
        Ok(&self.buf[start..self.pos])
    }
}
