//! The filters, one per file, named as in the API.

pub mod connect;
pub mod demux_http;
pub mod decode_http_request;
pub mod decode_http_response;
pub mod dump;
pub mod encode_http_request;
pub mod encode_http_response;
pub mod fork;
pub mod handle;
mod http_server;
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
    ("dump", dump::make),
    ("fork", fork::make),
    ("handle", handle::make_handle),
    ("handleStreamStart", handle::make_stream_start),
    ("handleMessageStart", handle::make_message_start),
    ("handleData", handle::make_data),
    ("handleMessageEnd", handle::make_message_end),
    ("handleStreamEnd", handle::make_stream_end),
    ("handleMessage", handle::make_message),
];
