//! `zlib`: `deflate`/`inflate` (the zlib format) and `gzip`/`gunzip` of a whole `Data` at
//! once, as Pipy's; the byte work is `codec::compress`, which the compression filters share.
//!
//! `null` or `undefined` gives `null`, as in Pipy. A stream that is cut short throws (Pipy
//! returns what it could decompress).

use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsNativeError, JsResult, JsValue, NativeFunction, js_string};
use bytes::Bytes;

use super::data::Data;
use crate::codec::compress::{Algorithm, CodecError, Deflater, Inflater};

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let ns = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(|_, a, c| run("deflate", a, c)), js_string!("deflate"), 1)
        .function(NativeFunction::from_fn_ptr(|_, a, c| run("inflate", a, c)), js_string!("inflate"), 1)
        .function(NativeFunction::from_fn_ptr(|_, a, c| run("gzip", a, c)), js_string!("gzip"), 1)
        .function(NativeFunction::from_fn_ptr(|_, a, c| run("gunzip", a, c)), js_string!("gunzip"), 1)
        .build();
    ctx.register_global_property(js_string!("zlib"), ns, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

fn run(name: &str, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let arg = args.first().cloned().unwrap_or_default();
    if arg.is_null_or_undefined() {
        return Ok(JsValue::null());
    }
    let bytes = Data::bytes_of(&arg).ok_or_else(|| {
        JsNativeError::typ().with_message(format!("zlib.{name}() takes a Data, not {}", arg.display()))
    })?;
    let out = match name {
        "deflate" => compress(Algorithm::Zlib, &bytes),
        "gzip" => compress(Algorithm::Gzip, &bytes),
        "inflate" => decompress(Algorithm::Zlib, bytes),
        _ => decompress(Algorithm::Gzip, bytes),
    }
    .map_err(|e| JsNativeError::error().with_message(format!("zlib.{name}() failed: {e}")))?;
    Data::to_js(out, ctx)
}

/// The whole of `input` compressed.
pub fn compress(algorithm: Algorithm, input: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut d = Deflater::new(algorithm).ok_or_else(|| CodecError("no encoder".into()))?;
    let mut out = Vec::new();
    d.feed(input, &mut |b: Bytes| out.extend_from_slice(&b))?;
    d.finish(&mut |b: Bytes| out.extend_from_slice(&b))?;
    Ok(out)
}

/// The whole of `input` decompressed; bytes after the end of the stream are ignored.
pub fn decompress(algorithm: Algorithm, input: Bytes) -> Result<Vec<u8>, CodecError> {
    let mut i = Inflater::new(algorithm);
    i.push(input);
    let mut out = Vec::new();
    while let Some(piece) = i.pull()? {
        out.extend_from_slice(&piece);
    }
    i.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_formats() {
        let text = b"hello hello hello hello zlib".repeat(50);
        for a in [Algorithm::Zlib, Algorithm::Gzip] {
            let packed = compress(a, &text).unwrap();
            assert!(packed.len() < text.len());
            assert_eq!(decompress(a, Bytes::from(packed)).unwrap(), text);
        }
        assert_eq!(compress(Algorithm::Zlib, b"").unwrap()[..2], [0x78, 0x9c]);
        assert_eq!(compress(Algorithm::Gzip, b"").unwrap()[..2], [0x1f, 0x8b]);
    }

    #[test]
    fn bad_and_cut_input_fail() {
        assert!(decompress(Algorithm::Zlib, Bytes::from_static(b"not zlib")).is_err());
        let packed = compress(Algorithm::Gzip, b"some text to pack").unwrap();
        let cut = Bytes::copy_from_slice(&packed[..packed.len() - 4]);
        assert!(decompress(Algorithm::Gzip, cut).is_err());
    }

    #[test]
    fn from_a_script() {
        let mut ctx = crate::js::new_context().unwrap();
        let src = "var d = new Data('abc'); [zlib.inflate(zlib.deflate(d)).toString(), \
            zlib.gunzip(zlib.gzip(d)).toString(), zlib.deflate(null), \
            (() => { try { zlib.inflate('x') } catch (e) { return e.message } })()].join('|')";
        let v = ctx.eval(boa_engine::Source::from_bytes(src)).unwrap();
        let v = v.to_string(&mut ctx).unwrap().to_std_string_escaped();
        assert_eq!(v, "abc|abc||zlib.inflate() takes a Data, not \"x\"");
    }
}
