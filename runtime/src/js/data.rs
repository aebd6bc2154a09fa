//! `Data`: a chunk of bytes, Pipy's byte buffer class.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::{
    Context, Finalize, JsData, JsError, JsNativeError, JsResult, JsString, JsValue, NativeFunction, Trace, js_string,
};
use bytes::Bytes;

#[derive(Debug, Default, Trace, Finalize, JsData)]
pub struct Data {
    #[unsafe_ignore_trace]
    pub bytes: Vec<u8>,
}

impl Data {
    /// Wraps bytes into a new JS `Data` object.
    pub fn to_js(bytes: Vec<u8>, ctx: &mut Context) -> JsResult<JsValue> {
        Ok(Data::from_data(Data { bytes }, ctx)?.into())
    }

    /// The bytes of a JS `Data`, or `None` when `value` is not one.
    pub fn bytes_of(value: &JsValue) -> Option<Bytes> {
        let obj = value.as_object()?;
        let data = obj.downcast_ref::<Data>()?;
        Some(Bytes::copy_from_slice(&data.bytes))
    }

    /// Runs `f` on the buffer of a JS `Data`; a TypeError names `what` otherwise.
    pub fn with_mut<R>(value: &JsValue, what: &str, f: impl FnOnce(&mut Vec<u8>) -> R) -> JsResult<R> {
        let obj = value.as_object();
        let mut data = obj
            .as_ref()
            .and_then(|o| o.downcast_mut::<Data>())
            .ok_or_else(|| JsNativeError::typ().with_message(format!("{what} must be a Data object")))?;
        Ok(f(&mut data.bytes))
    }
}

/// Bytes of a string, a Data or an array of byte numbers, in the given encoding.
pub fn encode(value: &JsValue, encoding: Option<&str>, ctx: &mut Context) -> JsResult<Vec<u8>> {
    if let Some(b) = Data::bytes_of(value) {
        return Ok(b.to_vec());
    }
    if let Some(s) = value.as_string() {
        let s = s.to_std_string_escaped();
        return match encoding.unwrap_or("utf8") {
            "utf8" | "utf-8" => Ok(s.into_bytes()),
            "hex" => decode_hex(&s),
            "base64" => decode_base64(&s, false),
            "base64url" => decode_base64(&s, true),
            other => Err(JsNativeError::range().with_message(format!("unknown encoding: {other}")).into()),
        };
    }
    if let Some(obj) = value.as_object()
        && obj.is_array()
    {
        let arr = JsArray::from_object(obj.clone())?;
        let len = arr.length(ctx)?;
        // A sparse array's length says nothing about its size: `new Array(2**32 - 1)` must
        // not become gigabytes of zeros.
        if len > 1 << 28 {
            return Err(JsNativeError::range().with_message(format!("new Data(): array of {len} bytes")).into());
        }
        let mut out = Vec::with_capacity((len as usize).min(64 * 1024));
        for i in 0..len {
            out.push(arr.get(i, ctx)?.to_i32(ctx)? as u8);
        }
        return Ok(out);
    }
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    Ok(value.to_string(ctx)?.to_std_string_escaped().into_bytes())
}

fn decode_hex(s: &str) -> JsResult<Vec<u8>> {
    let bad = || JsNativeError::typ().with_message(format!("invalid hex string: {s}"));
    if !s.len().is_multiple_of(2) {
        return Err(bad().into());
    }
    // By bytes, not by string slices: a slice through a multi-byte character would panic.
    let digit = |c: u8| (c as char).to_digit(16).ok_or_else(|| JsError::from(bad()));
    s.as_bytes().chunks(2).map(|p| Ok((digit(p[0])? << 4 | digit(p[1])?) as u8)).collect()
}

fn decode_base64(s: &str, url: bool) -> JsResult<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' if !url => 62,
            b'/' if !url => 63,
            b'-' if url => 62,
            b'_' if url => 63,
            b'=' => break,
            _ => return Err(JsNativeError::typ().with_message(format!("invalid base64 string: {s}")).into()),
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

fn encode_base64(bytes: &[u8], url: bool) -> String {
    let table: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(table[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if !url {
            out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
        }
    }
    out
}

fn this_bytes(this: &JsValue) -> JsResult<Vec<u8>> {
    Data::with_mut(this, "this", |b| b.clone())
}

impl Class for Data {
    const NAME: &'static str = "Data";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let encoding = args.get(1).and_then(|e| e.as_string()).map(|e| e.to_std_string_escaped());
        let bytes = match args.first() {
            None => Vec::new(),
            Some(v) => encode(v, encoding.as_deref(), ctx)?,
        };
        Ok(Data { bytes })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let size = NativeFunction::from_fn_ptr(|this, _, _| Ok(Data::with_mut(this, "this", |b| b.len())?.into()))
            .to_js_function(&realm);
        class.accessor(js_string!("size"), Some(size), None, boa_engine::property::Attribute::CONFIGURABLE);
        class.method(
            js_string!("push"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let more = encode(args.first().unwrap_or(&JsValue::undefined()), None, ctx)?;
                Data::with_mut(this, "this", |b| b.extend_from_slice(&more))?;
                Ok(this.clone())
            }),
        );
        class.method(
            js_string!("shift"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let n = args.first().map(|n| n.to_length(ctx)).transpose()?.unwrap_or(0) as usize;
                let head = Data::with_mut(this, "this", |b| b.drain(..n.min(b.len())).collect())?;
                Data::to_js(head, ctx)
            }),
        );
        class.method(
            js_string!("pop"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let n = args.first().map(|n| n.to_length(ctx)).transpose()?.unwrap_or(0) as usize;
                let tail = Data::with_mut(this, "this", |b| b.split_off(b.len() - n.min(b.len())))?;
                Data::to_js(tail, ctx)
            }),
        );
        class.method(
            js_string!("toArray"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let bytes = this_bytes(this)?;
                Ok(JsArray::from_iter(bytes.into_iter().map(JsValue::from), ctx).into())
            }),
        );
        class.method(
            js_string!("toString"),
            1,
            NativeFunction::from_fn_ptr(|this, args, _| {
                let bytes = this_bytes(this)?;
                let enc = args.first().and_then(|e| e.as_string()).map(|e| e.to_std_string_escaped());
                Ok(match enc.as_deref().unwrap_or("utf8") {
                    "hex" => JsString::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()).into(),
                    "base64" => JsString::from(encode_base64(&bytes, false)).into(),
                    "base64url" => JsString::from(encode_base64(&bytes, true)).into(),
                    _ => match String::from_utf8(bytes) {
                        Ok(s) => JsString::from(s).into(),
                        Err(_) => JsValue::undefined(),
                    },
                })
            }),
        );
        class.static_method(
            js_string!("from"),
            2,
            NativeFunction::from_fn_ptr(|_, args, ctx| {
                let enc = args.get(1).and_then(|e| e.as_string()).map(|e| e.to_std_string_escaped());
                match encode(args.first().unwrap_or(&JsValue::undefined()), enc.as_deref(), ctx) {
                    Ok(bytes) => Data::to_js(bytes, ctx),
                    Err(_) => Ok(JsValue::null()),
                }
            }),
        );
        Ok(())
    }
}

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<Data>()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_with_multi_byte_characters_is_an_error_not_a_panic() {
        assert_eq!(super::decode_hex("0aFf").unwrap(), [0x0a, 0xff]);
        assert!(super::decode_hex("a\u{e9}b").is_err());
        assert!(super::decode_hex("zz").is_err());
    }
}
