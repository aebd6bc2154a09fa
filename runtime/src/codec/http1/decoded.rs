//! What the decoders hand out: heads with what they say about framing, trailers, errors.

use std::fmt;

use bytes::Bytes;

use super::*;

/// What a request switches the connection to if its response agrees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Upgrade {
    #[default]
    None,
    WebSocket,
    H2c,
}

/// What the exchange of a request needs to know about it: how to frame its response and
/// whether the connection ends or turns into a tunnel after it. `Default` is an unknown
/// request (a response to it is framed by its own headers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// `HEAD`: the response has no body, whatever its headers say.
    pub is_head: bool,
    /// `CONNECT`: a 2xx response has no body and starts a tunnel.
    pub is_connect: bool,
    pub upgrade: Upgrade,
    /// The client asked to close after this exchange (`connection: close`, or HTTP/1.0
    /// without `connection: keep-alive`).
    pub is_final: bool,
    /// An HTTP/1.0 request: its client cannot read chunks, so a response body of unknown
    /// length runs until the connection closes.
    pub is_1_0: bool,
}

impl RequestInfo {
    pub fn new(method: &str, protocol: &str, connection: Option<&str>, upgrade: Option<&str>) -> RequestInfo {
        let upgrade = match upgrade.map(str::trim) {
            Some(u) if u.eq_ignore_ascii_case("websocket") => Upgrade::WebSocket,
            Some(u) if u.eq_ignore_ascii_case("h2c") => Upgrade::H2c,
            _ => Upgrade::None,
        };
        RequestInfo {
            is_head: method == "HEAD",
            is_connect: method == "CONNECT",
            upgrade,
            is_final: is_final(protocol.as_bytes(), connection.map(str::as_bytes)),
            is_1_0: protocol == "HTTP/1.0",
        }
    }

    /// Whether a response with `status` to this request turns the connection into a tunnel.
    pub fn is_tunnel_response(&self, status: u16) -> bool {
        (self.is_connect && (200..300).contains(&status)) || (self.upgrade != Upgrade::None && status == 101)
    }
}

/// Whether a message ends its connection: `connection: close`, or HTTP/1.0 unless it says
/// `keep-alive`.
pub(super) fn is_final(protocol: &[u8], connection: Option<&[u8]>) -> bool {
    let has = |token: &[u8]| {
        connection.is_some_and(|c| c.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token)))
    };
    has(b"close") || (protocol == b"HTTP/1.0" && !has(b"keep-alive"))
}

/// What the response decoder learned about a response beyond its head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResponseInfo {
    /// A 1xx other than 101: another response to the same request follows.
    pub interim: bool,
    /// The connection closes after this response (`connection: close`, HTTP/1.0, or a
    /// body that runs until the end of the stream).
    pub is_final: bool,
    /// The connection turns into a tunnel after this response; the decoder then hands out
    /// the remaining bytes as [`Item::Tunnel`].
    pub tunnel: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedRequest {
    pub head: RequestHead,
    pub info: RequestInfo,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedResponse {
    pub head: ResponseHead,
    pub info: ResponseInfo,
}

/// The end of a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tail {
    /// Bytes of the head on the wire, up to and including its empty line.
    pub head_size: usize,
    /// Bytes of the body on the wire, chunk framing and trailers included.
    pub body_size: u64,
    /// The trailer fields of a chunked body.
    pub trailers: Vec<Header>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A head, trailer section or chunk-size line over the size limit.
    TooLarge,
    /// Bytes that are not HTTP/1.x as this decoder accepts it.
    Malformed(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge => f.write_str("HTTP header size overflow"),
            DecodeError::Malformed(what) => write!(f, "malformed HTTP: {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// What a decoder hands out. A message is one `Head`, any number of `Body`, one `End`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item<M> {
    Head(M),
    /// Body bytes, de-chunked, sliced from the input.
    Body(Bytes),
    End(Tail),
    /// The HTTP/2 connection preface (`PRI * HTTP/2.0 ...`) was read, by a request decoder.
    /// What follows comes as `Tunnel`.
    Http2Preface,
    /// Bytes after the stream stopped being HTTP/1 (CONNECT, an upgrade, HTTP/2).
    Tunnel(Bytes),
    /// The input is not HTTP/1.x. Reported once; the decoder then ignores all input.
    Error(DecodeError),
}
