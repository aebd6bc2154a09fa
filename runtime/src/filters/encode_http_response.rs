//! `encodeHTTPResponse(options?)`: response messages in, HTTP/1 bytes out. The same filter
//! as `encodeHTTPRequest` (see there), for response heads: a missing `statusText` becomes
//! the standard reason phrase, and every response gets a framing header except 1xx and 204.
//! The answer to a `HEAD` that a `decodeHTTPRequest` read on the same inbound connection keeps
//! its `content-length` and gets no body.

use boa_engine::JsResult;

use super::Made;
use super::encode_http_request::Spec;
use crate::args::Args;

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let buffer_size = args.options(0).buffer_size()?;
    Ok(Made::Filter(Box::new(Spec { buffer_size, response: true })))
}
