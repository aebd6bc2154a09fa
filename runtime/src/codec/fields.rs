//! Reading the fields of a [`Tree`] a script handed an encoder: the lenient conversions
//! Pipy's encoders make (a missing field reads as its zero, a number from a string).

use super::tree::Tree;

/// Field `name` of an object, or `Undefined`.
pub fn get<'a>(tree: &'a Tree, name: &str) -> &'a Tree {
    match tree {
        Tree::Object(fields) => fields.iter().find(|(k, _)| k == name).map_or(&Tree::Undefined, |(_, v)| v),
        _ => &Tree::Undefined,
    }
}

/// The value as a whole number, as a script's `Number(v)` truncated (0 for what is not one).
pub fn int(tree: &Tree) -> i64 {
    match tree {
        Tree::Number(n) if n.is_finite() => *n as i64,
        Tree::Int(i) => *i,
        Tree::Bool(b) => i64::from(*b),
        Tree::Str(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()).map_or(0, |n| n as i64),
        _ => 0,
    }
}

/// The value as a double (NaN for what is not a number).
pub fn float(tree: &Tree) -> f64 {
    match tree {
        Tree::Number(n) => *n,
        Tree::Int(i) => *i as f64,
        Tree::Bool(b) => f64::from(u8::from(*b)),
        Tree::Str(s) => s.trim().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// The value's truth, as a script's `!!v`.
pub fn truthy(tree: &Tree) -> bool {
    match tree {
        Tree::Undefined | Tree::Null => false,
        Tree::Bool(b) => *b,
        Tree::Number(n) => *n != 0.0 && !n.is_nan(),
        Tree::Int(i) => *i != 0,
        Tree::Str(s) => !s.is_empty(),
        _ => true,
    }
}

/// Whether the value is absent (`undefined` or `null`).
pub fn absent(tree: &Tree) -> bool {
    matches!(tree, Tree::Undefined | Tree::Null)
}

/// The bytes of a string or a `Data`; of anything else, its text (none for `undefined` or
/// `null`).
pub fn bytes(tree: &Tree) -> Vec<u8> {
    match tree {
        Tree::Undefined | Tree::Null => Vec::new(),
        Tree::Str(s) => s.as_bytes().to_vec(),
        Tree::Data(d) => d.to_vec(),
        other => other.text().into_bytes(),
    }
}

/// The elements of an array (none for anything else).
pub fn items(tree: &Tree) -> &[Tree] {
    match tree {
        Tree::Array(a) => a,
        _ => &[],
    }
}
