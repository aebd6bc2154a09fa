//! DNS messages (RFC 1035) as [`Tree`]s shaped as Pipy's `DNS.decode` gives them: header
//! flags only where they are not 0, `question`/`answer`/`authority`/`additional` only where
//! there are some, a record's `type` by name where Pipy has one (`'A'`, `'AAAA'`, `'CNAME'`,
//! `'MX'`, ...), its `class` only where it is not IN, and `rdata` as text (addresses, names, a
//! TXT record's one string), an object (SOA, SRV, MX), or the hex of the bytes for other types.
//!
//! Written here rather than on a DNS crate: the crates decode into their own types, and
//! Pipy's shape (hex for unknown types, one TXT string, absent defaults) would take as much
//! code to map as the wire format does. Names are not compressed when written, as in Pipy.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::fields::field;
use super::tree::Tree;

pub const TYPES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (41, "OPT"),
];

const IN: u16 = 1;
const MAX_NAME: usize = 255;
/// Compression pointers followed in one name at most: more is a loop.
const MAX_JUMPS: usize = 64;
const FLAGS: &[(&str, u8, u8)] = &[
    ("qr", 0, 7),
    ("opcode", 0, 3),
    ("aa", 0, 2),
    ("tc", 0, 1),
    ("rd", 0, 0),
    ("ra", 1, 7),
    ("zero", 1, 4),
    ("rcode", 1, 0),
];
const SECTIONS: [&str; 3] = ["answer", "authority", "additional"];

fn err(what: &str) -> String {
    format!("dns decode # {what} error")
}

fn num(n: impl Into<f64>) -> Tree {
    Tree::Number(n.into())
}

struct Reader<'a> {
    msg: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.msg.len()).ok_or_else(|| err(what))?;
        let s = &self.msg[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A name at the reader, compression pointers followed.
    fn name(&mut self, what: &str) -> Result<String, String> {
        let (name, next) = read_name(self.msg, self.at).ok_or_else(|| err(what))?;
        self.at = next;
        Ok(name)
    }
}

/// The name at `at` and where what follows it starts.
fn read_name(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels: Vec<u8> = Vec::new();
    let (mut next, mut jumps) = (None, 0);
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => break,
            l if l >= 0xc0 => {
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return None;
                }
                next.get_or_insert(at + 2);
                at = usize::from(u16::from_be_bytes([l & 0x3f, *msg.get(at + 1)?]));
            }
            l if l > 63 => return None,
            l => {
                let label = msg.get(at + 1..at + 1 + usize::from(l))?;
                if !labels.is_empty() {
                    labels.push(b'.');
                }
                labels.extend_from_slice(label);
                if labels.len() + 2 > MAX_NAME {
                    return None;
                }
                at += 1 + usize::from(l);
            }
        }
    }
    Some((String::from_utf8_lossy(&labels).into_owned(), next.unwrap_or(at + 1)))
}

fn type_tree(t: u16) -> Tree {
    TYPES.iter().find(|(c, _)| *c == t).map_or(num(t), |(_, n)| Tree::Str((*n).into()))
}

/// A whole DNS message as a tree; an error names what did not parse, as Pipy's does.
pub fn decode(msg: &[u8]) -> Result<Tree, String> {
    if msg.len() < 12 {
        return Err(err("data"));
    }
    let mut fields = vec![("id".to_string(), num(u16::from_be_bytes([msg[0], msg[1]])))];
    for (name, byte, shift) in FLAGS {
        let mask = match *name {
            "opcode" | "rcode" => 0x0f,
            "zero" => 0x07,
            _ => 0x01,
        };
        let v = (msg[2 + usize::from(*byte)] >> shift) & mask;
        if v != 0 {
            fields.push((name.to_string(), num(v)));
        }
    }
    let count = |i: usize| usize::from(u16::from_be_bytes([msg[4 + 2 * i], msg[5 + 2 * i]]));
    let mut r = Reader { msg, at: 12 };
    let mut questions = Vec::new();
    for _ in 0..count(0) {
        questions.push(question(&mut r)?);
    }
    if !questions.is_empty() {
        fields.push(("question".into(), Tree::Array(questions)));
    }
    for (i, section) in SECTIONS.iter().enumerate() {
        let records = (0..count(i + 1)).map(|_| record(&mut r)).collect::<Result<Vec<_>, _>>()?;
        if !records.is_empty() {
            fields.push((section.to_string(), Tree::Array(records)));
        }
    }
    Ok(Tree::Object(fields))
}

fn question(r: &mut Reader) -> Result<Tree, String> {
    let name = r.name("question")?;
    let t = r.u16("question")?;
    let class = r.u16("question")?;
    let mut fields = vec![("name".to_string(), Tree::Str(name)), ("type".to_string(), type_tree(t))];
    if class != IN {
        fields.push(("class".into(), num(class)));
    }
    Ok(Tree::Object(fields))
}

fn record(r: &mut Reader) -> Result<Tree, String> {
    let name = r.name("record name")?;
    let t = r.u16("record name")?;
    let class = r.u16("record name")?;
    let ttl = r.u32("record name")?;
    let len = usize::from(r.u16("record name")?);
    let start = r.at;
    let data = r.take(len, "rdlength")?;
    let mut fields = vec![("name".to_string(), Tree::Str(name)), ("type".to_string(), type_tree(t))];
    if class != IN {
        fields.push(("class".into(), num(class)));
    }
    fields.push(("ttl".into(), num(ttl)));
    let mut at = Reader { msg: r.msg, at: start };
    let rdata = match t {
        1 => Some(Tree::Str(Ipv4Addr::from(<[u8; 4]>::try_from(data).map_err(|_| err("A rdata"))?).to_string())),
        28 => Some(Tree::Str(Ipv6Addr::from(<[u8; 16]>::try_from(data).map_err(|_| err("AAAA rdata"))?).to_string())),
        2 | 5 | 12 => Some(Tree::Str(at.name("rdata name")?)),
        6 => Some(soa(&mut at)?),
        15 => Some(Tree::Object(vec![
            ("preference".into(), num(at.u16("mx")?)),
            ("exchange".into(), Tree::Str(at.name("mx exchange")?)),
        ])),
        33 => Some(Tree::Object(vec![
            ("priority".into(), num(at.u16("srv")?)),
            ("weight".into(), num(at.u16("srv")?)),
            ("port".into(), num(at.u16("srv")?)),
            ("target".into(), Tree::Str(at.name("srv target")?)),
        ])),
        // One character-string filling the record, or no rdata at all, as in Pipy.
        16 => (!data.is_empty() && usize::from(data[0]) + 1 == len)
            .then(|| Tree::Str(String::from_utf8_lossy(&data[1..]).into_owned())),
        _ => Some(Tree::Str(data.iter().map(|b| format!("{b:02x}")).collect())),
    };
    if let Some(rdata) = rdata {
        fields.push(("rdata".into(), rdata));
    }
    Ok(Tree::Object(fields))
}

fn soa(r: &mut Reader) -> Result<Tree, String> {
    let mut fields = vec![("mname".to_string(), Tree::Str(r.name("soa mname")?))];
    fields.push(("rname".into(), Tree::Str(r.name("soa rname")?)));
    for key in ["serial", "refresh", "retry", "expire", "minimum"] {
        fields.push((key.into(), num(r.u32("soa")?)));
    }
    Ok(Tree::Object(fields))
}

fn eerr(what: &str) -> String {
    format!("dns encode # {what} error")
}

/// A field that is a number (Pipy reads nothing else there), else `default`.
fn number_or(tree: &Tree, name: &str, default: f64) -> f64 {
    match field(tree, name) {
        Tree::Number(n) => *n,
        _ => default,
    }
}

/// A non-negative number field, or the error for it.
fn required(tree: &Tree, name: &str, what: &str) -> Result<f64, String> {
    Some(number_or(tree, name, -1.0)).filter(|n| *n >= 0.0).ok_or_else(|| eerr(what))
}

fn text<'t>(tree: &'t Tree, name: &str, what: &str) -> Result<&'t str, String> {
    match field(tree, name) {
        Tree::Str(s) => Ok(s),
        _ => Err(eerr(what)),
    }
}

fn write_name(name: &str, out: &mut Vec<u8>, what: &str) -> Result<(), String> {
    let start = out.len();
    let labels = name.strip_suffix('.').unwrap_or(name);
    for label in labels.split('.').filter(|_| !labels.is_empty()) {
        if label.is_empty() || label.len() > 63 {
            return Err(eerr(what));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    if out.len() - start > MAX_NAME { Err(eerr(what)) } else { Ok(()) }
}

fn type_of(tree: &Tree, what: &str) -> Result<u16, String> {
    match field(tree, "type") {
        Tree::Str(s) => TYPES.iter().find(|(_, n)| n == s).map(|(c, _)| *c).ok_or_else(|| eerr(what)),
        Tree::Number(n) if *n >= 0.0 => Ok(*n as u16),
        _ => Err(eerr(what)),
    }
}

fn sections<'t>(msg: &'t Tree, name: &str) -> &'t [Tree] {
    match field(msg, name) {
        Tree::Array(items) => items,
        _ => &[],
    }
}

/// A message from a tree as `DNS.encode` takes it; an error names the field that is wrong.
pub fn encode(msg: &Tree) -> Result<Vec<u8>, String> {
    let mut out = (required(msg, "id", "id")? as u16).to_be_bytes().to_vec();
    let mut flags = [0u8; 2];
    for (name, byte, shift) in FLAGS {
        flags[usize::from(*byte)] |= ((number_or(msg, name, 0.0) as i64) << shift) as u8;
    }
    out.extend_from_slice(&flags);
    for name in ["question", "answer", "authority", "additional"] {
        out.extend_from_slice(&(sections(msg, name).len() as u16).to_be_bytes());
    }
    for q in sections(msg, "question") {
        write_name(text(q, "name", "question name")?, &mut out, "question name")?;
        out.extend_from_slice(&type_of(q, "question type")?.to_be_bytes());
        out.extend_from_slice(&(number_or(q, "class", 1.0) as u16).to_be_bytes());
    }
    for section in SECTIONS {
        for rec in sections(msg, section) {
            write_record(rec, &mut out)?;
        }
    }
    Ok(out)
}

fn write_record(rec: &Tree, out: &mut Vec<u8>) -> Result<(), String> {
    write_name(text(rec, "name", "record name")?, out, "record name")?;
    let t = type_of(rec, "record type")?;
    out.extend_from_slice(&t.to_be_bytes());
    out.extend_from_slice(&(number_or(rec, "class", 1.0) as u16).to_be_bytes());
    out.extend_from_slice(&(required(rec, "ttl", "record ttl")? as u32).to_be_bytes());
    let mut rdata = Vec::new();
    let obj = field(rec, "rdata");
    match t {
        1 => rdata
            .extend(text(rec, "rdata", "A rdata")?.parse::<Ipv4Addr>().map_err(|_| "invalid IPv4 notation")?.octets()),
        28 => rdata.extend(
            text(rec, "rdata", "AAAA rdata")?.parse::<Ipv6Addr>().map_err(|_| "invalid IPv6 notation")?.octets(),
        ),
        2 | 5 | 12 => write_name(text(rec, "rdata", "rdata name")?, &mut rdata, "rdata name")?,
        6 => {
            write_name(text(obj, "mname", "soa mname")?, &mut rdata, "soa mname")?;
            write_name(text(obj, "rname", "soa rname")?, &mut rdata, "soa rname")?;
            for key in ["serial", "refresh", "retry", "expire", "minimum"] {
                rdata.extend_from_slice(&(required(obj, key, "soa")? as u32).to_be_bytes());
            }
        }
        15 => {
            rdata.extend_from_slice(&(required(obj, "preference", "mx preference")? as u16).to_be_bytes());
            write_name(text(obj, "exchange", "mx exchange")?, &mut rdata, "mx exchange")?;
        }
        33 => {
            for key in ["priority", "weight", "port"] {
                rdata.extend_from_slice(&(required(obj, key, "srv")? as u16).to_be_bytes());
            }
            write_name(text(obj, "target", "srv target")?, &mut rdata, "srv target")?;
        }
        16 => {
            let s = text(rec, "rdata", "TXT rdata")?.as_bytes();
            rdata.push(s.len().min(255) as u8);
            rdata.extend_from_slice(&s[..s.len().min(255)]);
        }
        _ => rdata = hex(text(rec, "rdata", "HEX rdata")?).ok_or_else(|| eerr("HEX rdata"))?,
    }
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
    Ok(())
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let digits = s.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok()).collect()
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
