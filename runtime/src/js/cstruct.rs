//! `CStruct` and `CUnion`: the script classes over a C [`Layout`] (raw socket options, BPF map
//! keys and values), with `encode`, `decode`, `size` and `reflect`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use boa_engine::builtins::object::OrdinaryObject;
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::object::{IndexPropertyValues, ObjectInitializer};
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

/// `obj[key]`, read straight from a data property of `obj` or of a plain object on its
/// prototype chain (a map key built by a script for each connection is a plain object and a
/// dense array; a field it leaves out is looked for on `Object.prototype`): the generic `get`
/// costs several times as much. An accessor, or an object that is not plain (a Proxy, an
/// exotic object) on the way, takes `get` from the start.
fn get(obj: &JsObject, key: PropertyKey, ctx: &mut Context) -> JsResult<JsValue> {
    let mut at = obj.clone();
    loop {
        let own = at.borrow().properties().get(&key);
        match own {
            Some(p) => match p.value() {
                Some(v) => return Ok(v.clone()),
                None => break,
            },
            None if at.is_ordinary() => match at.prototype() {
                Some(proto) => at = proto,
                None => return Ok(JsValue::undefined()),
            },
            None => break,
        }
    }
    obj.get(key, ctx)
}

/// A field's name as a JS string, made once per name on this thread: encoding and decoding
/// run for every map lookup, and a new string for each field of each call was a tenth of
/// their cost. The names come from the script's layouts, a few dozen; past 4096 the table
/// starts again.
fn name(n: &str) -> JsString {
    type Names = HashMap<Box<str>, JsString, foldhash::fast::RandomState>;
    thread_local! {
        static NAMES: RefCell<Names> = RefCell::new(Names::default());
    }
    NAMES.with(|names| {
        let mut names = names.borrow_mut();
        if let Some(s) = names.get(n) {
            return s.clone();
        }
        if names.len() >= 4096 {
            names.clear();
        }
        let s = JsString::from(n);
        names.insert(n.into(), s.clone());
        s
    })
}

fn write(layout: &Layout, obj: &JsObject, buf: &mut [u8], base: usize, ctx: &mut Context) -> JsResult<()> {
    for f in &layout.fields {
        let v = get(obj, name(&f.name).into(), ctx)?;
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
                // An array of small integers (an address's bytes) is stored as `i32`s: its
                // elements are taken under one borrow, with no value made for each. Others,
                // and indices past its end, are read one by one.
                let done = match arr.borrow().properties().index_property_values() {
                    IndexPropertyValues::DenseI32(items) => {
                        let items = &items.as_slice()[..f.count.min(items.len())];
                        for (i, n) in items.iter().enumerate() {
                            write_i32(*s, *n, &mut buf[at + i * s.size()..]);
                        }
                        items.len()
                    }
                    _ => 0,
                };
                for i in done..f.count {
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
    if bytes.len() >= layout.size {
        return read(layout, bytes, 0, ctx).map(JsValue::from);
    }
    let mut padded = bytes.to_vec();
    padded.resize(layout.size, 0);
    read(layout, &padded, 0, ctx).map(JsValue::from)
}

fn read(layout: &Layout, buf: &[u8], base: usize, ctx: &mut Context) -> JsResult<JsObject> {
    // A shared shape, as an object literal gets: every object decoded from one layout has the
    // same one, its fields are added by cached transitions (a unique shape inserts each into
    // a table of its own) and the script's reads of them hit Boa's inline caches.
    let obj = ObjectInitializer::with_native_data(OrdinaryObject, ctx).build();
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
        obj.insert_property(name(&f.name), desc);
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
            write_i32(s, n, out);
        }
    }
    Ok(())
}

/// `write_scalar` of a number that is an `i32`, which needs no conversion that could run
/// script code.
fn write_i32(s: Scalar, n: i32, out: &mut [u8]) {
    match s {
        Scalar::Float => out[..4].copy_from_slice(&(n as f32).to_ne_bytes()),
        Scalar::Double => out[..8].copy_from_slice(&f64::from(n).to_ne_bytes()),
        Scalar::Int64 | Scalar::Uint64 => out[..8].copy_from_slice(&(i64::from(n) as u64).to_ne_bytes()),
        _ => {
            let size = s.size();
            #[cfg(target_endian = "little")]
            out[..size].copy_from_slice(&n.to_le_bytes()[..size]);
            #[cfg(target_endian = "big")]
            out[..size].copy_from_slice(&n.to_be_bytes()[4 - size..]);
        }
    }
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

#[cfg(test)]
mod tests {
    use crate::js::eval_to_string;

    /// What `encode` reads of a field, whichever way the object holds it: own, inherited,
    /// through a getter (which sees the object itself), through a Proxy's trap, or not at all.
    #[test]
    fn encode_reads_fields_the_way_get_does() {
        let src = r#"
            var s = new CStruct({ a: 'uint8', b: 'uint8', c: 'uint8', d: 'uint8[2]' })
            var bytes = v => Array.from(s.encode(v).toArray()).join(',')
            var proto = { b: 2 }
            var withGetter = Object.create(proto, { c: { get() { return this.b + 1 } } })
            withGetter.a = 1
            var proxied = new Proxy({}, { get: (t, k) => k === 'd' ? [7, 8] : 4 })
            var arr = [5]; arr[1] = 6;
            [bytes(withGetter), bytes(proxied), bytes({ d: arr }), bytes({})].join(' | ')
        "#;
        assert_eq!(eval_to_string(src), "1,2,3,0,0 | 4,4,4,7,8 | 0,0,0,5,6 | 0,0,0,0,0");
    }

    /// Arrays of small integers take a path of their own: the same bytes as any other array.
    #[test]
    fn encode_writes_integer_arrays_as_other_arrays() {
        let src = r#"
            var t = new CStruct({ w: 'uint16[2]', f: 'float[1]', q: 'int64[1]', b: 'uint8[3]' })
            var bytes = v => Array.from(t.encode(v).toArray()).join(',')
            var ints = bytes({ w: [0x102, 3], f: [1], q: [-1], b: [1, 2, 3, 4] })
            var mixed = bytes({ w: [0x102, 3.5], f: [1.0], q: [-1], b: [1.5] })
            ints === mixed ? 'same' : ints + ' | ' + mixed
        "#;
        // `mixed` differs only where it leaves b[1] and b[2] out.
        let ints = "2,1,3,0,0,0,128,63,255,255,255,255,255,255,255,255,1,2,3";
        let mixed = "2,1,3,0,0,0,128,63,255,255,255,255,255,255,255,255,1,0,0";
        assert_eq!(eval_to_string(src), format!("{ints} | {mixed}"));
    }

    #[test]
    fn decode_pads_short_bytes_and_reads_whole_ones() {
        let src = r#"
            var s = new CStruct({ ip: 'uint8[4]', port: 'uint16' })
            var d = s.decode(s.encode({ ip: [10, 0, 0, 1], port: 8080 }))
            var short = s.decode(new Data([1, 2]));
            [d.ip.join('.'), d.port, short.ip.join('.'), short.port].join(' ')
        "#;
        assert_eq!(eval_to_string(src), "10.0.0.1 8080 1.2.0.0 0");
    }
}
