//! What `http.File` and `http.Directory` share: Pipy's content types, its reading of
//! `accept-encoding`, the response messages they make, and undoing a precompressed variant.

use std::io::Read;

use boa_engine::class::Class;
use boa_engine::{Context, JsObject, JsResult, JsString, JsValue};

use crate::js::data::Data;
use crate::js::message::Message;

/// Pipy's table (src/api/http.cpp): extension, lower case, to content type.
pub const CONTENT_TYPES: &[(&str, &str)] = &[
    ("html", "text/html"),
    ("css", "text/css"),
    ("xml", "text/xml"),
    ("txt", "text/plain"),
    ("gif", "image/gif"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("svg", "image/svg+xml"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ico", "image/x-icon"),
    ("js", "application/javascript"),
    ("json", "application/json"),
];

pub const OCTET_STREAM: &str = "application/octet-stream";

/// The default content type of an extension (already lower case), if Pipy's table has one.
pub fn content_type(ext: &str) -> Option<&'static str> {
    CONTENT_TYPES.iter().find(|(e, _)| *e == ext).map(|(_, t)| *t)
}

/// Whether `accept-encoding` names gzip and br, read as Pipy reads it: each comma-separated
/// item's leading word, case-insensitive; `q` values are not looked at.
pub fn accepts(accept_encoding: &str) -> (bool, bool) {
    let (mut gzip, mut br) = (false, false);
    for item in accept_encoding.split(',') {
        let item = item.trim_start_matches([' ', '\t']);
        let word: &str = &item[..item.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(item.len())];
        gzip |= word.eq_ignore_ascii_case("gzip");
        br |= word.eq_ignore_ascii_case("br");
    }
    (gzip, br)
}

/// A response `Message` with `status`, `headers` and `body`.
pub fn response(status: u16, headers: &[(&str, &str)], body: Option<Vec<u8>>, ctx: &mut Context) -> JsResult<JsValue> {
    let head = JsObject::with_object_proto(ctx.intrinsics());
    head.create_data_property_or_throw(JsString::from("status"), status, ctx)?;
    let h = JsObject::with_object_proto(ctx.intrinsics());
    for (name, value) in headers {
        h.create_data_property_or_throw(JsString::from(*name), JsString::from(*value), ctx)?;
    }
    head.create_data_property_or_throw(JsString::from("headers"), h, ctx)?;
    let body = match body {
        Some(bytes) => Data::to_js(bytes, ctx)?,
        None => JsValue::null(),
    };
    let m = Message { head: head.into(), body, tail: JsValue::null(), payload: JsValue::undefined() };
    Ok(Message::from_data(m, ctx)?.into())
}

/// A string property of a script object; `None` when absent or not a string.
pub fn text_of(obj: &JsValue, key: &str, ctx: &mut Context) -> JsResult<Option<String>> {
    let Some(o) = obj.as_object() else { return Ok(None) };
    let v = o.get(JsString::from(key), ctx)?;
    Ok(v.as_string().map(|s| s.to_std_string_escaped()))
}

/// The bytes a gzip or brotli variant holds, or `None` when they do not decompress.
pub fn decompress(gz: Option<&[u8]>, br: Option<&[u8]>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(gz) = gz {
        flate2::read::GzDecoder::new(gz).read_to_end(&mut out).ok()?;
    } else {
        brotli_decompressor::Decompressor::new(br?, 4096).read_to_end(&mut out).ok()?;
    }
    Some(out)
}

/// `bytes` gzipped, for a `compression` callback that asked for it.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = flate2::read::GzEncoder::new(bytes, flate2::Compression::default());
    // Reading from a slice does not fail.
    let _ = e.read_to_end(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_by_each_items_leading_word() {
        assert_eq!(accepts("gzip, deflate, br"), (true, true));
        assert_eq!(accepts("GZIP;q=0.5"), (true, false));
        assert_eq!(accepts(" br"), (false, true));
        assert_eq!(accepts("gzipx, brotli, x-gzip"), (false, false));
        assert_eq!(accepts(""), (false, false));
    }

    #[test]
    fn a_gzipped_body_comes_back() {
        let page = b"<p>hello</p>".repeat(20);
        assert_eq!(decompress(Some(&gzip(&page)), None), Some(page));
        assert_eq!(decompress(Some(b"not gzip"), None), None);
    }
}
