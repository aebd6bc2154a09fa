//! C struct and union layouts: named fields at fixed byte offsets, native byte order.
//!
//! Plain data with no script engine attached, so the eBPF glue can build layouts from BTF and
//! the `CStruct`/`CUnion` classes can build them from a script's field list; both then share
//! one encoder.

use std::sync::Arc;

/// The element types a field can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Float,
    Double,
    Char,
}

impl Scalar {
    pub fn from_name(name: &str) -> Option<Scalar> {
        Some(match name {
            "int8" => Scalar::Int8,
            "int16" => Scalar::Int16,
            "int32" => Scalar::Int32,
            "int64" => Scalar::Int64,
            "uint8" => Scalar::Uint8,
            "uint16" => Scalar::Uint16,
            "uint32" => Scalar::Uint32,
            "uint64" => Scalar::Uint64,
            "float" => Scalar::Float,
            "double" => Scalar::Double,
            "char" => Scalar::Char,
            _ => return None,
        })
    }

    /// The integer type of `size` bytes, if there is one.
    pub fn integer(size: usize, signed: bool) -> Option<Scalar> {
        Some(match (size, signed) {
            (1, true) => Scalar::Int8,
            (2, true) => Scalar::Int16,
            (4, true) => Scalar::Int32,
            (8, true) => Scalar::Int64,
            (1, false) => Scalar::Uint8,
            (2, false) => Scalar::Uint16,
            (4, false) => Scalar::Uint32,
            (8, false) => Scalar::Uint64,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Scalar::Int8 | Scalar::Uint8 | Scalar::Char => 1,
            Scalar::Int16 | Scalar::Uint16 => 2,
            Scalar::Int32 | Scalar::Uint32 | Scalar::Float => 4,
            Scalar::Int64 | Scalar::Uint64 | Scalar::Double => 8,
        }
    }

    pub fn is_integral(self) -> bool {
        !matches!(self, Scalar::Float | Scalar::Double)
    }

    pub fn is_unsigned(self) -> bool {
        matches!(self, Scalar::Uint8 | Scalar::Uint16 | Scalar::Uint32 | Scalar::Uint64)
    }
}

#[derive(Debug, Clone)]
pub enum FieldKind {
    Scalar(Scalar),
    Nested(Arc<Layout>),
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    /// Byte offset from the start of the outermost layout this field is part of.
    pub offset: usize,
    pub kind: FieldKind,
    /// Number of elements; 1 for a plain field.
    pub count: usize,
    pub is_array: bool,
}

impl Field {
    pub fn element_size(&self) -> usize {
        match &self.kind {
            FieldKind::Scalar(s) => s.size(),
            FieldKind::Nested(l) => l.size,
        }
    }

    /// The same field seen from a layout that holds its own at offset `by`.
    pub fn shifted(&self, by: usize) -> Field {
        Field { offset: self.offset + by, ..self.clone() }
    }
}

/// A struct or union layout.
#[derive(Debug, Clone)]
pub struct Layout {
    pub is_union: bool,
    pub fields: Vec<Field>,
    pub size: usize,
}

/// One field as declared to `new CStruct`/`new CUnion`.
pub enum FieldSpec {
    Scalar { scalar: Scalar, count: usize, is_array: bool },
    Nested(Arc<Layout>),
}

impl FieldSpec {
    /// Parses a type string such as `uint16`, `uint8[4]` or `char[16]`.
    pub fn parse(s: &str) -> Result<FieldSpec, String> {
        let (name, count) = match s.find('[') {
            None => (s, None),
            Some(open) => {
                let close = s.find(']').ok_or("closing bracket expected")?;
                if close + 1 != s.len() {
                    return Err("redundant characters after bracket".into());
                }
                let n: i64 = s[open + 1..close].trim().parse().map_err(|_| format!("invalid array length: {s}"))?;
                if n < 0 {
                    return Err("negative array length".into());
                }
                // Sizes stay far from overflow, and a layout never asks for gigabytes.
                if n > 1 << 24 {
                    return Err(format!("array length too large: {s}"));
                }
                (&s[..open], Some(n as usize))
            }
        };
        let scalar = Scalar::from_name(name).ok_or_else(|| format!("unknown type name: {name}"))?;
        Ok(FieldSpec::Scalar { scalar, count: count.unwrap_or(1), is_array: count.is_some() })
    }
}

fn align_up(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

fn alignment_for(size: usize) -> usize {
    match size {
        0 | 1 => 1,
        2 => 2,
        3 | 4 => 4,
        _ => 8,
    }
}

impl Layout {
    /// A scalar key or value of a BPF map, seen as a struct with the single field `i`.
    pub fn scalar_wrapper(scalar: Scalar) -> Layout {
        Layout {
            is_union: false,
            fields: vec![Field {
                name: "i".into(),
                offset: 0,
                kind: FieldKind::Scalar(scalar),
                count: 1,
                is_array: false,
            }],
            size: scalar.size(),
        }
    }

    /// Lays fields out the way Pipy does, which differs from C: a nested layout aligns by its
    /// total size and takes up its size rounded to 4, and there is no trailing padding.
    /// Names starting with a digit are anonymous unions whose members join the parent.
    pub fn pipy(is_union: bool, specs: Vec<(String, FieldSpec)>) -> Result<Layout, String> {
        let mut fields = Vec::new();
        let mut size = 0usize;
        for (name, spec) in specs {
            let anonymous = name.starts_with(|c: char| c.is_ascii_digit());
            let (offset, end, field) = match spec {
                FieldSpec::Scalar { scalar, count, is_array } => {
                    if anonymous {
                        return Err("anonymous field of non-union type is not allowed".into());
                    }
                    let offset = if is_union { 0 } else { align_up(size, alignment_for(scalar.size())) };
                    let end = offset + scalar.size() * count;
                    (offset, end, Field { name, offset, kind: FieldKind::Scalar(scalar), count, is_array })
                }
                FieldSpec::Nested(layout) => {
                    if anonymous && !layout.is_union {
                        return Err("anonymous field of non-union type is not allowed".into());
                    }
                    let offset = if is_union { 0 } else { align_up(size, alignment_for(layout.size)) };
                    let end = offset + align_up(layout.size, 4);
                    (offset, end, Field { name, offset, kind: FieldKind::Nested(layout), count: 1, is_array: false })
                }
            };
            size = if is_union { size.max(end) } else { end };
            if anonymous {
                let FieldKind::Nested(inner) = &field.kind else { unreachable!() };
                fields.extend(inner.fields.iter().map(|f| f.shifted(offset)));
            } else {
                fields.push(field);
            }
        }
        Ok(Layout { is_union, fields, size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> FieldSpec {
        FieldSpec::parse(s).unwrap()
    }

    fn offsets(l: &Layout) -> Vec<(&str, usize)> {
        l.fields.iter().map(|f| (f.name.as_str(), f.offset)).collect()
    }

    #[test]
    fn pipy_aligns_scalars_by_size_without_trailing_padding() {
        let specs = vec![("a".into(), spec("uint32")), ("b".into(), spec("uint16")), ("c".into(), spec("uint32"))];
        let l = Layout::pipy(false, specs).unwrap();
        assert_eq!(offsets(&l), [("a", 0), ("b", 4), ("c", 8)]);
        assert_eq!(l.size, 12);
        let specs = vec![("a".into(), spec("uint32")), ("b".into(), spec("uint16"))];
        assert_eq!(Layout::pipy(false, specs).unwrap().size, 6);
    }

    #[test]
    fn nested_layouts_take_their_size_rounded_to_four() {
        let inner = Arc::new(Layout::pipy(false, vec![("x".into(), spec("uint8[3]"))]).unwrap());
        assert_eq!(inner.size, 3);
        let l = Layout::pipy(false, vec![("n".into(), FieldSpec::Nested(inner)), ("y".into(), spec("uint8"))]).unwrap();
        assert_eq!(offsets(&l), [("n", 0), ("y", 4)]);
    }

    #[test]
    fn anonymous_unions_join_the_parent() {
        let u = Layout::pipy(true, vec![("p".into(), spec("uint16")), ("q".into(), spec("uint32"))]).unwrap();
        assert_eq!((u.size, offsets(&u)), (4, vec![("p", 0), ("q", 0)]));
        let l = Layout::pipy(false, vec![("a".into(), spec("uint8")), ("0".into(), FieldSpec::Nested(Arc::new(u)))])
            .unwrap();
        assert_eq!(offsets(&l), [("a", 0), ("p", 4), ("q", 4)]);
        assert!(Layout::pipy(false, vec![("0".into(), spec("uint8"))]).is_err());
    }

    #[test]
    fn type_strings() {
        let FieldSpec::Scalar { scalar, count, is_array } = spec("char[16]") else { panic!() };
        assert_eq!((scalar, count, is_array), (Scalar::Char, 16, true));
        assert_eq!(FieldSpec::parse("uint8[4]x").err().unwrap(), "redundant characters after bracket");
        assert_eq!(FieldSpec::parse("int128").err().unwrap(), "unknown type name: int128");
        assert_eq!(FieldSpec::parse("int8[-1]").err().unwrap(), "negative array length");
    }
}
