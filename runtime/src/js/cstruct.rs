//! `CStruct` and `CUnion`: binary layouts for raw socket options and BPF map keys/values.
//!
//! [`Layout`] is plain Rust data so the BPF glue can build layouts from BTF; the two JS
//! classes wrap one and add `encode`, `decode`, `size` and `reflect`.

use std::sync::Arc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::{Attribute, PropertyKey};
use boa_engine::{
    Context, Finalize, JsBigInt, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string,
};

use super::data::Data;
use super::type_error;

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

    fn is_integral(self) -> bool {
        !matches!(self, Scalar::Float | Scalar::Double)
    }

    fn is_unsigned(self) -> bool {
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
    fn element_size(&self) -> usize {
        match &self.kind {
            FieldKind::Scalar(s) => s.size(),
            FieldKind::Nested(l) => l.size,
        }
    }
}

/// A struct or union layout: named fields at fixed offsets, native byte order.
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

    /// Encodes a JS object into exactly `size` bytes. Fields the object leaves undefined stay
    /// zero, which also lets one member of a union be set without the others clobbering it.
    pub fn encode(&self, value: &JsValue, ctx: &mut Context) -> JsResult<Vec<u8>> {
        let mut buf = vec![0u8; self.size];
        if let Some(obj) = value.as_object() {
            self.write(&obj, &mut buf, 0, ctx)?;
        }
        Ok(buf)
    }

    fn write(&self, obj: &JsObject, buf: &mut [u8], base: usize, ctx: &mut Context) -> JsResult<()> {
        for f in &self.fields {
            let v = obj.get(JsString::from(f.name.as_str()), ctx)?;
            if v.is_undefined() || v.is_null() {
                continue;
            }
            let at = base + f.offset;
            match &f.kind {
                FieldKind::Nested(layout) => {
                    if let Some(inner) = v.as_object() {
                        layout.write(&inner, buf, at, ctx)?;
                    }
                }
                FieldKind::Scalar(Scalar::Char) if f.is_array => {
                    if let Some(s) = v.as_string() {
                        let s = s.to_std_string_escaped();
                        let n = s.len().min(f.count);
                        buf[at..at + n].copy_from_slice(&s.as_bytes()[..n]);
                    }
                }
                FieldKind::Scalar(s) if f.is_array => {
                    let Some(arr) = v.as_object().filter(|o| o.is_array()) else {
                        continue;
                    };
                    for i in 0..f.count {
                        let e = arr.get(i, ctx)?;
                        if !e.is_undefined() {
                            write_scalar(*s, &e, &mut buf[at + i * s.size()..], ctx)?;
                        }
                    }
                }
                FieldKind::Scalar(s) => write_scalar(*s, &v, &mut buf[at..], ctx)?,
            }
        }
        Ok(())
    }

    /// Decodes bytes into a plain object; bytes past the end of `bytes` read as zero.
    pub fn decode(&self, bytes: &[u8], ctx: &mut Context) -> JsResult<JsValue> {
        let mut padded = bytes.to_vec();
        if padded.len() < self.size {
            padded.resize(self.size, 0);
        }
        self.read(&padded, 0, ctx).map(JsValue::from)
    }

    fn read(&self, buf: &[u8], base: usize, ctx: &mut Context) -> JsResult<JsObject> {
        let obj = JsObject::with_object_proto(ctx.intrinsics());
        for f in &self.fields {
            let at = base + f.offset;
            let v = match &f.kind {
                FieldKind::Nested(layout) => layout.read(buf, at, ctx)?.into(),
                FieldKind::Scalar(Scalar::Char) if f.is_array => {
                    let raw = &buf[at..at + f.count];
                    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
                    JsString::from(String::from_utf8_lossy(&raw[..end]).as_ref()).into()
                }
                FieldKind::Scalar(s) if f.is_array => {
                    let items: Vec<JsValue> =
                        (0..f.count).map(|i| read_scalar(*s, &buf[at + i * s.size()..])).collect();
                    JsArray::from_iter(items, ctx).into()
                }
                FieldKind::Scalar(s) => read_scalar(*s, &buf[at..]),
            };
            obj.set(JsString::from(f.name.as_str()), v, false, ctx)?;
        }
        Ok(obj)
    }

    fn reflect(&self, ctx: &mut Context) -> JsResult<JsValue> {
        let obj = JsObject::with_object_proto(ctx.intrinsics());
        for f in &self.fields {
            let (integral, unsigned) = match &f.kind {
                FieldKind::Scalar(s) => (s.is_integral(), s.is_unsigned()),
                FieldKind::Nested(_) => (false, false),
            };
            let info = JsObject::with_object_proto(ctx.intrinsics());
            info.set(js_string!("offset"), f.offset as u32, false, ctx)?;
            info.set(js_string!("size"), f.element_size() as u32, false, ctx)?;
            info.set(js_string!("count"), f.count as u32, false, ctx)?;
            info.set(js_string!("isArray"), f.is_array, false, ctx)?;
            info.set(js_string!("isIntegral"), integral, false, ctx)?;
            info.set(js_string!("isUnsigned"), unsigned, false, ctx)?;
            obj.set(JsString::from(f.name.as_str()), info, false, ctx)?;
        }
        Ok(obj.into())
    }
}

impl Field {
    fn shifted(&self, by: usize) -> Field {
        Field { offset: self.offset + by, ..self.clone() }
    }
}

fn write_scalar(s: Scalar, v: &JsValue, out: &mut [u8], ctx: &mut Context) -> JsResult<()> {
    match s {
        Scalar::Float => out[..4].copy_from_slice(&(v.to_number(ctx)? as f32).to_ne_bytes()),
        Scalar::Double => out[..8].copy_from_slice(&v.to_number(ctx)?.to_ne_bytes()),
        Scalar::Int64 | Scalar::Uint64 => {
            let bits = if v.is_bigint() {
                v.to_big_uint64(ctx)?
            } else {
                let n = v.to_number(ctx)?;
                if n >= 0.0 { n as u64 } else { n as i64 as u64 }
            };
            out[..8].copy_from_slice(&bits.to_ne_bytes());
        }
        _ => {
            let n = if v.is_bigint() { v.to_big_int64(ctx)? as i32 } else { v.to_i32(ctx)? };
            let size = s.size();
            #[cfg(target_endian = "little")]
            out[..size].copy_from_slice(&n.to_le_bytes()[..size]);
            #[cfg(target_endian = "big")]
            out[..size].copy_from_slice(&n.to_be_bytes()[4 - size..]);
        }
    }
    Ok(())
}

fn read_scalar(s: Scalar, b: &[u8]) -> JsValue {
    let arr = |n: usize| -> [u8; 8] {
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(&b[..n]);
        a
    };
    match s {
        Scalar::Int8 | Scalar::Char => JsValue::from(b[0] as i8 as i32),
        Scalar::Uint8 => JsValue::from(b[0] as i32),
        Scalar::Int16 => JsValue::from(i16::from_ne_bytes([b[0], b[1]]) as i32),
        Scalar::Uint16 => JsValue::from(u16::from_ne_bytes([b[0], b[1]]) as i32),
        Scalar::Int32 => JsValue::from(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        Scalar::Uint32 => JsValue::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as f64),
        Scalar::Float => JsValue::from(f32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as f64),
        Scalar::Double => JsValue::from(f64::from_ne_bytes(arr(8))),
        Scalar::Int64 => JsBigInt::from(i64::from_ne_bytes(arr(8))).into(),
        Scalar::Uint64 => JsBigInt::from(u64::from_ne_bytes(arr(8))).into(),
    }
}

/// Parses a type string such as `uint16`, `uint8[4]` or `char[16]`.
fn parse_type(s: &str) -> Result<FieldSpec, String> {
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

fn layout_from_fields(fields: &JsValue, is_union: bool, ctx: &mut Context) -> JsResult<Layout> {
    let what = if is_union { "CUnion" } else { "CStruct" };
    let obj = fields.as_object().ok_or_else(|| type_error(format!("new {what}: fields must be an object")))?;
    let mut specs = Vec::new();
    for key in obj.own_property_keys(ctx)? {
        let name = match &key {
            PropertyKey::String(s) => s.to_std_string_escaped(),
            PropertyKey::Index(i) => i.get().to_string(),
            PropertyKey::Symbol(_) => continue,
        };
        let v = obj.get(key, ctx)?;
        let spec = if let Some(t) = v.as_string() {
            parse_type(&t.to_std_string_escaped()).map_err(type_error)?
        } else if let Some(layout) = layout_of(&v) {
            FieldSpec::Nested(layout)
        } else {
            return Err(type_error(format!("invalid field type: {name}")));
        };
        specs.push((name, spec));
    }
    Layout::pipy(is_union, specs).map_err(type_error)
}

/// The layout behind a `CStruct` or `CUnion` object.
pub fn layout_of(value: &JsValue) -> Option<Arc<Layout>> {
    let obj = value.as_object()?;
    if let Some(s) = obj.downcast_ref::<CStruct>() {
        return Some(s.layout.clone());
    }
    obj.downcast_ref::<CUnion>().map(|u| u.layout.clone())
}

/// Wraps a layout in a new `CStruct` or `CUnion` object.
pub fn to_js(layout: Arc<Layout>, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(if layout.is_union {
        CUnion::from_data(CUnion { layout }, ctx)?.into()
    } else {
        CStruct::from_data(CStruct { layout }, ctx)?.into()
    })
}

fn this_layout(this: &JsValue) -> JsResult<Arc<Layout>> {
    layout_of(this).ok_or_else(|| type_error("this is not a CStruct or CUnion"))
}

fn init_methods(class: &mut ClassBuilder<'_>) {
    let realm = class.context().realm().clone();
    let size =
        NativeFunction::from_fn_ptr(|this, _, _| Ok((this_layout(this)?.size as u32).into())).to_js_function(&realm);
    class.accessor(js_string!("size"), Some(size), None, Attribute::CONFIGURABLE);
    class.method(
        js_string!("encode"),
        1,
        NativeFunction::from_fn_ptr(|this, args, ctx| {
            let layout = this_layout(this)?;
            match args.first() {
                None => Ok(JsValue::null()),
                Some(v) if v.is_null_or_undefined() => Ok(JsValue::null()),
                Some(v) => {
                    let bytes = layout.encode(v, ctx)?;
                    Data::to_js(bytes, ctx)
                }
            }
        }),
    );
    class.method(
        js_string!("decode"),
        1,
        NativeFunction::from_fn_ptr(|this, args, ctx| {
            let layout = this_layout(this)?;
            match args.first() {
                None => Ok(JsValue::null()),
                Some(v) if v.is_null_or_undefined() => Ok(JsValue::null()),
                Some(v) => {
                    let bytes =
                        Data::bytes_of(v).ok_or_else(|| type_error("decode: argument must be a Data object"))?;
                    layout.decode(&bytes, ctx)
                }
            }
        }),
    );
    class.method(js_string!("reflect"), 0, NativeFunction::from_fn_ptr(|this, _, ctx| this_layout(this)?.reflect(ctx)));
}

#[derive(Debug, Trace, Finalize, JsData)]
pub struct CStruct {
    #[unsafe_ignore_trace]
    pub layout: Arc<Layout>,
}

impl Class for CStruct {
    const NAME: &'static str = "CStruct";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let fields = args.first().cloned().unwrap_or_default();
        Ok(CStruct { layout: Arc::new(layout_from_fields(&fields, false, ctx)?) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        init_methods(class);
        Ok(())
    }
}

#[derive(Debug, Trace, Finalize, JsData)]
pub struct CUnion {
    #[unsafe_ignore_trace]
    pub layout: Arc<Layout>,
}

impl Class for CUnion {
    const NAME: &'static str = "CUnion";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let fields = args.first().cloned().unwrap_or_default();
        Ok(CUnion { layout: Arc::new(layout_from_fields(&fields, true, ctx)?) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        init_methods(class);
        Ok(())
    }
}

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<CStruct>()?;
    ctx.register_global_class::<CUnion>()?;
    Ok(())
}
