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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::http1::{RequestHead, ResponseHead};
    use crate::engine::host::stub::StubHost;

    fn request(lines: &[(&str, &str)]) -> Head {
        let headers = lines.iter().map(|&(n, v)| Header::new(n, v)).collect();
        Head::Request(Rc::new(RequestHead { headers, ..RequestHead::default() }))
    }

    fn lines(head: &Head) -> Vec<String> {
        let headers = match head {
            Head::Request(r) => &r.headers,
            Head::Response(r) => &r.headers,
            _ => panic!("not a decoded head"),
        };
        headers.iter().map(|h| format!("{}: {}", h.name, h.value)).collect()
    }

    #[test]
    fn set_replaces_the_encoding_and_drops_the_length_of_a_decoded_head() {
        let head = request(&[("Content-Length", "9"), ("x", "1"), ("Content-Encoding", "br")]);
        assert_eq!(get(&head).as_deref(), Some("br"));
        let head = set(head, "gzip");
        assert_eq!(lines(&head), ["x: 1", "content-encoding: gzip"]);
        assert_eq!(get(&head).as_deref(), Some("gzip"));
        let response = Head::Response(Rc::new(ResponseHead {
            headers: vec![Header::new("content-length", "3")],
            ..ResponseHead::default()
        }));
        assert_eq!(lines(&set(response, "deflate")), ["content-encoding: deflate"]);
    }

    #[test]
    fn remove_and_drop_length_keep_the_other_lines_of_a_decoded_head() {
        let head = || request(&[("content-encoding", "gzip"), ("x", "1"), ("content-length", "4")]);
        assert_eq!(lines(&remove(head())), ["x: 1"]);
        assert_eq!(lines(&drop_length(head())), ["content-encoding: gzip", "x: 1"]);
        assert!(get(&remove(head())).is_none());
    }

    #[test]
    fn a_shared_decoded_head_is_copied_not_changed() {
        let shared =
            Rc::new(RequestHead { headers: vec![Header::new("content-length", "4")], ..RequestHead::default() });
        let head = set(Head::Request(shared.clone()), "gzip");
        assert_eq!(lines(&head), ["content-encoding: gzip"]);
        assert_eq!(lines(&Head::Request(shared)), ["content-length: 4"]);
    }

    #[test]
    fn a_script_head_is_changed_through_the_host() {
        let stub = StubHost::install();
        assert!(matches!(set(Head::Js(Value::undefined()), "gzip"), Head::Js(_)));
        assert!(matches!(remove(Head::Js(Value::undefined())), Head::Js(_)));
        assert!(matches!(drop_length(Head::Js(Value::undefined())), Head::Js(_)));
        let log = [
            "set content-length None",
            "set content-encoding Some(\"gzip\")",
            "set content-length None",
            "set content-encoding None",
            "set content-length None",
        ];
        assert_eq!(*stub.log.borrow(), log);
    }

    #[test]
    fn a_message_without_a_head_gets_one_only_when_an_encoding_is_set() {
        let stub = StubHost::install();
        assert!(matches!(remove(Head::None), Head::None));
        assert!(matches!(drop_length(Head::None), Head::None));
        assert!(stub.log.borrow().is_empty());
        assert!(matches!(set(Head::None, "gzip"), Head::Js(_)));
        assert_eq!(*stub.log.borrow(), ["set content-encoding Some(\"gzip\")"]);
    }
}
