//! Reading a script object given as a [`Tree`] the way Pipy's encoders read theirs: a field by
//! name, numbers and strings converted as JavaScript converts them, absent fields as
//! `undefined`. The BGP, DNS, MQTT and Thrift encoders share these.

use super::tree::Tree;

const UNDEFINED: &Tree = &Tree::Undefined;

/// The field `name` of an object; `undefined` for a missing field or a value that is not an
/// object.
pub fn field<'t>(tree: &'t Tree, name: &str) -> &'t Tree {
    match tree {
        Tree::Object(fields) => fields.iter().find(|(k, _)| k == name).map_or(UNDEFINED, |(_, v)| v),
        _ => UNDEFINED,
    }
}

/// `Number(value)`.
pub fn number(tree: &Tree) -> f64 {
    match tree {
        Tree::Number(n) => *n,
        Tree::Int(i) => *i as f64,
        Tree::Bool(b) => f64::from(u8::from(*b)),
        Tree::Null => 0.0,
        Tree::Str(s) => {
            let s = s.trim();
            if s.is_empty() { 0.0 } else { s.parse().unwrap_or(f64::NAN) }
        }
        Tree::Array(a) if a.is_empty() => 0.0,
        Tree::Array(a) if a.len() == 1 => number(&Tree::Str(a[0].text())),
        _ => f64::NAN,
    }
}

/// `value | 0`: NaN and infinities are 0, the rest wraps to 32 bits.
pub fn int32(tree: &Tree) -> i32 {
    uint32(tree) as i32
}

/// `value >>> 0`.
pub fn uint32(tree: &Tree) -> u32 {
    let n = number(tree);
    if n.is_finite() { (n.trunc() as i64) as u32 } else { 0 }
}

/// `Math.trunc(Number(value))` as a whole number: NaN and infinities are 0.
pub fn int(tree: &Tree) -> i64 {
    let n = number(tree);
    if n.is_finite() { n.trunc() as i64 } else { 0 }
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

/// `Boolean(value)`.
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

/// The field as a string when it is one (Pipy's encoders ignore other kinds there).
pub fn string<'t>(tree: &'t Tree, name: &str) -> Option<&'t str> {
    match field(tree, name) {
        Tree::Str(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_convert_as_in_javascript() {
        let o = Tree::Object(vec![("a".into(), Tree::Str(" 12 ".into())), ("b".into(), Tree::Number(-1.0))]);
        assert_eq!(number(field(&o, "a")), 12.0);
        assert!(number(field(&o, "missing")).is_nan());
        assert_eq!(uint32(field(&o, "b")), u32::MAX);
        assert_eq!(int32(&Tree::Number(f64::NAN)), 0);
        assert_eq!(int32(&Tree::Number(4294967297.0)), 1);
        assert!(truthy(&Tree::Str("x".into())) && !truthy(&Tree::Number(0.0)));
        assert_eq!(string(&o, "a"), Some(" 12 "));
        assert_eq!(string(&o, "b"), None);
    }
}
