//! Hessian 2.0 serialization (what Dubbo bodies hold by default): values as [`Value`]s, a
//! stream of them decoded from bytes and encoded back with Pipy's choices of encoding.
//!
//! Lists, maps and objects are numbered in the order they begin, for `Ref`s to point at
//! them; class definitions and type names have tables of their own, local to one
//! [`decode`] or [`encode`] call.

mod decode;
mod encode;

pub use decode::decode;
pub use encode::encode;

/// Collections nested deeper than this are refused rather than risk the stack.
pub const MAX_DEPTH: usize = 256;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// A 32-bit `int`.
    Int(i32),
    /// A 64-bit `long`.
    Long(i64),
    Double(f64),
    /// Milliseconds since the epoch, UTC.
    Date(i64),
    Str(String),
    Binary(Vec<u8>),
    List {
        type_name: Option<String>,
        items: Vec<Value>,
    },
    Map {
        type_name: Option<String>,
        entries: Vec<(Value, Value)>,
    },
    /// An instance of a class: its type and its fields in the order of its definition.
    Object {
        type_name: String,
        fields: Vec<(String, Value)>,
    },
    /// The nth list, map or object of the stream, counted from 0 in the order they begin.
    Ref(usize),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// The bytes end inside a value.
    Short,
    /// A byte code Hessian does not define, or one where it makes no sense (a reference to
    /// a value not seen yet, a list length that is not an integer...).
    Malformed(&'static str, usize),
    /// Collections nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Short => write!(f, "the bytes end inside a value"),
            Error::Malformed(what, at) => write!(f, "{what} at byte {at}"),
            Error::TooDeep => write!(f, "collections nested deeper than {MAX_DEPTH}"),
        }
    }
}

#[cfg(test)]
mod tests;
