//! The four kinds of event that flow through a pipeline.

use std::rc::Rc;

use boa_engine::JsValue;
use bytes::Bytes;

use crate::codec::http1::{RequestHead, ResponseHead};

/// The head of a message. HTTP decoders hand over Rust structs, so a head only becomes a
/// JS object when a script asks for it; heads made by scripts stay JS values.
#[derive(Clone, Debug)]
pub enum Head {
    None,
    Request(Rc<RequestHead>),
    Response(Rc<ResponseHead>),
    Js(JsValue),
}

/// Why a stream ended. `None` in [`Event::StreamEnd`] is a normal end.
#[derive(Clone, Debug)]
pub enum StreamError {
    /// One of Pipy's named error codes (`ConnectionRefused`, `IdleTimeout`, ...).
    Code(&'static str),
    /// A runtime error carrying a script value.
    Value(JsValue),
}

impl StreamError {
    pub fn name(&self) -> String {
        match self {
            StreamError::Code(c) => (*c).to_string(),
            StreamError::Value(v) => v.display().to_string(),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Event {
    Data(Bytes),
    MessageStart(Head),
    MessageEnd(JsValue),
    StreamEnd(Option<StreamError>),
}

impl Event {
    pub fn end() -> Event {
        Event::StreamEnd(None)
    }

    pub fn error(code: &'static str) -> Event {
        Event::StreamEnd(Some(StreamError::Code(code)))
    }

    pub fn is_stream_end(&self) -> bool {
        matches!(self, Event::StreamEnd(_))
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Event::Data(_) => "Data",
            Event::MessageStart(_) => "MessageStart",
            Event::MessageEnd(_) => "MessageEnd",
            Event::StreamEnd(_) => "StreamEnd",
        }
    }
}

const ERROR_CODES: &[&str] = &[
    "Replay",
    "RuntimeError",
    "ReadError",
    "WriteError",
    "CannotResolve",
    "ConnectionAborted",
    "ConnectionReset",
    "ConnectionRefused",
    "ConnectionTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "IdleTimeout",
    "BufferOverflow",
    "ProtocolError",
    "Unauthorized",
];

/// Pipy's named `StreamEnd` error for `name`, if it is one.
pub fn error_code(name: &str) -> Option<&'static str> {
    ERROR_CODES.iter().find(|c| **c == name).copied()
}
