//! [`Text`]: the strings of a head, as slices of one buffer.
//!
//! A decoded head copies its bytes once into a buffer of its own, and every field (path,
//! header names and values, reason phrase) is a slice of that buffer: one allocation per
//! head instead of two per header line. Fixed strings (methods, protocols) are static.
//! Heads never leave their worker thread, so the buffer is counted with an `Rc`: no atomic
//! operation per field.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::rc::Rc;

/// An immutable UTF-8 string: a static one, or a slice of a shared buffer.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    /// `len` bytes at `start` of `buf`, which are UTF-8.
    Slice {
        buf: Rc<[u8]>,
        start: u32,
        len: u32,
    },
}

impl Text {
    pub const fn new() -> Text {
        Text(Repr::Static(""))
    }

    pub const fn from_static(s: &'static str) -> Text {
        Text(Repr::Static(s))
    }

    /// The `len` bytes at `start` of `buf`, which hold a copy of `text`. The caller makes
    /// sure of the copy (the parser slices its own copy of what it parsed, at the offsets of
    /// what it parsed); the bounds are checked here.
    pub(super) fn slice(buf: &Rc<[u8]>, start: usize, text: &str) -> Text {
        let len = text.len();
        let inside = start.checked_add(len).is_some_and(|end| end <= buf.len());
        assert!(inside && buf.len() <= u32::MAX as usize, "a slice of the buffer");
        debug_assert_eq!(&buf[start..start + len], text.as_bytes(), "a copy of the text");
        Text(Repr::Slice { buf: buf.clone(), start: start as u32, len: len as u32 })
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Slice { buf, start, len } => {
                let bytes = &buf[*start as usize..(*start + *len) as usize];
                // SAFETY: a slice is made from a `str` (`From`), or from a buffer holding a
                // copy of one at the same place (`Text::slice`); the bytes never change.
                unsafe { std::str::from_utf8_unchecked(bytes) }
            }
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl Default for Text {
    fn default() -> Text {
        Text::new()
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        let buf: Rc<[u8]> = Rc::from(s.as_bytes());
        Text::slice(&buf, 0, s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::from(s.as_str())
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text::from(s.as_str())
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.as_str().to_owned()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_share_the_buffer_and_read_as_str() {
        let line = "Host: é.example\r\n";
        let buf: Rc<[u8]> = Rc::from(line.as_bytes());
        let value = Text::slice(&buf, 6, &line[6..line.len() - 2]);
        assert_eq!(value, "é.example");
        assert_eq!(value.as_bytes().as_ptr(), buf[6..].as_ptr());
        assert_eq!(Rc::strong_count(&buf), 2);
        assert_eq!(format!("{value:?} {value}"), "\"é.example\" é.example");
        assert_eq!(String::from(value.clone()), "é.example".to_string());
        assert_eq!(Text::from("x".to_string()), Text::from_static("x"));
        assert_eq!(Text::default(), "");
        drop(value);
        assert_eq!(Rc::strong_count(&buf), 1);
    }

    #[test]
    #[should_panic(expected = "a slice of the buffer")]
    fn a_slice_past_the_buffer_is_refused() {
        let buf: Rc<[u8]> = Rc::from(&b"abc"[..]);
        Text::slice(&buf, 2, "cd");
    }

    #[test]
    #[should_panic(expected = "a slice of the buffer")]
    fn an_offset_that_wraps_is_refused() {
        let buf: Rc<[u8]> = Rc::from(&b"abc"[..]);
        Text::slice(&buf, usize::MAX, "ab");
    }
}
