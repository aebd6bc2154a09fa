//! Writing BGP messages from script values (as trees), with Pipy's leniency: a field that is
//! missing takes the default of Pipy's classes, names stand for codes, a `Data` value is
//! written as it is, and what does not fit a length field is cut to fit.

use std::net::Ipv4Addr;

use super::bgp::{ATTRIBUTES, HEADER, PARAMETERS, TYPES, code_of};
use super::fields::{field, int32, truthy, uint32};
use super::tree::Tree;

/// BGP's maximum message size (RFC 4271 4.1).
const MAX_MESSAGE: usize = 4096;

/// Appends the message `msg` (`{ type, body }`); `as4` writes AS numbers as 4 bytes.
pub fn encode(msg: &Tree, as4: bool, out: &mut Vec<u8>) {
    let kind = match field(msg, "type") {
        Tree::Undefined => 4,
        Tree::Str(s) => code_of(TYPES, s).unwrap_or(0xff),
        t => int32(t) as u8,
    };
    let mut payload = Vec::new();
    let body = field(msg, "body");
    if matches!(body, Tree::Object(_) | Tree::Array(_) | Tree::Data(_) | Tree::Error(_)) {
        match kind {
            1 => open(body, &mut payload),
            2 => update(body, as4, &mut payload),
            3 => {
                payload.push(int32(field(body, "errorCode")) as u8);
                payload.push(int32(field(body, "errorSubcode")) as u8);
                if let Tree::Data(d) = field(body, "data") {
                    payload.extend_from_slice(d);
                }
            }
            5 => {
                payload.extend_from_slice(&(int32(field(body, "afi")) as u16).to_be_bytes());
                payload.push(0);
                payload.push(int32(field(body, "safi")) as u8);
            }
            _ => {
                if let Tree::Data(d) = body {
                    payload.extend_from_slice(d);
                }
            }
        }
    }
    payload.truncate(MAX_MESSAGE - HEADER);
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&((payload.len() + HEADER) as u16).to_be_bytes());
    out.push(kind);
    out.extend_from_slice(&payload);
}

/// An int field of one of Pipy's classes: its default when the object does not have it.
fn int_or(tree: &Tree, name: &str, default: i32) -> i32 {
    match field(tree, name) {
        Tree::Undefined => default,
        t => int32(t),
    }
}

fn ipv4(text: &str) -> [u8; 4] {
    text.trim().parse::<Ipv4Addr>().map_or([0; 4], |ip| ip.octets())
}

/// `len` as one byte and `data` cut to what one byte counts.
fn short(out: &mut Vec<u8>, data: &[u8]) {
    let data = &data[..data.len().min(0xff)];
    out.push(data.len() as u8);
    out.extend_from_slice(data);
}

fn elements(tree: &Tree) -> &[Tree] {
    match tree {
        Tree::Array(items) => items,
        _ => &[],
    }
}

fn open(body: &Tree, out: &mut Vec<u8>) {
    out.push(int_or(body, "version", 4) as u8);
    out.extend_from_slice(&(int_or(body, "myAS", 0) as u16).to_be_bytes());
    out.extend_from_slice(&(int_or(body, "holdTime", 0) as u16).to_be_bytes());
    let id = match field(body, "identifier") {
        Tree::Str(s) => ipv4(s),
        _ => [0; 4],
    };
    out.extend_from_slice(&id);
    let mut params = Vec::new();
    for p in elements(field(body, "parameters")).iter().filter(|p| !matches!(p, Tree::Undefined)) {
        let code = coded(p, PARAMETERS);
        let mut value = Vec::new();
        match field(p, "value") {
            Tree::Data(d) => value.extend_from_slice(d),
            caps if code == 2 => capabilities(caps, &mut value),
            _ => {}
        }
        params.push(code);
        short(&mut params, &value);
    }
    short(out, &params);
}

/// The code of a parameter or attribute: its `name` when that is a known one, else `code`.
fn coded(item: &Tree, names: &[(u8, &str)]) -> u8 {
    match field(item, "name") {
        Tree::Str(s) if code_of(names, s).is_some() => code_of(names, s).unwrap_or(0),
        _ => int32(field(item, "code")) as u8,
    }
}

fn capabilities(caps: &Tree, out: &mut Vec<u8>) {
    for cap in elements(caps).iter().filter(|c| !matches!(c, Tree::Undefined)) {
        out.push(int32(field(cap, "code")) as u8);
        match field(cap, "value") {
            Tree::Data(d) => short(out, d),
            _ => out.push(0),
        }
    }
}

/// A prefix from `'a.b.c.d/n'`, the host bits cleared; anything else is the zero-length one.
fn prefix(tree: &Tree, out: &mut Vec<u8>) {
    let parsed = match tree {
        Tree::Str(s) => {
            s.split_once('/').and_then(|(ip, n)| Some((ip.parse::<Ipv4Addr>().ok()?, n.parse::<u8>().ok()?)))
        }
        _ => None,
    };
    let (ip, bits) = parsed.filter(|(_, n)| *n <= 32).map_or(([0; 4], 0), |(ip, n)| (ip.octets(), n));
    let n = usize::from(bits).div_ceil(8);
    let mut ip = ip;
    let spare = n * 8 - usize::from(bits);
    if spare > 0 {
        ip[n - 1] &= 0xff << spare;
    }
    out.push(bits);
    out.extend_from_slice(&ip[..n]);
}

fn update(body: &Tree, as4: bool, out: &mut Vec<u8>) {
    let mut withdrawn = Vec::new();
    elements(field(body, "withdrawnRoutes")).iter().for_each(|p| prefix(p, &mut withdrawn));
    let mut attrs = Vec::new();
    for a in elements(field(body, "pathAttributes")).iter().filter(|a| !matches!(a, Tree::Undefined)) {
        attribute(a, as4, &mut attrs);
    }
    for part in [&mut withdrawn, &mut attrs] {
        part.truncate(0xffff);
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
    }
    elements(field(body, "destinations")).iter().for_each(|p| prefix(p, out));
}

fn attribute(a: &Tree, as4: bool, out: &mut Vec<u8>) {
    let code = coded(a, ATTRIBUTES);
    let mut value = Vec::new();
    match field(a, "value") {
        Tree::Data(d) => value.extend_from_slice(d),
        v => attribute_value(code, v, as4, &mut value),
    }
    value.truncate(0xffff);
    let flags = [("optional", 0x80), ("transitive", 0x40), ("partial", 0x20)]
        .iter()
        .filter(|(name, _)| truthy(field(a, name)))
        .fold(0u8, |f, (_, bit)| f | bit);
    if value.len() > 0xff {
        out.extend_from_slice(&[flags | 0x10, code]);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[flags, code, value.len() as u8]);
    }
    out.extend_from_slice(&value);
}

fn as_number(n: u32, as4: bool, out: &mut Vec<u8>) {
    if as4 {
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.extend_from_slice(&(n as u16).to_be_bytes());
    }
}

fn attribute_value(code: u8, v: &Tree, as4: bool, out: &mut Vec<u8>) {
    match code {
        1 => out.push(int32(v) as u8),
        2 => as_path(v, as4, out),
        3 => out.extend_from_slice(&ipv4(&v.text())),
        4 | 5 => out.extend_from_slice(&uint32(v).to_be_bytes()),
        7 => {
            let items = elements(v);
            as_number(items.first().map_or(0, uint32), as4, out);
            out.extend_from_slice(&items.get(1).map_or([0; 4], |ip| ipv4(&ip.text())));
        }
        _ => {}
    }
}

/// An array segment is an AS_SEQUENCE, an object one an AS_SET of its keys.
fn as_path(v: &Tree, as4: bool, out: &mut Vec<u8>) {
    for segment in elements(v) {
        out.push(if matches!(segment, Tree::Array(_)) { 2 } else { 1 });
        let numbers: Vec<u32> = match segment {
            Tree::Array(items) => items.iter().map(uint32).collect(),
            Tree::Object(fields) => fields.iter().map(|(k, _)| uint32(&Tree::Str(k.clone()))).collect(),
            _ => continue,
        };
        let numbers = &numbers[..numbers.len().min(0xff)];
        out.push(numbers.len() as u8);
        numbers.iter().for_each(|n| as_number(*n, as4, out));
    }
}
