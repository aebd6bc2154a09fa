//! [`Tree`]: a decoded message as plain data (RESP values, MQTT packets, Thrift and Hessian
//! values), so that codecs stay free of the script engine. The host turns a tree into a
//! script value and back (`Host::tree_value`, `Host::value_tree`).

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
    /// The field `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Tree> {
        match self {
            Tree::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as a number, as a script's arithmetic would read it; `None` for what is not
    /// a number, a boolean or a numeric string.
    pub fn number(&self) -> Option<f64> {
        match self {
            Tree::Number(n) => Some(*n),
            Tree::Int(i) => Some(*i as f64),
            Tree::Bool(b) => Some(f64::from(u8::from(*b))),
            Tree::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The number field `key`, or `default` when absent or not a number.
    pub fn num_or(&self, key: &str, default: f64) -> f64 {
        self.get(key).and_then(Tree::number).unwrap_or(default)
    }

    /// Whether the value is truthy as a script reads it.
    pub fn truthy(&self) -> bool {
        match self {
            Tree::Undefined | Tree::Null => false,
            Tree::Bool(b) => *b,
            Tree::Number(n) => *n != 0.0 && !n.is_nan(),
            Tree::Int(i) => *i != 0,
            Tree::Str(s) => !s.is_empty(),
            _ => true,
        }
    }

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

    /// The bytes of a `Data`, or of a string's UTF-8.
    pub fn bytes(&self) -> Option<Bytes> {
        match self {
            Tree::Data(d) => Some(d.clone()),
            Tree::Str(s) => Some(Bytes::copy_from_slice(s.as_bytes())),
            _ => None,
        }
    }
}

/// A double as a script prints it, for the integral values codecs write.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 { format!("{}", n as i64) } else { n.to_string() }
}
