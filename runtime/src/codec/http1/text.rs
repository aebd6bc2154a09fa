//! [`Text`]: the strings of a head, as slices of one buffer.
//!
//! A decoded head copies its bytes once into a buffer of its own, and every field (path,
//! header names and values, reason phrase) is a slice of that buffer: one allocation per
//! head instead of two per header line. Fixed strings (methods, protocols) are static.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// An immutable UTF-8 string that shares its bytes ([`Bytes`] underneath).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Bytes);

impl Text {
    pub const fn new() -> Text {
        Text(Bytes::new())
    }

    pub const fn from_static(s: &'static str) -> Text {
        Text(Bytes::from_static(s.as_bytes()))
    }

    /// `bytes`, which hold a copy of `text`, as text. The caller makes sure of the copy (the
    /// parser slices its own copy of what it parsed, at the offsets of what it parsed).
    pub(super) fn from_utf8_copy(bytes: Bytes, text: &str) -> Text {
        debug_assert_eq!(bytes, text.as_bytes(), "a copy of the text");
        Text(bytes)
    }

    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor starts from a `str` (or a slice of one at character
        // boundaries, `slice_of`), and the bytes are immutable.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
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
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Bytes::from(s.into_bytes()))
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
        let owner = Bytes::from_static("Host: é.example\r\n".as_bytes());
        let whole = std::str::from_utf8(&owner).unwrap();
        let value = Text::from_utf8_copy(owner.slice(6..owner.len() - 2), &whole[6..whole.len() - 2]);
        assert_eq!(value, "é.example");
        assert_eq!(value.as_bytes().as_ptr(), owner[6..].as_ptr());
        assert_eq!(format!("{value:?} {value}"), "\"é.example\" é.example");
        assert_eq!(String::from(value.clone()), "é.example".to_string());
        assert!(value.eq_ignore_ascii_case("É.EXAMPLE") || value.starts_with('é'));
        assert_eq!(Text::from("x".to_string()), Text::from_static("x"));
        assert_eq!(Text::default(), "");
    }
}
