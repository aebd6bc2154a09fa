//! `encodeHTTPResponse(options?)`: response messages in, HTTP/1 bytes out. The same filter
//! as `encodeHTTPRequest` (see there), for response heads: a missing `statusText` becomes
//! the standard reason phrase, and every response gets a framing header except 1xx and 204.

use boa_engine::{Context, JsResult, JsValue};

use super::Made;
use super::encode_http_request::Spec;

pub fn make(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    let buffer_size = crate::options::buffer_size(args.first(), ctx)?;
    Ok(Made::Filter(Box::new(Spec { buffer_size, response: true })))
}
