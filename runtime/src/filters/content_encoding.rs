//! The `content-encoding` header of a message head, read and changed for `compressHTTP`
//! and `decompressHTTP`: in Rust for a decoder's head, through the host for a script's.
//!
//! Changing the encoding changes the body's length, so a changed head loses its
//! `content-length` too: the encoder then frames the new body itself (chunked, or by its
//! own count for a body it holds whole) instead of cutting it to the old length.

use std::rc::Rc;

use crate::codec::http1::Header;
use crate::engine::{Head, Value, host};

const NAME: &str = "content-encoding";
const LENGTH: &str = "content-length";

/// The head's `content-encoding`, if it has one.
pub fn get(head: &Head) -> Option<String> {
    match head {
        Head::None => None,
        Head::Request(r) => r.header(NAME).map(str::to_string),
        Head::Response(r) => r.header(NAME).map(str::to_string),
        Head::Js(v) => host().script_header(v, NAME),
    }
}

/// The head with `content-encoding: value` and no `content-length`. A script's head is changed in place, as in
/// Pipy; a message made without a head (`new Message(body)`) gets one.
pub fn set(head: Head, value: &str) -> Head {
    edit(head, Some(value))
}

/// The head without `content-encoding` or `content-length`.
pub fn remove(head: Head) -> Head {
    edit(head, None)
}

fn edit(head: Head, value: Option<&str>) -> Head {
    let lines = |headers: &mut Vec<Header>| {
        headers.retain(|h| !h.name.eq_ignore_ascii_case(NAME) && !h.name.eq_ignore_ascii_case(LENGTH));
        if let Some(v) = value {
            headers.push(Header::new(NAME, v));
        }
    };
    match edit_lines(head, lines) {
        Ok(head) => head,
        Err(Head::None) if value.is_none() => Head::None,
        Err(Head::Js(v)) => {
            let v = host().set_script_header(&v, LENGTH, None);
            Head::Js(host().set_script_header(&v, NAME, value))
        }
        // A message made without a head gets one.
        Err(_) => Head::Js(host().set_script_header(&Value::undefined(), NAME, value)),
    }
}

/// A decoded head with its header lines changed by `lines` (copied only if shared), or the
/// head as it was if it has no lines of its own (none, or a script's).
fn edit_lines(head: Head, lines: impl FnOnce(&mut Vec<Header>)) -> Result<Head, Head> {
    match head {
        Head::Request(r) => {
            let mut r = Rc::unwrap_or_clone(r);
            lines(&mut r.headers);
            Ok(Head::Request(Rc::new(r)))
        }
        Head::Response(r) => {
            let mut r = Rc::unwrap_or_clone(r);
            lines(&mut r.headers);
            Ok(Head::Response(Rc::new(r)))
        }
        other => Err(other),
    }
}

/// The head without `content-length`, for a filter that changed the body after it.
pub fn drop_length(head: Head) -> Head {
    match edit_lines(head, |headers| headers.retain(|h| !h.name.eq_ignore_ascii_case(LENGTH))) {
        Err(Head::Js(v)) => Head::Js(host().set_script_header(&v, LENGTH, None)),
        Ok(head) | Err(head) => head,
    }
}
