//! Writing Thrift messages from the shape `thrift` reads (a message, or an array of them), as
//! Pipy's `Thrift.encode` writes them: the protocol the message names (compact if it names
//! none), missing fields as their zero, a field without a type as an `I32`.

use super::fields::{bytes, field as get, int, items, number as float, truthy};
use super::thrift::{MESSAGE_TYPES, Ty};
use super::tree::Tree;

/// Containers nested deeper than this are written empty (a cycle, or a value no peer reads).
const MAX_DEPTH: usize = 64;

/// Appends the message, or each message of an array up to the first that is not an object.
pub fn encode(tree: &Tree, out: &mut Vec<u8>) {
    match tree {
        Tree::Array(messages) => {
            for m in messages.iter().take_while(|m| matches!(m, Tree::Object(_) | Tree::Null)) {
                if let Tree::Object(_) = m {
                    message(m, out);
                }
            }
        }
        Tree::Object(_) => message(tree, out),
        _ => {}
    }
}

fn message(m: &Tree, out: &mut Vec<u8>) {
    let kind = match get(m, "type") {
        Tree::Str(s) => MESSAGE_TYPES.iter().position(|t| !t.is_empty() && t == s).unwrap_or(1) as u8,
        _ => 1,
    };
    let seq = int(get(m, "seqID")) as i32;
    let name = bytes(get(m, "name"));
    let mut w = Writer { out, compact: false, depth: 0 };
    match get(m, "protocol") {
        Tree::Str(p) if p == "binary" => {
            w.out.extend_from_slice(&[0x80, 0x01, 0x00, kind]);
            w.bin(&name);
            w.out.extend_from_slice(&seq.to_be_bytes());
        }
        Tree::Str(p) if p == "old" => {
            w.bin(&name);
            w.out.push(kind);
            w.out.extend_from_slice(&seq.to_be_bytes());
        }
        _ => {
            w.compact = true;
            w.out.extend_from_slice(&[0x82, 0x01 | kind << 5]);
            w.var_int(u64::from(seq as u32));
            w.bin(&name);
        }
    }
    w.fields(get(m, "fields"));
}

/// A value's type as its field, list, set or map names it.
fn ty(t: &Tree) -> Ty {
    match t {
        Tree::Str(s) => Ty::by_name(s).unwrap_or(Ty::I32),
        _ => Ty::I32,
    }
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    compact: bool,
    depth: usize,
}

impl Writer<'_> {
    fn var_int(&mut self, mut n: u64) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            self.out.push(if n > 0 { b | 0x80 } else { b });
            if n == 0 {
                return;
            }
        }
    }

    fn zigzag(&mut self, n: i64) {
        self.var_int(((n << 1) ^ (n >> 63)) as u64);
    }

    fn len(&mut self, n: usize) {
        if self.compact { self.var_int(n as u64) } else { self.out.extend_from_slice(&(n as u32).to_be_bytes()) }
    }

    fn bin(&mut self, b: &[u8]) {
        self.len(b.len());
        self.out.extend_from_slice(b);
    }

    /// A struct: each `{ id, type, value }` of the array, then the stop field.
    fn fields(&mut self, fields: &Tree) {
        self.depth += 1;
        let mut last = 0i64;
        let fields = if self.depth <= MAX_DEPTH { items(fields) } else { &[] };
        for f in fields.iter().filter(|f| matches!(f, Tree::Object(_))) {
            let (id, t, v) = (int(get(f, "id")), ty(get(f, "type")), get(f, "value"));
            if self.compact {
                let code = if t == Ty::Bool { if truthy(v) { 1 } else { 2 } } else { t.code(true) };
                match id - last {
                    d @ 1..=15 => self.out.push((d as u8) << 4 | code),
                    _ => {
                        self.out.push(code);
                        self.zigzag(i64::from(id as i16));
                    }
                }
                last = id;
                if t != Ty::Bool {
                    self.value(t, v);
                }
            } else {
                self.out.push(t.code(false));
                self.out.extend_from_slice(&(id as i16).to_be_bytes());
                self.value(t, v);
            }
        }
        self.depth -= 1;
        self.out.push(0);
    }

    fn value(&mut self, t: Ty, v: &Tree) {
        match t {
            Ty::Bool => self.out.push(truthy(v).into()),
            Ty::I8 => self.out.push(int(v) as u8),
            Ty::I16 if self.compact => self.zigzag((int(v) as i16).into()),
            Ty::I16 => self.out.extend_from_slice(&(int(v) as i16).to_be_bytes()),
            Ty::I32 if self.compact => self.zigzag((int(v) as i32).into()),
            Ty::I32 => self.out.extend_from_slice(&(int(v) as i32).to_be_bytes()),
            Ty::I64 if self.compact => self.zigzag(int(v)),
            Ty::I64 => self.out.extend_from_slice(&int(v).to_be_bytes()),
            Ty::Double if self.compact => self.out.extend_from_slice(&float(v).to_le_bytes()),
            Ty::Double => self.out.extend_from_slice(&float(v).to_be_bytes()),
            Ty::Binary => self.bin(&bytes(v)),
            Ty::Uuid => self.out.extend_from_slice(&uuid_bytes(v)),
            Ty::Struct => self.fields(v),
            Ty::List | Ty::Set => self.list(v),
            Ty::Map => self.map(v),
        }
    }

    fn list(&mut self, v: &Tree) {
        let t = ty(get(v, "elementType"));
        let elements = if self.depth < MAX_DEPTH { items(get(v, "elements")) } else { &[] };
        let n = elements.len();
        if self.compact {
            let code = t.code(true);
            if n <= 14 {
                self.out.push((n as u8) << 4 | code);
            } else {
                self.out.push(0xf0 | code);
                self.var_int(n as u64);
            }
        } else {
            self.out.push(t.code(false));
            self.len(n);
        }
        self.depth += 1;
        elements.iter().for_each(|e| self.value(t, e));
        self.depth -= 1;
    }

    fn map(&mut self, v: &Tree) {
        let (k, vt) = (ty(get(v, "keyType")), ty(get(v, "valueType")));
        let pairs = if self.depth < MAX_DEPTH { items(get(v, "pairs")) } else { &[] };
        if self.compact {
            self.var_int(pairs.len() as u64);
            if !pairs.is_empty() {
                self.out.push(k.code(true) << 4 | vt.code(true));
            }
        } else {
            self.out.extend_from_slice(&[k.code(false), vt.code(false)]);
            self.len(pairs.len());
        }
        self.depth += 1;
        for p in pairs {
            let kv = items(p);
            self.value(k, kv.first().unwrap_or(&Tree::Undefined));
            self.value(vt, kv.get(1).unwrap_or(&Tree::Undefined));
        }
        self.depth -= 1;
    }
}

/// A UUID's text as its 16 bytes (zeros for what is not one).
fn uuid_bytes(v: &Tree) -> [u8; 16] {
    let hex: Vec<u8> = v.text().bytes().filter(|b| *b != b'-').collect();
    let mut out = [0u8; 16];
    if hex.len() != 32 {
        return out;
    }
    for (i, pair) in hex.chunks(2).enumerate() {
        match std::str::from_utf8(pair).ok().and_then(|s| u8::from_str_radix(s, 16).ok()) {
            Some(b) => out[i] = b,
            None => return [0; 16],
        }
    }
    out
}
