//! The streaming decoders: fed [`Bytes`] in any segmentation, pulled for [`Item`]s. Bodies
//! come out as slices of the input, never copied.

use std::collections::VecDeque;
use std::ops::ControlFlow::{self, Break, Continue};

use bytes::{Buf, Bytes, BytesMut};

use super::parse::*;
use super::*;

/// The largest head (or trailer section, or chunk-size line) the decoders accept by default.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 16 * 1024;

/// The methods Pipy's decoder accepts (`PRI` for the HTTP/2 preface).
pub(super) const METHODS: [&[u8]; 10] =
    [b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PRI"];

/// One of [`METHODS`] as the text of a decoded head.
pub(super) fn method_text(method: &str) -> Option<Text> {
    Some(Text::from_static(match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "PRI" => "PRI",
        _ => return None,
    }))
}

/// The HTTP/2 connection preface, as far as it looks like an HTTP/1 head, and the rest of it.
pub(super) const PREFACE_HEAD: &[u8] = b"PRI * HTTP/2.0\r\n\r\n";
pub(super) const PREFACE_TAIL: &[u8] = b"SM\r\n\r\n";

/// Decodes a stream of requests.
pub struct RequestDecoder(Core);

/// What a decoder would make of the next input bytes, were they not fed to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// It must see the next byte (a head, a chunk-size line, bytes already queued).
    No,
    /// The next `n` bytes are body: fed, they would only come out as [`Item::Body`].
    Body(u64),
    /// Nothing will ever come out again but [`Item::Tunnel`] (a tunnel, or a stream that
    /// is not HTTP).
    Rest,
}

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

    #[cfg(test)]
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

    /// Bytes held, fed and not handed out yet.
    pub fn buffered(&self) -> usize {
        self.0.buffered()
    }

    /// Whether the next input bytes could go by without being fed ([`RequestDecoder::skip`]).
    pub fn skippable(&self) -> Skip {
        self.0.skippable()
    }

    /// Accounts for `n` bytes (at most [`RequestDecoder::skippable`]) that went by unfed.
    pub fn skip(&mut self, n: u64) {
        self.0.skip(n)
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

    /// Bytes held, fed and not handed out yet.
    pub fn buffered(&self) -> usize {
        self.0.buffered()
    }

    /// As [`RequestDecoder::skippable`].
    pub fn skippable(&self) -> Skip {
        self.0.skippable()
    }

    /// As [`RequestDecoder::skip`].
    pub fn skip(&mut self, n: u64) {
        self.0.skip(n)
    }

    pub fn reset(&mut self) {
        self.0.reset()
    }
}

pub(super) fn response_item(item: CoreItem) -> Item<DecodedResponse> {
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
pub(super) enum Kind {
    Request,
    Response,
}

pub(super) enum AnyHead {
    Request(DecodedRequest),
    Response(DecodedResponse),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
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
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Until {
    Line,
    Block,
}

pub(super) struct Core {
    pub(super) kind: Kind,
    pub(super) max_header_size: usize,
    pub(super) state: State,
    /// Input not decoded yet; never holds empty chunks.
    pub(super) input: VecDeque<Bytes>,
    /// A head, trailer section or chunk-size line that spans input chunks, whole lines only.
    pub(super) buf: BytesMut,
    /// Whether the current message turns the stream into a tunnel when it ends.
    pub(super) tunnel_after: bool,
    pub(super) head_size: usize,
    pub(super) body_size: u64,
    pub(super) expected: VecDeque<RequestInfo>,
}

type CoreItem = Item<AnyHead>;

impl Core {
    fn buffered(&self) -> usize {
        self.buf.len() + self.input.iter().map(Bytes::len).sum::<usize>()
    }

    fn skippable(&self) -> Skip {
        match self.state {
            State::Failed => Skip::Rest,
            _ if !self.input.is_empty() => Skip::No,
            State::Tunnel => Skip::Rest,
            State::Length(n) | State::ChunkData(n) if n > 0 => Skip::Body(n),
            State::UntilClose => Skip::Body(u64::MAX),
            _ => Skip::No,
        }
    }

    fn skip(&mut self, n: u64) {
        match self.state {
            State::Length(k) => self.state = State::Length(k.saturating_sub(n)),
            State::ChunkData(k) => self.state = State::ChunkData(k.saturating_sub(n)),
            State::UntilClose => {}
            _ => return,
        }
        self.body_size += n;
    }

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
                    if let Break(item) = self.preface(k) {
                        return item;
                    }
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
                State::ChunkSize => {
                    if let Break(item) = self.chunk_size() {
                        return item;
                    }
                }
                State::ChunkData(0) => self.state = State::ChunkEnd(false),
                State::ChunkData(n) => {
                    let b = self.take(n)?;
                    self.state = State::ChunkData(n - b.len() as u64);
                    self.body_size += b.len() as u64;
                    return Some(Item::Body(b));
                }
                State::ChunkEnd(cr) => {
                    if let Break(item) = self.chunk_end(cr) {
                        return item;
                    }
                }
                State::Trailers => return self.trailers(),
            }
        }
    }

    /// `k` bytes of the HTTP/2 preface's tail matched so far: match what came. `Break`
    /// gives what `next` returns; `Continue`, that it reads on.
    fn preface(&mut self, k: usize) -> ControlFlow<Option<CoreItem>> {
        let want = &PREFACE_TAIL[k..];
        let Some(front) = self.input.front() else { return Break(None) };
        let n = want.len().min(front.len());
        if front[..n] != want[..n] {
            return Break(Some(self.fail(DecodeError::Malformed("broken HTTP/2 preface"))));
        }
        self.consume(n);
        if k + n == PREFACE_TAIL.len() {
            self.state = State::Tunnel;
            return Break(Some(Item::Http2Preface));
        }
        self.state = State::Preface(k + n);
        Continue(())
    }

    /// A chunk-size line, gathered whole.
    fn chunk_size(&mut self) -> ControlFlow<Option<CoreItem>> {
        match self.gather(Until::Line) {
            Ok(false) => Break(None),
            Ok(true) => match parse_chunk_size(&self.buf) {
                Some(size) => {
                    self.body_size += self.buf.len() as u64;
                    self.buf.clear();
                    self.state = if size == 0 { State::Trailers } else { State::ChunkData(size) };
                    Continue(())
                }
                None => Break(Some(self.fail(DecodeError::Malformed("bad chunk size")))),
            },
            Err(e) => Break(Some(self.fail(e))),
        }
    }

    /// The CRLF after a chunk's data; `cr` when its CR was seen.
    fn chunk_end(&mut self, cr: bool) -> ControlFlow<Option<CoreItem>> {
        let Some(front) = self.input.front() else { return Break(None) };
        let c = *front.first().expect("no empty chunks");
        self.state = match (cr, c) {
            (false, b'\r') => State::ChunkEnd(true),
            // A bare LF is refused as in chunk-size lines.
            (true, b'\n') => State::ChunkSize,
            _ => return Break(Some(self.fail(DecodeError::Malformed("no CRLF after chunk data")))),
        };
        self.consume(1);
        self.body_size += 1;
        Continue(())
    }

    /// The trailer block after the last chunk, which ends the message.
    fn trailers(&mut self) -> Option<CoreItem> {
        match self.gather(Until::Block) {
            Ok(false) => None,
            Ok(true) => {
                let Some(trailers) = parse_trailers(&self.buf, self.max_header_size) else {
                    return Some(self.fail(DecodeError::Malformed("bad trailer")));
                };
                self.body_size += self.buf.len() as u64;
                self.buf.clear();
                Some(self.end(trailers))
            }
            Err(e) => Some(self.fail(e)),
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
