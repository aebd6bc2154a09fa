//! HTTP/1.x heads, a streaming decoder and an encoder.
//!
//! Pure byte work: no pipelines, no JS, no I/O. The decoders are fed [`Bytes`] in any
//! segmentation and are pulled for [`Item`]s; bodies come out as slices of the input, never
//! copied. The [`Encoder`] turns a head, body chunks and an end into the bytes Pipy writes.

use std::collections::VecDeque;
use std::fmt;
use std::io::Write as _;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// One header line as received: `name` keeps its original spelling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    pub path: String,
    pub protocol: String,
    /// Every header line in order, `connection` included.
    pub headers: Vec<Header>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    pub protocol: String,
    pub status: u16,
    pub status_text: String,
    /// Every header line in order, `connection` included.
    pub headers: Vec<Header>,
}

impl Header {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Header {
        Header { name: name.into(), value: value.into() }
    }
}

/// The value of the last header named `name` (ASCII case-insensitive).
fn find_header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers.iter().rev().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
}

impl RequestHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub fn info(&self) -> RequestInfo {
        RequestInfo::new(&self.method, &self.protocol, self.header("connection"), self.header("upgrade"))
    }
}

impl ResponseHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The largest head (or trailer section, or chunk-size line) the decoders accept by default.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 16 * 1024;

/// The methods Pipy's decoder accepts (`PRI` for the HTTP/2 preface).
const METHODS: [&[u8]; 10] =
    [b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PRI"];

/// The HTTP/2 connection preface, as far as it looks like an HTTP/1 head, and the rest of it.
const PREFACE_HEAD: &[u8] = b"PRI * HTTP/2.0\r\n\r\n";
const PREFACE_TAIL: &[u8] = b"SM\r\n\r\n";

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
        }
    }

    /// Whether a response with `status` to this request turns the connection into a tunnel.
    pub fn is_tunnel_response(&self, status: u16) -> bool {
        (self.is_connect && (200..300).contains(&status)) || (self.upgrade != Upgrade::None && status == 101)
    }
}

/// Whether a message ends its connection: `connection: close`, or HTTP/1.0 unless it says
/// `keep-alive`.
fn is_final(protocol: &[u8], connection: Option<&[u8]>) -> bool {
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

/// Decodes a stream of requests.
pub struct RequestDecoder(Core);

/// Decodes a stream of responses. Tell it, in order, about the requests they answer
/// ([`ResponseDecoder::expect`]) so that responses to `HEAD` and `CONNECT` are framed right.
pub struct ResponseDecoder(Core);

impl Default for RequestDecoder {
    fn default() -> Self {
        RequestDecoder::new()
    }
}

impl Default for ResponseDecoder {
    fn default() -> Self {
        ResponseDecoder::new()
    }
}

impl RequestDecoder {
    pub fn new() -> RequestDecoder {
        RequestDecoder(Core::new(Kind::Request))
    }

    pub fn with_max_header_size(mut self, max: usize) -> RequestDecoder {
        self.0.max_header_size = max;
        self
    }

    /// Queues input. Ignored after an error.
    pub fn feed(&mut self, data: Bytes) {
        self.0.feed(data)
    }

    /// The next item, or `None` until more input is fed. Stopping before `None` is fine:
    /// the rest stays queued (e.g. after a CONNECT request until its response is known).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Item<DecodedRequest>> {
        self.0.next().map(|item| {
            item.map_head(|h| match h {
                AnyHead::Request(r) => r,
                AnyHead::Response(_) => unreachable!("a request decoder parses requests"),
            })
        })
    }

    /// Hands out everything not decoded yet, now and later, as [`Item::Tunnel`].
    pub fn set_tunnel(&mut self) {
        self.0.set_tunnel()
    }

    /// Whether the decoder sits between messages (possibly in a partial head).
    pub fn is_idle(&self) -> bool {
        self.0.state == State::Head
    }

    pub fn has_failed(&self) -> bool {
        self.0.state == State::Failed
    }

    /// Forgets everything, for a new stream.
    pub fn reset(&mut self) {
        self.0.reset()
    }
}

impl ResponseDecoder {
    pub fn new() -> ResponseDecoder {
        ResponseDecoder(Core::new(Kind::Response))
    }

    pub fn with_max_header_size(mut self, max: usize) -> ResponseDecoder {
        self.0.max_header_size = max;
        self
    }

    /// Registers the next request to be answered. Each final (non-1xx, or 101) response
    /// takes one; when none is registered a response is framed by its own headers.
    pub fn expect(&mut self, request: RequestInfo) {
        self.0.expected.push_back(request)
    }

    /// Requests registered and not answered yet.
    pub fn expected(&self) -> usize {
        self.0.expected.len()
    }

    pub fn feed(&mut self, data: Bytes) {
        self.0.feed(data)
    }

    /// As [`RequestDecoder::next`].
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Item<DecodedResponse>> {
        self.0.next().map(response_item)
    }

    /// At the end of the input: the `End` of a body that runs until the stream closes.
    /// Call it after `next()` returned `None`.
    pub fn finish(&mut self) -> Option<Item<DecodedResponse>> {
        if self.0.state == State::UntilClose && self.0.input.is_empty() {
            return Some(response_item(self.0.end(Vec::new())));
        }
        None
    }

    pub fn set_tunnel(&mut self) {
        self.0.set_tunnel()
    }

    /// Whether the decoder waits for a response head (none started, or one partly read).
    pub fn is_idle(&self) -> bool {
        self.0.state == State::Head
    }

    pub fn has_failed(&self) -> bool {
        self.0.state == State::Failed
    }

    pub fn reset(&mut self) {
        self.0.reset()
    }
}

fn response_item(item: CoreItem) -> Item<DecodedResponse> {
    item.map_head(|h| match h {
        AnyHead::Response(r) => r,
        AnyHead::Request(_) => unreachable!("a response decoder parses responses"),
    })
}

impl<M> Item<M> {
    fn map_head<N>(self, f: impl FnOnce(M) -> N) -> Item<N> {
        match self {
            Item::Head(h) => Item::Head(f(h)),
            Item::Body(b) => Item::Body(b),
            Item::End(t) => Item::End(t),
            Item::Http2Preface => Item::Http2Preface,
            Item::Tunnel(b) => Item::Tunnel(b),
            Item::Error(e) => Item::Error(e),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Request,
    Response,
}

enum AnyHead {
    Request(DecodedRequest),
    Response(DecodedResponse),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Head,
    /// The rest of `PREFACE_TAIL` from this offset.
    Preface(usize),
    /// A body with this many bytes left (0: the message ends).
    Length(u64),
    UntilClose,
    ChunkSize,
    ChunkData(u64),
    /// The CRLF after chunk data; `true` once the CR was seen.
    ChunkEnd(bool),
    Trailers,
    Tunnel,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    Line,
    Block,
}

struct Core {
    kind: Kind,
    max_header_size: usize,
    state: State,
    /// Input not decoded yet; never holds empty chunks.
    input: VecDeque<Bytes>,
    /// A head, trailer section or chunk-size line that spans input chunks, whole lines only.
    buf: BytesMut,
    /// Whether the current message turns the stream into a tunnel when it ends.
    tunnel_after: bool,
    head_size: usize,
    body_size: u64,
    expected: VecDeque<RequestInfo>,
}

type CoreItem = Item<AnyHead>;

impl Core {
    fn new(kind: Kind) -> Core {
        Core {
            kind,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            state: State::Head,
            input: VecDeque::new(),
            buf: BytesMut::new(),
            tunnel_after: false,
            head_size: 0,
            body_size: 0,
            expected: VecDeque::new(),
        }
    }

    fn reset(&mut self) {
        *self = Core { max_header_size: self.max_header_size, ..Core::new(self.kind) };
    }

    fn feed(&mut self, data: Bytes) {
        if self.state != State::Failed && !data.is_empty() {
            self.input.push_back(data);
        }
    }

    fn set_tunnel(&mut self) {
        if self.state != State::Failed {
            self.state = State::Tunnel;
        }
    }

    fn fail(&mut self, e: DecodeError) -> CoreItem {
        self.state = State::Failed;
        self.input.clear();
        self.buf.clear();
        Item::Error(e)
    }

    /// Drops `n` bytes from the front of the input.
    fn consume(&mut self, n: usize) {
        let front = self.input.front_mut().expect("consume within the input");
        if n == front.len() {
            self.input.pop_front();
        } else {
            front.advance(n);
        }
    }

    /// Takes up to `n` bytes from the front chunk, without copying.
    fn take(&mut self, n: u64) -> Option<Bytes> {
        let front = self.input.front_mut()?;
        if n >= front.len() as u64 { self.input.pop_front() } else { Some(front.split_to(n as usize)) }
    }

    fn next(&mut self) -> Option<CoreItem> {
        loop {
            match self.state {
                State::Failed => return None,
                State::Tunnel => return self.input.pop_front().map(Item::Tunnel),
                State::Head => match self.head() {
                    Ok(Some(item)) => return Some(item),
                    Ok(None) if self.state == State::Head => return None,
                    Ok(None) => {}
                    Err(e) => return Some(self.fail(e)),
                },
                State::Preface(k) => {
                    let want = &PREFACE_TAIL[k..];
                    let front = self.input.front()?;
                    let n = want.len().min(front.len());
                    if front[..n] != want[..n] {
                        return Some(self.fail(DecodeError::Malformed("broken HTTP/2 preface")));
                    }
                    self.consume(n);
                    if k + n == PREFACE_TAIL.len() {
                        self.state = State::Tunnel;
                        return Some(Item::Http2Preface);
                    }
                    self.state = State::Preface(k + n);
                }
                State::Length(0) => return Some(self.end(Vec::new())),
                State::Length(n) => {
                    let b = self.take(n)?;
                    self.state = State::Length(n - b.len() as u64);
                    self.body_size += b.len() as u64;
                    return Some(Item::Body(b));
                }
                State::UntilClose => {
                    let b = self.input.pop_front()?;
                    self.body_size += b.len() as u64;
                    return Some(Item::Body(b));
                }
                State::ChunkSize => match self.gather(Until::Line) {
                    Ok(false) => return None,
                    Ok(true) => match parse_chunk_size(&self.buf) {
                        Some(size) => {
                            self.body_size += self.buf.len() as u64;
                            self.buf.clear();
                            self.state = if size == 0 { State::Trailers } else { State::ChunkData(size) };
                        }
                        None => return Some(self.fail(DecodeError::Malformed("bad chunk size"))),
                    },
                    Err(e) => return Some(self.fail(e)),
                },
                State::ChunkData(0) => self.state = State::ChunkEnd(false),
                State::ChunkData(n) => {
                    let b = self.take(n)?;
                    self.state = State::ChunkData(n - b.len() as u64);
                    self.body_size += b.len() as u64;
                    return Some(Item::Body(b));
                }
                State::ChunkEnd(cr) => {
                    let c = *self.input.front()?.first().expect("no empty chunks");
                    self.state = match (cr, c) {
                        (false, b'\r') => State::ChunkEnd(true),
                        (_, b'\n') => State::ChunkSize,
                        _ => {
                            return Some(self.fail(DecodeError::Malformed("no CRLF after chunk data")));
                        }
                    };
                    self.consume(1);
                    self.body_size += 1;
                }
                State::Trailers => match self.gather(Until::Block) {
                    Ok(false) => return None,
                    Ok(true) => {
                        let trailers = match parse_trailers(&self.buf, self.max_header_size) {
                            Some(t) => t,
                            None => return Some(self.fail(DecodeError::Malformed("bad trailer"))),
                        };
                        self.body_size += self.buf.len() as u64;
                        self.buf.clear();
                        return Some(self.end(trailers));
                    }
                    Err(e) => return Some(self.fail(e)),
                },
            }
        }
    }

    /// Decodes a head. `Ok(None)` with the state still `Head` means more input is needed.
    fn head(&mut self) -> Result<Option<CoreItem>, DecodeError> {
        if self.buf.is_empty() {
            // Stray CRLFs between messages (after a body, by old clients) are skipped.
            loop {
                let Some(front) = self.input.front_mut() else {
                    return Ok(None);
                };
                match front.iter().position(|&b| b != b'\r' && b != b'\n') {
                    Some(i) => {
                        front.advance(i);
                        break;
                    }
                    None => {
                        self.input.pop_front();
                    }
                }
            }
            // The common case: the whole head in one chunk, parsed in place.
            let front = self.input.front().expect("just checked");
            if !(self.kind == Kind::Request && front.starts_with(b"PRI ")) {
                match parse_head(self.kind, front, self.max_header_size, &mut self.expected)? {
                    Some(parsed) => {
                        if parsed.len > self.max_header_size {
                            return Err(DecodeError::TooLarge);
                        }
                        self.consume(parsed.len);
                        return Ok(Some(self.start(parsed)));
                    }
                    None if !start_prefix_ok(self.kind, front) => {
                        return Err(DecodeError::Malformed("not an HTTP start line"));
                    }
                    None => {}
                }
            }
        }
        if !self.gather(Until::Block)? {
            return Ok(None);
        }
        if self.buf[..] == *PREFACE_HEAD {
            self.buf.clear();
            self.state = State::Preface(0);
            return Ok(None);
        }
        let parsed = parse_head(self.kind, &self.buf, self.max_header_size, &mut self.expected)?
            .ok_or(DecodeError::Malformed("incomplete head"))?;
        self.buf.clear();
        Ok(Some(self.start(parsed)))
    }

    fn start(&mut self, parsed: Parsed) -> CoreItem {
        self.head_size = parsed.len;
        self.body_size = 0;
        self.tunnel_after = parsed.tunnel_after;
        self.state = match parsed.framing {
            Framing::None => State::Length(0),
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        Item::Head(parsed.head)
    }

    fn end(&mut self, trailers: Vec<Header>) -> CoreItem {
        let tail = Tail { head_size: self.head_size, body_size: self.body_size, trailers };
        self.head_size = 0;
        self.body_size = 0;
        self.state = if self.tunnel_after { State::Tunnel } else { State::Head };
        Item::End(tail)
    }

    /// Moves input into `buf` until it holds a whole line (`Until::Line`) or a whole block of
    /// lines ending with an empty one (`Until::Block`). Returns whether it got there. Only
    /// the slow path: a head that fits one chunk never comes here, and copying stops at the
    /// size limit.
    fn gather(&mut self, until: Until) -> Result<bool, DecodeError> {
        while let Some(mut chunk) = self.input.pop_front() {
            let mut pos = 0;
            while let Some(i) = chunk[pos..].iter().position(|&b| b == b'\n') {
                let line_start = self.buf.len() - self.buf.iter().rev().take_while(|&&b| b != b'\n').count();
                self.buf.extend_from_slice(&chunk[pos..=pos + i]);
                pos += i + 1;
                if self.buf.len() > self.max_header_size {
                    return Err(DecodeError::TooLarge);
                }
                let line = &self.buf[line_start..];
                let blank = line == b"\n" || line == b"\r\n";
                if until == Until::Line || blank {
                    chunk.advance(pos);
                    if !chunk.is_empty() {
                        self.input.push_front(chunk);
                    }
                    return Ok(true);
                }
                if line_start == 0 && self.state == State::Head {
                    check_start_line(self.kind, &self.buf)?;
                }
            }
            if self.buf.len() + chunk.len() - pos > self.max_header_size {
                return Err(DecodeError::TooLarge);
            }
            self.buf.extend_from_slice(&chunk[pos..]);
            if self.state == State::Head && !start_prefix_ok(self.kind, &self.buf) {
                return Err(DecodeError::Malformed("not an HTTP start line"));
            }
        }
        Ok(false)
    }
}

struct Parsed {
    head: AnyHead,
    /// Bytes of the head, its empty line included.
    len: usize,
    framing: Framing,
    tunnel_after: bool,
}

/// Whether `buf` can still start a request or response line.
fn start_prefix_ok(kind: Kind, buf: &[u8]) -> bool {
    match kind {
        Kind::Request => {
            let p = &buf[..buf.len().min(8)];
            match p.iter().position(|&b| b == b' ') {
                Some(i) => METHODS.contains(&&p[..i]),
                None => p.len() < 8 && METHODS.iter().any(|m| m.starts_with(p)),
            }
        }
        Kind::Response => {
            let n = buf.len().min(5);
            buf[..n] == b"HTTP/"[..n]
        }
    }
}

/// Checks a complete first line (all of `buf` so far), so that non-HTTP input is given up
/// on before a whole head's worth of it is buffered.
fn check_start_line(kind: Kind, buf: &[u8]) -> Result<(), DecodeError> {
    let bad = DecodeError::Malformed("bad start line");
    let mut headers = [httparse::EMPTY_HEADER; 1];
    match kind {
        Kind::Request if buf == &PREFACE_HEAD[..16] => Ok(()),
        Kind::Request => {
            let mut req = httparse::Request::new(&mut headers);
            req.parse(buf).map_err(|_| bad)?;
            match req.method {
                Some(m) if METHODS.contains(&m.as_bytes()) => Ok(()),
                _ => Err(bad),
            }
        }
        Kind::Response => {
            let mut res = httparse::Response::new(&mut headers);
            res.parse(buf).map_err(|_| bad)?;
            match res.code {
                Some(c) if (100..600).contains(&c) => Ok(()),
                _ => Err(bad),
            }
        }
    }
}

/// Parses with room for a few headers on the stack, or for as many as fit `max` bytes.
fn with_headers<'b, T>(
    max: usize,
    mut f: impl FnMut(&mut [httparse::Header<'b>]) -> Result<T, httparse::Error>,
) -> Result<T, httparse::Error> {
    let mut small = [httparse::EMPTY_HEADER; 64];
    match f(&mut small) {
        // The shortest header line, `a:\r\n`, is 4 bytes.
        Err(httparse::Error::TooManyHeaders) => f(&mut vec![httparse::EMPTY_HEADER; max / 4 + 1]),
        r => r,
    }
}

/// Parses a head at the start of `buf`. `Ok(None)`: incomplete.
fn parse_head(
    kind: Kind,
    buf: &[u8],
    max: usize,
    expected: &mut VecDeque<RequestInfo>,
) -> Result<Option<Parsed>, DecodeError> {
    let bad = |e| match e {
        httparse::Error::TooManyHeaders => DecodeError::TooLarge,
        _ => DecodeError::Malformed("bad head"),
    };
    match kind {
        Kind::Request => with_headers(max, |headers| {
            let mut req = httparse::Request::new(headers);
            Ok(match req.parse(buf)? {
                httparse::Status::Complete(len) => Some(request(&req, len)),
                httparse::Status::Partial => None,
            })
        })
        .map_err(bad)?
        .transpose(),
        Kind::Response => {
            let parsed = with_headers(max, |headers| {
                let mut res = httparse::Response::new(headers);
                Ok(match res.parse(buf)? {
                    httparse::Status::Complete(len) => Some(response(&res, len, expected)),
                    httparse::Status::Partial => None,
                })
            })
            .map_err(bad)?
            .transpose()?;
            Ok(parsed)
        }
    }
}

/// What the framing headers of a head say.
#[derive(Default)]
struct Fields<'a> {
    /// `Some(true)` if the last transfer coding is `chunked`.
    chunked: Option<bool>,
    length: Option<u64>,
    connection: Option<&'a [u8]>,
    upgrade: Option<&'a [u8]>,
}

fn fields<'a>(headers: &[httparse::Header<'a>]) -> Result<Fields<'a>, DecodeError> {
    let mut f = Fields::default();
    for h in headers {
        let name = h.name.as_bytes();
        let value = h.value.trim_ascii();
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
            f.chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(value)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(DecodeError::Malformed("bad content-length"))?;
            if f.length.is_some_and(|l| l != n) {
                return Err(DecodeError::Malformed("conflicting content-length"));
            }
            f.length = Some(n);
        } else if name.eq_ignore_ascii_case(b"connection") {
            f.connection = Some(value);
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            f.upgrade = Some(value);
        }
    }
    Ok(f)
}

fn headers_of(headers: &[httparse::Header<'_>]) -> Vec<Header> {
    headers
        .iter()
        .map(|h| Header { name: h.name.to_owned(), value: String::from_utf8_lossy(h.value).into_owned() })
        .collect()
}

fn protocol_of(version: Option<u8>) -> &'static str {
    if version == Some(0) { "HTTP/1.0" } else { "HTTP/1.1" }
}

fn request(req: &httparse::Request<'_, '_>, len: usize) -> Result<Parsed, DecodeError> {
    let method = req.method.unwrap_or_default();
    if !METHODS.contains(&method.as_bytes()) {
        return Err(DecodeError::Malformed("unknown method"));
    }
    let f = fields(req.headers)?;
    let framing = match (f.chunked, f.length) {
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) => return Err(DecodeError::Malformed("unsupported transfer-encoding")),
        (None, Some(n)) if n > 0 => Framing::Length(n),
        (None, _) => Framing::None,
    };
    let protocol = protocol_of(req.version);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let info = RequestInfo::new(method, protocol, f.connection.map(text).as_deref(), f.upgrade.map(text).as_deref());
    let head = RequestHead {
        method: method.to_owned(),
        path: req.path.unwrap_or_default().to_owned(),
        protocol: protocol.to_owned(),
        headers: headers_of(req.headers),
    };
    Ok(Parsed { head: AnyHead::Request(DecodedRequest { head, info }), len, framing, tunnel_after: false })
}

fn response(
    res: &httparse::Response<'_, '_>,
    len: usize,
    expected: &mut VecDeque<RequestInfo>,
) -> Result<Parsed, DecodeError> {
    let status = res.code.unwrap_or_default();
    if !(100..600).contains(&status) {
        return Err(DecodeError::Malformed("bad status"));
    }
    let f = fields(res.headers)?;
    let interim = status < 200 && status != 101;
    let request = if interim { RequestInfo::default() } else { expected.pop_front().unwrap_or_default() };
    // Nothing after a 101 is HTTP/1 any more, even when the request is not known.
    let tunnel = request.is_tunnel_response(status) || status == 101;
    let bodiless = request.is_head || status < 200 || status == 204 || status == 304 || tunnel;
    let framing = match (f.chunked, f.length) {
        _ if bodiless => Framing::None,
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) => Framing::UntilClose,
        (None, Some(0)) => Framing::None,
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::UntilClose,
    };
    let protocol = protocol_of(res.version);
    let info = ResponseInfo {
        interim,
        is_final: framing == Framing::UntilClose || is_final(protocol.as_bytes(), f.connection),
        tunnel,
    };
    let head = ResponseHead {
        protocol: protocol.to_owned(),
        status,
        status_text: res.reason.unwrap_or_default().to_owned(),
        headers: headers_of(res.headers),
    };
    Ok(Parsed { head: AnyHead::Response(DecodedResponse { head, info }), len, framing, tunnel_after: tunnel })
}

/// The size in a chunk-size line (`1a;ext=v\r\n`); chunk extensions are ignored.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 15 {
        return None;
    }
    let rest = line[digits..].trim_ascii_start();
    if !rest.is_empty() && rest[0] != b';' {
        return None;
    }
    let hex = std::str::from_utf8(&line[..digits]).ok()?;
    u64::from_str_radix(hex, 16).ok()
}

/// The trailer fields in a block ending with an empty line.
fn parse_trailers(block: &[u8], max: usize) -> Option<Vec<Header>> {
    if block == b"\r\n" || block == b"\n" {
        return Some(Vec::new());
    }
    with_headers(max, |headers| {
        Ok(match httparse::parse_headers(block, headers)? {
            httparse::Status::Complete((_, h)) => Some(headers_of(h)),
            httparse::Status::Partial => None,
        })
    })
    .ok()
    .flatten()
}

/// The reason phrase Pipy writes for a status without `statusText`.
pub fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        // Pipy's table has these two placeholders.
        430 | 509 => "Unassigned",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => return None,
    })
}

/// The response Pipy makes up when the upstream stream ends with `error` (a `StreamEnd`
/// error-code name, `None` for an error carrying a script value) before a response head.
pub fn error_response(error: Option<&str>) -> ResponseHead {
    let (status, text) = match error {
        Some("CannotResolve") => (502, "Cannot Resolve"),
        Some("ConnectionRefused") => (502, "Connection Refused"),
        Some("Unauthorized") => (401, "Unauthorized"),
        Some("ReadError") => (502, "Read Error"),
        Some("WriteError") => (502, "Write Error"),
        Some("ConnectionTimeout" | "ReadTimeout" | "WriteTimeout") => (504, "Gateway Timeout"),
        _ => (502, "Bad Gateway"),
    };
    ResponseHead { protocol: "HTTP/1.1".into(), status, status_text: text.into(), headers: Vec::new() }
}

/// Bodies up to this size are copied next to their framing (the head, a chunk-size line)
/// so that a small message goes out as one buffer; larger ones are passed on as they are.
const COALESCE: usize = 4096;

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
    /// The response turned the connection into a tunnel: pass everything through from now.
    Tunnel,
}

/// Encodes messages one after another, by Pipy's rules (`src/filters/http.cpp`, `Encoder`):
/// header order and spelling as given, framing headers decided by the encoder, the body
/// buffered for a `content-length` unless it outgrows `buffer_size` (0: never), then chunked.
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
    body: Vec<Bytes>,
    length: u64,
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
        let protocol = if protocol.is_empty() { "HTTP/1.1" } else { protocol };
        let mut head = BytesMut::with_capacity(256);
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
        let mut head = BytesMut::with_capacity(256);
        write!((&mut head).writer(), "{protocol} {status} {text}\r\n").expect("writing to memory");
        let class = if request.is_head { MethodClass::Head } else { MethodClass::Other };
        self.msg = Some(Outgoing::new(head, true, status, class, protocol, request));
    }

    /// Adds a header line, in order. `transfer-encoding`, `keep-alive` and (except for
    /// `HEAD`) `content-length` are dropped, the encoder writes its own; `connection` is
    /// held for the connection line written last.
    pub fn header(&mut self, name: &str, value: &str) {
        let Some(m) = &mut self.msg else { return };
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("transfer-encoding") || is("keep-alive") {
            return;
        }
        if is("content-length") {
            if m.method != MethodClass::Head {
                return;
            }
            m.has_length = true;
        } else if is("connection") {
            m.connection = Some(value.to_owned());
            return;
        } else if is("upgrade") {
            m.upgrade = Some(value.to_owned());
        }
        m.head.reserve(name.len() + value.len() + 4);
        m.head.put_slice(name.as_bytes());
        m.head.put_slice(b": ");
        m.head.put_slice(value.as_bytes());
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
        head.headers.iter().for_each(|h| self.header(&h.name, &h.value));
    }

    /// As [`Encoder::start_script_request`], for a response.
    pub fn start_script_response(&mut self, head: &ResponseHead, request: RequestInfo) {
        if self.msg.is_some() {
            return;
        }
        let text = Some(head.status_text.as_str()).filter(|t| !t.is_empty());
        self.start_response(&head.protocol, head.status, text, request);
        head.headers.iter().for_each(|h| self.header(&h.name, &h.value));
    }

    fn script_headers(&mut self, headers: &[Header]) {
        let same = |a: &Header, b: &Header| a.name.eq_ignore_ascii_case(&b.name);
        for (i, h) in headers.iter().enumerate() {
            if h.name.eq_ignore_ascii_case("connection") || headers[..i].iter().any(|e| same(e, h)) {
                continue;
            }
            let group = || headers[i..].iter().filter(|e| same(e, h));
            let name = group()
                .rfind(|e| e.name.bytes().any(|b| b.is_ascii_uppercase()))
                .map_or_else(|| h.name.to_ascii_lowercase(), |e| e.name.clone());
            if h.name.eq_ignore_ascii_case("cookie") || h.name.eq_ignore_ascii_case("set-cookie") {
                for e in group() {
                    self.header(&name, &e.value);
                }
            } else {
                let last = group().next_back().expect("h itself");
                self.header(&name, &last.value);
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
        let buffer_size = self.buffer_size;
        let Some(m) = &mut self.msg else { return };
        if data.is_empty() {
            return;
        }
        if m.method == MethodClass::Head {
            // Counted for the content-length, never sent.
            m.length += data.len() as u64;
        } else if m.chunked {
            let len = data.len();
            write_chunk(&[data], len, out);
        } else {
            m.length += data.len() as u64;
            m.body.push(data);
            if buffer_size > 0 && m.length > buffer_size as u64 {
                m.chunked = true;
                out(Out::Start(m.finish_head().freeze()));
                let body = std::mem::take(&mut m.body);
                write_chunk(&body, m.length as usize, out);
            }
        }
    }

    /// Ends the message. `None` if none was in progress.
    pub fn end(&mut self, out: &mut impl FnMut(Out)) -> Option<Ending> {
        let mut m = self.msg.take()?;
        if m.chunked {
            out(Out::Body(Bytes::from_static(b"0\r\n\r\n")));
        } else {
            let mut head = m.finish_head();
            let small = m.length as usize <= COALESCE;
            if small {
                m.body.iter().for_each(|b| head.extend_from_slice(b));
            }
            out(Out::Start(head.freeze()));
            if !small {
                m.body.into_iter().for_each(|b| out(Out::Body(b)));
            }
        }
        Some(if !m.response {
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
            body: Vec::new(),
            length: 0,
        }
    }

    /// The head with its framing and connection lines.
    fn finish_head(&mut self) -> BytesMut {
        let mut head = std::mem::take(&mut self.head);
        let s = self.status;
        let no_length =
            self.has_length || (self.response && (s < 200 || s == 204 || self.request.is_tunnel_response(s)));
        if !no_length {
            if self.chunked {
                head.put_slice(b"transfer-encoding: chunked\r\n");
            } else if self.length > 0 || self.response || self.method == MethodClass::WithBody {
                write!((&mut head).writer(), "content-length: {}\r\n", self.length).expect("writing to memory");
            }
        }
        if self.response && self.request.is_final {
            head.put_slice(b"connection: close\r\n");
        } else if let Some(c) = &self.connection {
            head.reserve(c.len() + 14);
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

#[cfg(test)]
mod tests;
