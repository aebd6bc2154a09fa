//! The `content-encoding` header of a message head, read and changed for `compressHTTP`
//! and `decompressHTTP`: in Rust for a decoder's head, through the host for a script's.

use std::rc::Rc;

use crate::codec::http1::Header;
use crate::engine::{Head, Value, host};

const NAME: &str = "content-encoding";

/// The head's `content-encoding`, if it has one.
pub fn get(head: &Head) -> Option<String> {
    match head {
        Head::None => None,
        Head::Request(r) => r.header(NAME).map(str::to_string),
        Head::Response(r) => r.header(NAME).map(str::to_string),
        Head::Js(v) => host().script_header(v, NAME),
    }
}

/// The head with `content-encoding: value`. A script's head is changed in place, as in
/// Pipy; a message made without a head (`new Message(body)`) gets one.
pub fn set(head: Head, value: &str) -> Head {
    edit(head, Some(value))
}

/// The head without `content-encoding`.
pub fn remove(head: Head) -> Head {
    edit(head, None)
}

fn edit(head: Head, value: Option<&str>) -> Head {
    let lines = |headers: &mut Vec<Header>| {
        headers.retain(|h| !h.name.eq_ignore_ascii_case(NAME));
        if let Some(v) = value {
            headers.push(Header::new(NAME, v));
        }
    };
    match head {
        Head::Request(r) => {
            let mut r = Rc::unwrap_or_clone(r);
            lines(&mut r.headers);
            Head::Request(Rc::new(r))
        }
        Head::Response(r) => {
            let mut r = Rc::unwrap_or_clone(r);
            lines(&mut r.headers);
            Head::Response(Rc::new(r))
        }
        Head::None if value.is_none() => Head::None,
        Head::None => Head::Js(host().set_script_header(&Value::undefined(), NAME, value)),
        Head::Js(v) => Head::Js(host().set_script_header(&v, NAME, value)),
    }
}
