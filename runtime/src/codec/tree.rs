//! [`Tree`]: a decoded message as plain data (RESP values, the heads of multipart parts), so
//! that codecs stay free of the script engine. The host turns a tree into a script value and
//! back (`Host::tree_value`, `Host::value_tree`).

use bytes::Bytes;

#[derive(Clone, Debug, PartialEq)]
pub enum Tree {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    /// An integer wider than a double holds exactly (a 64-bit field); a BigInt in scripts.
    Int(i64),
    Str(String),
    Data(Bytes),
    /// An `Error` with this message (a RESP error reply).
    Error(String),
    Array(Vec<Tree>),
    /// An object's own fields, in order.
    Object(Vec<(String, Tree)>),
}

impl Tree {
    /// The value as text, as `String(value)` would make it for the kinds codecs meet.
    pub fn text(&self) -> String {
        match self {
            Tree::Undefined => "undefined".into(),
            Tree::Null => "null".into(),
            Tree::Bool(b) => b.to_string(),
            Tree::Number(n) => number_text(*n),
            Tree::Int(i) => i.to_string(),
            Tree::Str(s) => s.clone(),
            Tree::Data(d) => String::from_utf8_lossy(d).into_owned(),
            Tree::Error(m) => format!("Error: {m}"),
            Tree::Array(a) => a
                .iter()
                .map(|t| if matches!(t, Tree::Null | Tree::Undefined) { String::new() } else { t.text() })
                .collect::<Vec<_>>()
                .join(","),
            Tree::Object(_) => "[object Object]".into(),
        }
    }
}

/// A double as a script prints it, for the integral values codecs write.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 { format!("{}", n as i64) } else { n.to_string() }
}
