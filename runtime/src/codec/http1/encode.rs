//! The encoder: a head, body chunks and an end become the bytes Pipy writes.

use std::io::Write as _;

use std::cell::RefCell;

use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;

use super::*;

/// Bodies up to this size are copied next to their framing (the head, a chunk-size line)
/// so that a small message goes out as one buffer; larger ones are passed on as they are.
pub(super) const COALESCE: usize = 4096;

/// Where Pipy would hold a whole body (`bufferSize` 0), a body without a known length is
/// held up to this much, then sent chunked: a proxy's memory stays bounded per message.
pub const MAX_BUFFERED_BODY: usize = 1 << 20;

/// The room a head starts with; a longer head grows its own.
const HEAD_ROOM: usize = 256;
/// What a thread allocates at once for the heads it encodes.
const HEADS_ROOM: usize = 16 * 1024;

thread_local! {
    /// Heads are carved out of a shared block, so that a head costs no allocation of its
    /// own (one per 64 heads), where each request and response would have two (its buffer,
    /// and the shared header `freeze` adds when the buffer has room to spare). A block is
    /// freed once every head carved from it is.
    static HEADS: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// An empty buffer with room for a head.
fn head_room() -> BytesMut {
    HEADS.with_borrow_mut(|block| {
        if block.capacity() < HEAD_ROOM {
            *block = BytesMut::with_capacity(HEADS_ROOM);
        }
        let rest = block.split_off(HEAD_ROOM);
        std::mem::replace(block, rest)
    })
}

/// Makes room for `extra` more bytes in `head`. Past the room it was carved with, a head
/// moves to a buffer of its own: growing a carved buffer in place would allocate a whole
/// block's worth.
fn room(head: &mut BytesMut, extra: usize) {
    if head.capacity() - head.len() < extra {
        let mut own = BytesMut::with_capacity((head.len() + extra).max(2 * head.capacity()));
        own.extend_from_slice(head);
        *head = own;
    }
}

/// A piece of encoded output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out {
    /// The first bytes of a message: its head, possibly followed by (small) body bytes.
    /// Pipy emits the `MessageStart` right before these.
    Start(Bytes),
    /// More bytes of the message.
    Body(Bytes),
}

/// How an encoded message ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The connection stays open for more messages.
    Message,
    /// The exchange was final: Pipy emits a `StreamEnd` instead of the `MessageEnd`.
    Close,
    /// A body streamed under the `content-length` its head declared came out shorter or
    /// longer: the bytes written no longer frame a message, the connection must end.
    Broken,
    /// The response turned the connection into a tunnel: pass everything through from now.
    Tunnel,
}

/// Encodes messages one after another, by Pipy's rules (`src/filters/http.cpp`, `Encoder`):
/// header order and spelling as given, framing headers decided by the encoder, the body
/// buffered for a `content-length` unless it outgrows `buffer_size`, then chunked.
///
/// Unlike Pipy, a body is never held whole. Past [`COALESCE`] bytes, a body whose head
/// declared a `content-length` is written as it comes under that length (the same bytes
/// Pipy writes when the body matches it); with `buffer_size` 0 a body without a declared
/// length is held up to [`MAX_BUFFERED_BODY`], then chunked.
///
/// Call [`Encoder::start_request`] or [`Encoder::start_response`], then [`Encoder::header`]
/// for each header, then [`Encoder::data`] for the body and [`Encoder::end`].
pub struct Encoder {
    buffer_size: usize,
    msg: Option<Outgoing>,
}

struct Outgoing {
    /// The start line and header lines so far.
    head: BytesMut,
    response: bool,
    status: u16,
    method: MethodClass,
    protocol_is_1_0: bool,
    /// The request answered (responses), or what is known of the request itself.
    request: RequestInfo,
    /// A `connection` header given in the head.
    connection: Option<String>,
    upgrade: Option<String>,
    /// A `HEAD` message whose head brought its own `content-length`.
    has_length: bool,
    chunked: bool,
    /// Body bytes held for the head's `content-length`: most often one piece.
    body: SmallVec<[Bytes; 1]>,
    length: u64,
    /// The `content-length` the head declared (not for `HEAD`).
    declared: Option<u64>,
    /// The head went out with `declared`; the body follows it as it comes.
    streaming: bool,
    /// The head went out without a length to an HTTP/1.0 client: the body follows as it
    /// comes and the connection's close ends it.
    until_close: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MethodClass {
    Head,
    /// POST, PUT, PATCH: a request that gets a `content-length` even when empty.
    WithBody,
    Other,
}

impl Encoder {
    pub fn new(buffer_size: usize) -> Encoder {
        Encoder { buffer_size, msg: None }
    }

    /// Whether a message is being encoded (started and not ended).
    pub fn in_message(&self) -> bool {
        self.msg.is_some()
    }

    /// Starts a request. Empty fields take Pipy's defaults: `GET`, `/`, `HTTP/1.1`.
    /// Ignored while a message is in progress.
    pub fn start_request(&mut self, method: &str, path: &str, protocol: &str) {
        if self.msg.is_some() {
            return;
        }
        let method = if method.is_empty() { "GET" } else { method };
        let path = if path.is_empty() { "/" } else { path };
        // An HTTP/2 request (demuxHTTP's heads say `HTTP/2`) goes on as HTTP/1.1, as in
        // Pipy, whose HTTP/2 heads carry no protocol.
        let protocol = if protocol.is_empty() || protocol.starts_with("HTTP/2") { "HTTP/1.1" } else { protocol };
        let mut head = head_room();
        room(&mut head, method.len() + path.len() + protocol.len() + 4);
        for part in [method, " ", path, " ", protocol, "\r\n"] {
            head.put_slice(part.as_bytes());
        }
        let class = match method {
            "HEAD" => MethodClass::Head,
            "POST" | "PUT" | "PATCH" => MethodClass::WithBody,
            _ => MethodClass::Other,
        };
        self.msg = Some(Outgoing::new(head, false, 0, class, protocol, RequestInfo::new(method, protocol, None, None)));
    }

    /// Starts a response to `request` (`RequestInfo::default()` if unknown): it decides
    /// `HEAD` framing, tunnels and whether the connection closes after this response.
    /// Without `status_text` the standard reason phrase is used, or `OK`.
    pub fn start_response(&mut self, protocol: &str, status: u16, status_text: Option<&str>, request: RequestInfo) {
        if self.msg.is_some() {
            return;
        }
        let protocol = if protocol.is_empty() { "HTTP/1.1" } else { protocol };
        let text = status_text.or_else(|| reason_phrase(status)).unwrap_or("OK");
        let mut head = head_room();
        room(&mut head, protocol.len() + text.len() + 8);
        head.put_slice(protocol.as_bytes());
        head.put_u8(b' ');
        head.put_slice(itoa::Buffer::new().format(status).as_bytes());
        head.put_u8(b' ');
        head.put_slice(text.as_bytes());
        head.put_slice(b"\r\n");
        let class = if request.is_head { MethodClass::Head } else { MethodClass::Other };
        self.msg = Some(Outgoing::new(head, true, status, class, protocol, request));
    }

    /// Adds a header line, in order. `transfer-encoding`, `keep-alive` and (except for
    /// `HEAD` and 304, whose length describes a body they never carry) `content-length` are dropped, the encoder writes its own; `connection` is
    /// held for the connection line written last.
    pub fn header(&mut self, name: &str, value: &str) {
        self.header_bytes(name, value, value.as_bytes())
    }

    /// As [`Encoder::header`], writing `bytes` as the value (`value` is their text).
    fn header_bytes(&mut self, name: &str, value: &str, bytes: &[u8]) {
        let Some(m) = &mut self.msg else { return };
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        // The names handled here are 7, 10, 14 or 17 bytes long: the length passes most
        // others by.
        if matches!(name.len(), 7 | 10 | 14 | 17) {
            if is("transfer-encoding") || is("keep-alive") {
                return;
            }
            if is("content-length") {
                // A 304's length, like a HEAD answer's, describes a body it never carries.
                if m.method != MethodClass::Head && !(m.response && m.status == 304) {
                    m.declared = value.trim().parse().ok();
                    return;
                }
                m.has_length = true;
            } else if is("connection") {
                m.connection = Some(value.to_owned());
                return;
            } else if is("upgrade") {
                m.upgrade = Some(value.to_owned());
            }
        }
        room(&mut m.head, name.len() + bytes.len() + 4);
        m.head.put_slice(name.as_bytes());
        m.head.put_slice(b": ");
        m.head.put_slice(bytes);
        m.head.put_slice(b"\r\n");
    }

    /// Starts a request from a decoded head, with the headers a script would see for it:
    /// no `connection`, one line per name (the last value, at the first one's place) except
    /// for `cookie`, spelled as the last spelling that was not lower-case.
    pub fn start_request_head(&mut self, head: &RequestHead) {
        if self.msg.is_some() {
            return;
        }
        self.start_request(&head.method, &head.path, &head.protocol);
        self.script_headers(&head.headers);
    }

    /// As [`Encoder::start_request_head`], for a response.
    pub fn start_response_head(&mut self, head: &ResponseHead, request: RequestInfo) {
        if self.msg.is_some() {
            return;
        }
        let text = Some(head.status_text.as_str()).filter(|t| !t.is_empty());
        self.start_response(&head.protocol, head.status, text, request);
        self.script_headers(&head.headers);
    }

    /// Starts a request from a head a script wrote (converted to Rust): its header lines
    /// exactly as given, `connection` included.
    pub fn start_script_request(&mut self, head: &RequestHead) {
        if self.msg.is_some() {
            return;
        }
        self.start_request(&head.method, &head.path, &head.protocol);
        head.headers.iter().for_each(|h| self.header_bytes(&h.name, &h.value, h.bytes()));
    }

    /// As [`Encoder::start_script_request`], for a response.
    pub fn start_script_response(&mut self, head: &ResponseHead, request: RequestInfo) {
        if self.msg.is_some() {
            return;
        }
        let text = Some(head.status_text.as_str()).filter(|t| !t.is_empty());
        self.start_response(&head.protocol, head.status, text, request);
        head.headers.iter().for_each(|h| self.header_bytes(&h.name, &h.value, h.bytes()));
    }

    fn script_headers(&mut self, headers: &[Header]) {
        // Names of different lengths differ: where no two share a length (the usual head),
        // no name repeats and each line is written as it is, with no names compared.
        let mut lengths = 0u64;
        let distinct = headers.iter().all(|h| {
            let bit = 1u64 << (h.name.len() % 64);
            let new = lengths & bit == 0;
            lengths |= bit;
            new
        });
        if distinct {
            for h in headers.iter().filter(|h| !h.name.eq_ignore_ascii_case("connection")) {
                self.header_bytes(&h.name, &h.value, h.bytes());
            }
            return;
        }
        // Every name is compared with every other: read each once.
        let names: SmallVec<[&str; 16]> = headers.iter().map(|h| h.name.as_str()).collect();
        let same = |a: &Header, b: &Header| a.name.eq_ignore_ascii_case(&b.name);
        for (i, h) in headers.iter().enumerate() {
            let name = names[i];
            if name.eq_ignore_ascii_case("connection") || names[..i].iter().any(|e| e.eq_ignore_ascii_case(name)) {
                continue;
            }
            // The common case, a name given once, is written as it is, with no copy.
            if !names[i + 1..].iter().any(|e| e.eq_ignore_ascii_case(name)) {
                self.header_bytes(name, &h.value, h.bytes());
                continue;
            }
            let group = || headers[i..].iter().filter(|e| same(e, h));
            let name = group()
                .rfind(|e| e.name.bytes().any(|b| b.is_ascii_uppercase()))
                .map_or_else(|| Text::from(h.name.to_ascii_lowercase()), |e| e.name.clone());
            if h.name.eq_ignore_ascii_case("cookie") || h.name.eq_ignore_ascii_case("set-cookie") {
                for e in group() {
                    self.header_bytes(&name, &e.value, e.bytes());
                }
            } else {
                let last = group().next_back().expect("h itself");
                self.header_bytes(&name, &last.value, last.bytes());
            }
        }
    }

    /// For a request being encoded: what its response decoder needs to know. Call it after
    /// the headers.
    pub fn request_info(&self) -> Option<RequestInfo> {
        let m = self.msg.as_ref().filter(|m| !m.response)?;
        let upgrade = RequestInfo::new("", "", None, m.upgrade.as_deref()).upgrade;
        let is_final = is_final(
            if m.protocol_is_1_0 { b"HTTP/1.0" } else { b"HTTP/1.1" },
            m.connection.as_deref().map(str::as_bytes),
        );
        Some(RequestInfo { upgrade, is_final, ..m.request })
    }

    /// Adds body bytes. Outside a message they are dropped.
    pub fn data(&mut self, data: Bytes, out: &mut impl FnMut(Out)) {
        let limit = if self.buffer_size > 0 { self.buffer_size } else { MAX_BUFFERED_BODY };
        let Some(m) = &mut self.msg else { return };
        if data.is_empty() {
            return;
        }
        if m.method == MethodClass::Head {
            // Counted for the content-length, never sent.
            m.length += data.len() as u64;
        } else if m.until_close {
            out(Out::Body(data));
        } else if m.chunked {
            let len = data.len();
            write_chunk(&[data], len, out);
        } else if m.streaming {
            m.stream(data, out);
        } else {
            m.length += data.len() as u64;
            m.body.push(data);
            let declared = m.declared.filter(|&d| self.buffer_size == 0 && m.length > COALESCE as u64 && m.length <= d);
            if let Some(declared) = declared {
                // From here on the bytes are Pipy's whatever the segmentation: its head, with
                // the same length, then the body.
                out(Out::Start(m.finish_head_with(declared).freeze()));
                m.streaming = true;
                m.length = 0;
                std::mem::take(&mut m.body).into_iter().for_each(|b| m.stream(b, out));
            } else if m.length > limit as u64 && m.response && m.request.is_1_0 {
                m.until_close = true;
                out(Out::Start(m.finish_head().freeze()));
                std::mem::take(&mut m.body).into_iter().for_each(|b| out(Out::Body(b)));
            } else if m.length > limit as u64 {
                m.chunked = true;
                out(Out::Start(m.finish_head().freeze()));
                let body = std::mem::take(&mut m.body);
                write_chunk(&body, m.length as usize, out);
            }
        }
    }

    /// Ends the message. `None` if none was in progress.
    pub fn end(&mut self, out: &mut impl FnMut(Out)) -> Option<Ending> {
        self.end_with_trailers(&[], out)
    }

    /// Ends the message with a trailer section. Only a chunked body can carry one, so a body
    /// still held for a `content-length` goes out chunked instead; where chunks cannot go (a
    /// body under a declared length already sent, an HTTP/1.0 peer, no body allowed), the
    /// trailers are dropped.
    pub fn end_with_trailers(&mut self, trailers: &[Header], out: &mut impl FnMut(Out)) -> Option<Ending> {
        let mut m = self.msg.take()?;
        if m.until_close {
            return Some(Ending::Close);
        }
        if !trailers.is_empty() && !m.streaming && !m.chunked && m.can_chunk() {
            m.chunked = true;
            out(Out::Start(m.finish_head().freeze()));
            let body = std::mem::take(&mut m.body);
            if m.length > 0 {
                write_chunk(&body, m.length as usize, out);
            }
        }
        if m.streaming {
            if Some(m.length) != m.declared {
                tracing::warn!(
                    target: "http",
                    "HTTP body of {} bytes does not match its content-length {}: closing",
                    m.length,
                    m.declared.unwrap_or_default()
                );
                return Some(Ending::Broken);
            }
        } else if m.chunked && !trailers.is_empty() {
            let mut last = BytesMut::from(&b"0\r\n"[..]);
            for t in trailers {
                last.extend_from_slice(t.name.as_bytes());
                last.extend_from_slice(b": ");
                last.extend_from_slice(t.bytes());
                last.extend_from_slice(b"\r\n");
            }
            last.extend_from_slice(b"\r\n");
            out(Out::Body(last.freeze()));
        } else if m.chunked {
            out(Out::Body(Bytes::from_static(b"0\r\n\r\n")));
        } else {
            let mut head = m.finish_head();
            let small = m.length as usize <= COALESCE;
            if small {
                room(&mut head, m.length as usize);
                m.body.iter().for_each(|b| head.extend_from_slice(b));
            }
            out(Out::Start(head.freeze()));
            if !small {
                m.body.into_iter().for_each(|b| out(Out::Body(b)));
            }
        }
        Some(if !m.response || is_interim(m.status) {
            Ending::Message
        } else if m.request.is_final {
            Ending::Close
        } else if m.request.is_tunnel_response(m.status) {
            Ending::Tunnel
        } else {
            Ending::Message
        })
    }

    /// Drops the message in progress (its stream ended).
    pub fn abort(&mut self) {
        self.msg = None;
    }

    /// Writes the head now rather than with the first body bytes, under its declared
    /// `content-length` (chunked without one); the body follows as it comes. For a request
    /// whose client waits for `100 Continue` before sending its body.
    pub fn send_head(&mut self, out: &mut impl FnMut(Out)) {
        let Some(m) = &mut self.msg else { return };
        if m.streaming || m.chunked || !m.body.is_empty() || m.method == MethodClass::Head {
            return;
        }
        match m.declared {
            Some(declared) => {
                out(Out::Start(m.finish_head_with(declared).freeze()));
                m.streaming = true;
                m.length = 0;
            }
            None => {
                m.chunked = true;
                out(Out::Start(m.finish_head().freeze()));
            }
        }
    }
}

impl Outgoing {
    fn new(
        head: BytesMut,
        response: bool,
        status: u16,
        method: MethodClass,
        protocol: &str,
        request: RequestInfo,
    ) -> Outgoing {
        Outgoing {
            head,
            response,
            status,
            method,
            protocol_is_1_0: protocol == "HTTP/1.0",
            request,
            connection: None,
            upgrade: None,
            has_length: false,
            chunked: false,
            body: SmallVec::new(),
            length: 0,
            declared: None,
            streaming: false,
            until_close: false,
        }
    }

    /// Writes body bytes under the declared length; bytes past it are dropped (the message
    /// then ends [`Ending::Broken`]).
    fn stream(&mut self, mut data: Bytes, out: &mut impl FnMut(Out)) {
        let room = self.declared.unwrap_or_default().saturating_sub(self.length);
        self.length += data.len() as u64;
        data.truncate(room.min(data.len() as u64) as usize);
        if !data.is_empty() {
            out(Out::Body(data));
        }
    }

    /// Whether this message's body may go chunked: it has one, and its peer reads chunks.
    fn can_chunk(&self) -> bool {
        let s = self.status;
        let no_body = self.method == MethodClass::Head
            || self.has_length
            || (self.response && (s < 200 || s == 204 || s == 304 || self.request.is_tunnel_response(s)));
        let peer_is_1_0 = self.protocol_is_1_0 || (self.response && self.request.is_1_0);
        !(no_body || peer_is_1_0)
    }

    /// The head with its framing and connection lines, for a body of `length` bytes.
    fn finish_head_with(&mut self, length: u64) -> BytesMut {
        self.length = length;
        self.finish_head()
    }

    /// The head with its framing and connection lines.
    fn finish_head(&mut self) -> BytesMut {
        let mut head = std::mem::take(&mut self.head);
        room(&mut head, 64 + self.connection.as_ref().map_or(0, String::len));
        let s = self.status;
        let no_length = self.has_length
            || self.until_close
            || (self.response && (s < 200 || s == 204 || s == 304 || self.request.is_tunnel_response(s)));
        if !no_length {
            if self.chunked {
                head.put_slice(b"transfer-encoding: chunked\r\n");
            } else if self.length > 0 || self.response || self.method == MethodClass::WithBody {
                head.put_slice(b"content-length: ");
                head.put_slice(itoa::Buffer::new().format(self.length).as_bytes());
                head.put_slice(b"\r\n");
            }
        }
        if self.response && is_interim(s) {
            // Not the exchange's last word: the final response says how the connection goes.
        } else if self.response && (self.request.is_final || self.until_close) {
            head.put_slice(b"connection: close\r\n");
        } else if let Some(c) = &self.connection {
            head.put_slice(b"connection: ");
            head.put_slice(c.as_bytes());
            head.put_slice(b"\r\n");
        } else {
            head.put_slice(b"connection: keep-alive\r\n");
        }
        head.put_slice(b"\r\n");
        head
    }
}

/// A 1xx other than 101: a response another one to the same request follows.
pub fn is_interim(status: u16) -> bool {
    (100..200).contains(&status) && status != 101
}

/// Writes one chunk made of `pieces` (`len` bytes in all).
fn write_chunk(pieces: &[Bytes], len: usize, out: &mut impl FnMut(Out)) {
    let mut framed = BytesMut::with_capacity(if len <= COALESCE { len + 20 } else { 20 });
    write!((&mut framed).writer(), "{len:X}\r\n").expect("writing to memory");
    if len <= COALESCE {
        pieces.iter().for_each(|p| framed.extend_from_slice(p));
        framed.put_slice(b"\r\n");
        out(Out::Body(framed.freeze()));
    } else {
        out(Out::Body(framed.freeze()));
        pieces.iter().for_each(|p| out(Out::Body(p.clone())));
        out(Out::Body(Bytes::from_static(b"\r\n")));
    }
}
