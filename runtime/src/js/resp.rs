//! `RESP`: `decode(data)` gives the array of whole values in a `Data` of the Redis protocol,
//! `encode(value)` writes one value (byte work in `codec::resp`, which `decodeRESP` and
//! `encodeRESP` share).
//!
//! Values look as in Pipy: simple strings are strings, errors `Error`s, integers numbers,
//! bulk strings `Data`, arrays arrays, null bulk strings and arrays `null`. Integers are read
//! whole (Pipy keeps the first digit), and malformed bytes throw (Pipy returns the values
//! before them); a value cut short at the end is left out, as in Pipy.

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsNativeError, JsResult, JsValue, NativeFunction, js_string};

use super::data::Data;
use super::tree;
use crate::codec::resp::{self, DecodeError, Decoder};

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let ns = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(decode), js_string!("decode"), 1)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 1)
        .build();
    ctx.register_global_property(js_string!("RESP"), ns, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let arg = args.first().cloned().unwrap_or_default();
    if arg.is_null_or_undefined() {
        return Ok(JsValue::null());
    }
    let bytes = Data::bytes_of(&arg).ok_or_else(|| {
        JsNativeError::typ().with_message(format!("RESP.decode() takes a Data, not {}", arg.display()))
    })?;
    let mut values = Vec::new();
    match Decoder::new(usize::MAX).feed(&bytes, &mut values) {
        Ok(()) => {}
        Err(DecodeError::Malformed) => {
            return Err(JsNativeError::error().with_message("RESP.decode(): malformed RESP").into());
        }
        Err(DecodeError::TooBig) => {
            return Err(JsNativeError::error().with_message("RESP.decode(): arrays nested too deep").into());
        }
    }
    let items = values.iter().map(|t| tree::to_js(t, ctx)).collect::<JsResult<Vec<_>>>()?;
    Ok(JsArray::from_iter(items, ctx).into())
}

fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let value = tree::from_js(&args.first().cloned().unwrap_or_default(), ctx)?;
    let mut out = Vec::new();
    resp::encode(&value, &mut out);
    Data::to_js(out, ctx)
}

#[cfg(test)]
mod tests {
    use crate::js::eval_to_string as eval;

    #[test]
    fn decodes_every_kind_of_value() {
        let src = "var v = RESP.decode(new Data('+OK\\r\\n-ERR no\\r\\n:123\\r\\n:-7\\r\\n$3\\r\\nabc\\r\\n$-1\\r\\n*2\\r\\n:1\\r\\n*0\\r\\n*-1\\r\\n$5\\r\\nab')); \
            JSON.stringify([v.length, v[0], v[1] instanceof Error, v[1].message, v[2], v[3], v[4] instanceof Data, v[4].toString(), v[5], v[6], v[7]])";
        assert_eq!(eval(src), r#"[8,"OK",true,"ERR no",123,-7,true,"abc",null,[1,[]],null]"#);
    }

    #[test]
    fn encodes_as_pipy() {
        let src = "RESP.encode(['SET', new Data('k'), 42.9, null, new Error('bad'), true]).toString()";
        assert_eq!(eval(src), "*6\r\n+SET\r\n$1\r\nk\r\n:42\r\n$-1\r\n-bad\r\n+true\r\n");
        let bad = "try { RESP.decode(new Data('?x\\r\\n')) } catch (e) { e.message }";
        assert_eq!(eval(bad), "RESP.decode(): malformed RESP");
    }
}
