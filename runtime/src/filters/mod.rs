//! The filters, one per file, named as in the API.

pub mod branch;
pub mod connect;
pub mod decode_http_request;
pub mod decode_http_response;
pub mod demux_http;
pub mod dump;
pub mod encode_http_request;
pub mod encode_http_response;
pub mod fork;
pub mod handle;
mod http_server;
pub mod link;
pub mod mux_http;
pub mod print;
pub mod replace;
pub mod serve_http;

use std::rc::Rc;

use boa_engine::{Context, JsResult, JsValue};

use crate::engine::{FilterSpec, Layout};

/// A joint filter still waiting for the layout given by `.to(...)`.
pub type Joint = Box<dyn FnOnce(Rc<Layout>) -> Box<dyn FilterSpec>>;

/// What a filter method of the designer makes from its arguments.
pub enum Made {
    Filter(Box<dyn FilterSpec>),
    Joint(Joint),
}

pub type Maker = fn(&[JsValue], &mut Context) -> JsResult<Made>;

/// Every filter method of the designer, by its JS name.
pub const ALL: &[(&str, Maker)] = &[
    ("connect", connect::make),
    ("demuxHTTP", demux_http::make),
    ("serveHTTP", serve_http::make),
    ("muxHTTP", mux_http::make),
    ("decodeHTTPRequest", decode_http_request::make),
    ("decodeHTTPResponse", decode_http_response::make),
    ("encodeHTTPRequest", encode_http_request::make),
    ("encodeHTTPResponse", encode_http_response::make),
    ("dump", dump::make),
    ("fork", fork::make),
    ("handle", handle::make_handle),
    ("handleStreamStart", handle::make_stream_start),
    ("handleMessageStart", handle::make_message_start),
    ("handleData", handle::make_data),
    ("handleMessageEnd", handle::make_message_end),
    ("handleStreamEnd", handle::make_stream_end),
    ("handleMessage", handle::make_message),
    ("replace", replace::make_replace),
    ("replaceStreamStart", replace::make_stream_start),
    ("replaceMessageStart", replace::make_message_start),
    ("replaceData", replace::make_data),
    ("replaceMessageEnd", replace::make_message_end),
    ("replaceStreamEnd", replace::make_stream_end),
    ("replaceMessage", replace::make_message),
    ("branch", branch::make_branch),
    ("branchMessageStart", branch::make_message_start),
    ("branchMessage", branch::make_message),
    ("link", link::make),
    ("print", print::make),
];
