//! `protobuf`: `decode(data)` gives a `protobuf.Message` (or null for bytes that are not
//! the wire format), `encode(message)` its bytes; a `Message` holds records by field number
//! with no schema, read and written by `get<Type>(field)`, `get<Type>Array(field)`,
//! `set<Type>(field, value)` and `set<Type>Array(field, values)` as in Pipy (the wire work is
//! in `codec::protobuf`).
//!
//! Numbers come and go as numbers, 64-bit ones too, as in Pipy.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};
use bytes::Bytes;

use super::data::Data;
use super::type_error;
use crate::codec::protobuf::{Message, Record, Scalar, Wire};

#[derive(Trace, Finalize, JsData, Default)]
pub struct ProtoMessage {
    #[unsafe_ignore_trace]
    msg: Message,
}

const SCALARS: &[(&str, Scalar)] = &[
    ("Float", Scalar::Float),
    ("Double", Scalar::Double),
    ("Int32", Scalar::Int32),
    ("Int64", Scalar::Int64),
    ("Uint32", Scalar::Uint32),
    ("Uint64", Scalar::Uint64),
    ("Sint32", Scalar::Sint32),
    ("Sint64", Scalar::Sint64),
    ("Fixed32", Scalar::Fixed32),
    ("Fixed64", Scalar::Fixed64),
    ("Sfixed32", Scalar::Sfixed32),
    ("Sfixed64", Scalar::Sfixed64),
    ("Bool", Scalar::Bool),
];

/// The kinds of `Len` records.
#[derive(Clone, Copy)]
enum Len {
    String,
    Bytes,
    Message,
}

const LENS: &[(&str, Len)] = &[("String", Len::String), ("Bytes", Len::Bytes), ("Message", Len::Message)];

/// Pipy has no single getters for the fixed types (their arrays and setters it has).
fn has_getter(s: Scalar) -> bool {
    !matches!(s, Scalar::Fixed32 | Scalar::Fixed64 | Scalar::Sfixed32 | Scalar::Sfixed64)
}

impl Class for ProtoMessage {
    // Registered under `protobuf` only: see `register`.
    const NAME: &'static str = "Message";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Ok(ProtoMessage::default())
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let m = |class: &mut ClassBuilder<'_>, name: String, len: usize, f: NativeFunction| {
            class.method(JsString::from(name.as_str()), len, f);
        };
        m(class, "getWireType".into(), 1, NativeFunction::from_fn_ptr(get_wire_type));
        for &(name, s) in SCALARS {
            if has_getter(s) {
                m(
                    class,
                    format!("get{name}"),
                    1,
                    NativeFunction::from_copy_closure(move |t, a, c| get_scalar(s, t, a, c)),
                );
            }
            m(
                class,
                format!("get{name}Array"),
                1,
                NativeFunction::from_copy_closure(move |t, a, c| get_scalars(s, t, a, c)),
            );
            m(class, format!("set{name}"), 2, NativeFunction::from_copy_closure(move |t, a, c| set_scalar(s, t, a, c)));
            m(
                class,
                format!("set{name}Array"),
                2,
                NativeFunction::from_copy_closure(move |t, a, c| set_scalars(s, t, a, c)),
            );
        }
        for &(name, k) in LENS {
            m(class, format!("get{name}"), 1, NativeFunction::from_copy_closure(move |t, a, c| get_len(k, t, a, c)));
            m(
                class,
                format!("get{name}Array"),
                1,
                NativeFunction::from_copy_closure(move |t, a, c| get_lens(k, t, a, c)),
            );
            m(class, format!("set{name}"), 2, NativeFunction::from_copy_closure(move |t, a, c| set_len(k, t, a, c)));
            m(
                class,
                format!("set{name}Array"),
                2,
                NativeFunction::from_copy_closure(move |t, a, c| set_lens(k, t, a, c)),
            );
        }
        Ok(())
    }
}

/// `protobuf.Message` must not replace the global `Message` while it is registered.
pub fn register(ctx: &mut Context) -> JsResult<()> {
    let global = ctx.global_object();
    let message = global.get(js_string!("Message"), ctx)?;
    ctx.register_global_class::<ProtoMessage>()?;
    let class = global.get(js_string!("Message"), ctx)?;
    global.set(js_string!("Message"), message, true, ctx)?;
    let ns = ObjectInitializer::new(ctx)
        .property(js_string!("Message"), class, Attribute::WRITABLE | Attribute::CONFIGURABLE)
        .function(NativeFunction::from_fn_ptr(decode), js_string!("decode"), 1)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 1)
        .build();
    ctx.register_global_property(js_string!("protobuf"), ns, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

fn arg(args: &[JsValue], i: usize) -> JsValue {
    args.get(i).cloned().unwrap_or_default()
}

fn to_js(msg: Message, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(ProtoMessage::from_data(ProtoMessage { msg }, ctx)?.into())
}

fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let arg = arg(args, 0);
    if arg.is_null_or_undefined() {
        return Ok(JsValue::null());
    }
    let bytes = Data::bytes_of(&arg).ok_or_else(|| type_error("protobuf.decode: the argument must be a Data"))?;
    match Message::decode(&bytes) {
        Some(msg) => to_js(msg, ctx),
        None => Ok(JsValue::null()),
    }
}

fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let arg = arg(args, 0);
    if arg.is_null_or_undefined() {
        return Ok(JsValue::null());
    }
    let mut out = Vec::new();
    with(&arg, |m| m.encode(&mut out))?;
    Data::to_js(out, ctx)
}

fn with<R>(this: &JsValue, f: impl FnOnce(&mut Message) -> R) -> JsResult<R> {
    let obj = this.as_object().ok_or_else(|| type_error("not a protobuf.Message"))?;
    let mut m = obj.downcast_mut::<ProtoMessage>().ok_or_else(|| type_error("not a protobuf.Message"))?;
    Ok(f(&mut m.msg))
}

fn field(args: &[JsValue], ctx: &mut Context) -> JsResult<u32> {
    let n = arg(args, 0).to_number(ctx)?;
    if n.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&n) {
        return Err(type_error(format!("a field number must be a whole number, not {n}")));
    }
    Ok(n as u32)
}

fn get_wire_type(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = field(args, ctx)?;
    let name = with(this, |m| m.wire(f).map_or("", Wire::name))?;
    Ok(JsString::from(name).into())
}

fn scalar_js(s: Scalar, bits: u64) -> JsValue {
    let n = s.value(bits);
    if s == Scalar::Bool { JsValue::from(n != 0.0) } else { JsValue::from(n) }
}

fn get_scalar(s: Scalar, this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = field(args, ctx)?;
    Ok(scalar_js(s, with(this, |m| m.last(f).map_or(0, |r| r.bits))?))
}

/// Packed records and single ones alike, as protobuf parsers must take both; null if a
/// packed record is cut short.
fn get_scalars(s: Scalar, this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = field(args, ctx)?;
    let bits = with(this, |m| {
        let mut all = Vec::new();
        for r in m.all(f) {
            match r.wire {
                Wire::Len => all.extend(s.unpack(&r.data)?),
                _ => all.push(r.bits),
            }
        }
        Some(all)
    })?;
    let Some(bits) = bits else { return Ok(JsValue::null()) };
    Ok(JsArray::from_iter(bits.into_iter().map(|b| scalar_js(s, b)), ctx).into())
}

fn number(v: &JsValue, ctx: &mut Context) -> JsResult<f64> {
    if v.is_bigint() { Ok(v.to_big_int64(ctx)? as f64) } else { v.to_number(ctx) }
}

fn set_scalar(s: Scalar, this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = field(args, ctx)?;
    let bits = s.bits(number(&arg(args, 1), ctx)?);
    with(this, |m| m.set(f, vec![Record::number(s.wire(), bits)]))?;
    Ok(this.clone())
}

/// Written packed, as proto3 writes repeated scalars; values that are not numbers are 0.
fn set_scalars(s: Scalar, this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = field(args, ctx)?;
    let mut bits = Vec::new();
    for v in values(&arg(args, 1), ctx)? {
        let n = if v.is_number() || v.is_bigint() { number(&v, ctx)? } else { 0.0 };
        bits.push(s.bits(n));
    }
    with(this, |m| m.set(f, vec![Record::bytes(s.pack(&bits))]))?;
    Ok(this.clone())
}

fn values(v: &JsValue, ctx: &mut Context) -> JsResult<Vec<JsValue>> {
    let Some(o) = v.as_object().filter(|o| o.is_array()) else { return Err(type_error("values must be an array")) };
    let a = JsArray::from_object(o.clone())?;
    (0..a.length(ctx)?).map(|i| a.get(i, ctx)).collect()
}

/// A `Len` record as a string, a Data or a message; `None` for a message that does not parse.
fn len_js(k: Len, data: &Bytes, ctx: &mut Context) -> JsResult<Option<JsValue>> {
    Ok(Some(match k {
        Len::String => JsString::from(String::from_utf8_lossy(data).as_ref()).into(),
        Len::Bytes => Data::to_js(data.to_vec(), ctx)?,
        Len::Message => match Message::decode(data) {
            Some(msg) => to_js(msg, ctx)?,
            None => return Ok(None),
        },
    }))
}

fn get_len(k: Len, this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = field(args, ctx)?;
    let data = with(this, |m| m.last(f).filter(|r| r.wire == Wire::Len).map(|r| r.data.clone()))?;
    let Some(data) = data else { return Ok(JsValue::null()) };
    Ok(len_js(k, &data, ctx)?.unwrap_or_default())
}

/// Null if one of the messages does not parse, as in Pipy.
fn get_lens(k: Len, this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = field(args, ctx)?;
    let all = with(this, |m| m.all(f).iter().map(|r| r.data.clone()).collect::<Vec<_>>())?;
    let mut items = Vec::with_capacity(all.len());
    for data in &all {
        match len_js(k, data, ctx)? {
            Some(v) => items.push(v),
            None => return Ok(JsValue::null()),
        }
    }
    Ok(JsArray::from_iter(items, ctx).into())
}

/// The bytes of a string, a Data or a message; empty for anything else, as Pipy writes it.
fn len_bytes(k: Len, v: &JsValue, ctx: &mut Context) -> JsResult<Bytes> {
    Ok(match k {
        Len::String => Bytes::from(v.to_string(ctx)?.to_std_string_escaped()),
        Len::Bytes => Data::bytes_of(v).unwrap_or_default(),
        Len::Message => {
            let mut out = Vec::new();
            if v.as_object().is_some_and(|o| o.is::<ProtoMessage>()) {
                with(v, |m| m.encode(&mut out))?;
            }
            Bytes::from(out)
        }
    })
}

fn set_len(k: Len, this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = field(args, ctx)?;
    let data = len_bytes(k, &arg(args, 1), ctx)?;
    with(this, |m| m.set(f, vec![Record::bytes(data)]))?;
    Ok(this.clone())
}

fn set_lens(k: Len, this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = field(args, ctx)?;
    let mut records = Vec::new();
    for v in values(&arg(args, 1), ctx)? {
        records.push(Record::bytes(len_bytes(k, &v, ctx)?));
    }
    with(this, |m| m.set(f, records))?;
    Ok(this.clone())
}
