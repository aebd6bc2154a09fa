//! `CStruct` and `CUnion`: the script classes over a C [`Layout`] (raw socket options, BPF map
//! keys and values), with `encode`, `decode`, `size` and `reflect`.

use std::sync::Arc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::{Attribute, PropertyDescriptor, PropertyKey};
use boa_engine::{
    Context, Finalize, JsBigInt, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string,
};

use super::data::Data;
use super::type_error;
use crate::codec::c_layout::{FieldKind, FieldSpec, Layout, Scalar};

/// Encodes a JS object into exactly `size` bytes. Fields the object leaves undefined stay
/// zero, which also lets one member of a union be set without the others clobbering it.
pub fn encode(layout: &Layout, value: &JsValue, ctx: &mut Context) -> JsResult<Vec<u8>> {
    let mut buf = vec![0u8; layout.size];
    if let Some(obj) = value.as_object() {
        write(layout, &obj, &mut buf, 0, ctx)?;
    }
    Ok(buf)
}

/// `obj[key]`, read straight from an own data property when there is one (a map key built
/// by a script for each connection is a plain object and a dense array): the generic `get`
/// costs several times as much. Accessors, inherited and missing properties take `get`.
fn get(obj: &JsObject, key: PropertyKey, ctx: &mut Context) -> JsResult<JsValue> {
    let own = obj.borrow().properties().get(&key).and_then(|p| p.value().cloned());
    match own {
        Some(v) => Ok(v),
        None => obj.get(key, ctx),
    }
}

fn write(layout: &Layout, obj: &JsObject, buf: &mut [u8], base: usize, ctx: &mut Context) -> JsResult<()> {
    for f in &layout.fields {
        let v = get(obj, JsString::from(f.name.as_str()).into(), ctx)?;
        if v.is_undefined() || v.is_null() {
            continue;
        }
        let at = base + f.offset;
        match &f.kind {
            FieldKind::Nested(layout) => {
                if let Some(inner) = v.as_object() {
                    write(layout, &inner, buf, at, ctx)?;
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
                    let e = get(&arr, i.into(), ctx)?;
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
pub fn decode(layout: &Layout, bytes: &[u8], ctx: &mut Context) -> JsResult<JsValue> {
    let mut padded = bytes.to_vec();
    if padded.len() < layout.size {
        padded.resize(layout.size, 0);
    }
    read(layout, &padded, 0, ctx).map(JsValue::from)
}

fn read(layout: &Layout, buf: &[u8], base: usize, ctx: &mut Context) -> JsResult<JsObject> {
    let obj = JsObject::with_object_proto(ctx.intrinsics());
    for f in &layout.fields {
        let at = base + f.offset;
        let v = match &f.kind {
            FieldKind::Nested(layout) => read(layout, buf, at, ctx)?.into(),
            FieldKind::Scalar(Scalar::Char) if f.is_array => {
                let raw = &buf[at..at + f.count];
                let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
                JsString::from(String::from_utf8_lossy(&raw[..end]).as_ref()).into()
            }
            FieldKind::Scalar(s) if f.is_array => {
                let items: Vec<JsValue> = (0..f.count).map(|i| read_scalar(*s, &buf[at + i * s.size()..])).collect();
                JsArray::from_iter(items, ctx).into()
            }
            FieldKind::Scalar(s) => read_scalar(*s, &buf[at..]),
        };
        // A fresh plain object with distinct field names: define, no setter to look for.
        let desc = PropertyDescriptor::builder().value(v).writable(true).enumerable(true).configurable(true);
        obj.insert_property(JsString::from(f.name.as_str()), desc);
    }
    Ok(obj)
}

fn reflect(layout: &Layout, ctx: &mut Context) -> JsResult<JsValue> {
    let obj = JsObject::with_object_proto(ctx.intrinsics());
    for f in &layout.fields {
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
            FieldSpec::parse(&t.to_std_string_escaped()).map_err(type_error)?
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
                    let bytes = encode(&layout, v, ctx)?;
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
                    decode(&layout, &bytes, ctx)
                }
            }
        }),
    );
    class.method(
        js_string!("reflect"),
        0,
        NativeFunction::from_fn_ptr(|this, _, ctx| reflect(&*this_layout(this)?, ctx)),
    );
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
