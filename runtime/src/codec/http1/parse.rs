//! Parsing a complete head, chunk-size line or trailer block (httparse underneath).

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::rc::Rc;

use bytes::Bytes;

use super::decode::*;
use super::*;

pub(super) struct Parsed {
    pub(super) head: AnyHead,
    /// Bytes of the head, its empty line included.
    pub(super) len: usize,
    pub(super) framing: Framing,
    pub(super) tunnel_after: bool,
}

/// Whether `buf` can still start a request or response line.
pub(super) fn start_prefix_ok(kind: Kind, buf: &[u8]) -> bool {
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
pub(super) fn check_start_line(kind: Kind, buf: &[u8]) -> Result<(), DecodeError> {
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

/// As [`with_headers`], with room the parser fills without it being cleared first (a
/// head is parsed per request: 2 KiB of stores saved each time).
fn with_uninit_headers<'b, T>(
    max: usize,
    mut f: impl FnMut(&mut [MaybeUninit<httparse::Header<'b>>]) -> Result<T, httparse::Error>,
) -> Result<T, httparse::Error> {
    let mut small = [const { MaybeUninit::uninit() }; 64];
    match f(&mut small) {
        // The shortest header line, `a:\r\n`, is 4 bytes.
        Err(httparse::Error::TooManyHeaders) => f(&mut vec![MaybeUninit::uninit(); max / 4 + 1]),
        r => r,
    }
}

/// Parses with room for a few headers on the stack, or for as many as fit `max` bytes.
pub(super) fn with_headers<'b, T>(
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
pub(super) fn parse_head(
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
        Kind::Request => with_uninit_headers(max, |headers| {
            let mut req = httparse::Request::new(&mut []);
            Ok(match httparse::ParserConfig::default().parse_request_with_uninit_headers(&mut req, buf, headers)? {
                httparse::Status::Complete(len) => Some(request(&req, &Owner::copy(buf, len))),
                httparse::Status::Partial => None,
            })
        })
        .map_err(bad)?
        .transpose(),
        Kind::Response => {
            let parsed = with_uninit_headers(max, |headers| {
                let mut res = httparse::Response::new(&mut []);
                Ok(
                    match httparse::ParserConfig::default()
                        .parse_response_with_uninit_headers(&mut res, buf, headers)?
                    {
                        httparse::Status::Complete(len) => Some(response(&res, &Owner::copy(buf, len), expected)),
                        httparse::Status::Partial => None,
                    },
                )
            })
            .map_err(bad)?
            .transpose()?;
            Ok(parsed)
        }
    }
}

/// What the framing headers of a head say.
#[derive(Default)]
pub(super) struct Fields<'a> {
    /// `Some(true)` if the last transfer coding is `chunked`.
    pub(super) chunked: Option<bool>,
    pub(super) length: Option<u64>,
    pub(super) connection: Option<&'a [u8]>,
    pub(super) upgrade: Option<&'a [u8]>,
}

pub(super) fn fields<'a>(headers: &[httparse::Header<'a>]) -> Result<Fields<'a>, DecodeError> {
    let mut f = Fields::default();
    for h in headers {
        let name = h.name.as_bytes();
        // Four names matter here: the length alone passes most others by.
        if !matches!(name.len(), 7 | 10 | 14 | 17) {
            continue;
        }
        let value = h.value.trim_ascii();
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
            f.chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = content_length(value).ok_or(DecodeError::Malformed("bad content-length"))?;
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

/// A `content-length` value: one or more digits, within `u64`.
fn content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        let digit = b.is_ascii_digit().then(|| u64::from(b - b'0'))?;
        n.checked_mul(10)?.checked_add(digit)
    })
}

/// A parsed block's own copy of its bytes, which its strings are slices of.
pub(super) struct Owner<'a> {
    /// What the parser read (the strings it hands out point into it).
    src: &'a [u8],
    copy: Rc<[u8]>,
    /// Every byte copied is ASCII (the usual head): no value needs its own UTF-8 check.
    ascii: bool,
}

impl<'a> Owner<'a> {
    /// A copy of the first `len` bytes of `src`: what outlives the parse.
    pub(super) fn copy(src: &'a [u8], len: usize) -> Owner<'a> {
        let copy: Rc<[u8]> = Rc::from(&src[..len]);
        Owner { src, ascii: copy.is_ascii(), copy }
    }

    /// The copy's text at the place of `part`, a slice of `src` within the copied length.
    fn text(&self, part: &str) -> Text {
        if part.is_empty() {
            return Text::new();
        }
        // Out of `src`, the offset is out of bounds (or wraps), which `Text::slice` refuses.
        let at = (part.as_ptr() as usize).wrapping_sub(self.src.as_ptr() as usize);
        Text::slice(&self.copy, at, part)
    }

    /// The copy's text at the place of `part`, when all the copy is ASCII.
    fn ascii_text(&self, part: &[u8]) -> Option<Text> {
        if !self.ascii {
            return None;
        }
        if part.is_empty() {
            return Some(Text::new());
        }
        let at = (part.as_ptr() as usize).wrapping_sub(self.src.as_ptr() as usize);
        let bytes = self.copy.get(at..at.checked_add(part.len())?)?;
        // SAFETY: every byte of the copy is ASCII, so any slice of it is UTF-8.
        Some(Text::slice(&self.copy, at, unsafe { std::str::from_utf8_unchecked(bytes) }))
    }

    fn header(&self, h: &httparse::Header<'_>) -> Header {
        let name = self.text(h.name);
        if let Some(value) = self.ascii_text(h.value) {
            return Header { name, value, raw: None };
        }
        match std::str::from_utf8(h.value) {
            Ok(v) => Header { name, value: self.text(v), raw: None },
            Err(_) => Header {
                name,
                value: String::from_utf8_lossy(h.value).into_owned().into(),
                raw: Some(Bytes::copy_from_slice(h.value)),
            },
        }
    }

    fn headers(&self, headers: &[httparse::Header<'_>]) -> Vec<Header> {
        headers.iter().map(|h| self.header(h)).collect()
    }
}

pub(super) fn protocol_of(version: Option<u8>) -> &'static str {
    if version == Some(0) { "HTTP/1.0" } else { "HTTP/1.1" }
}

fn protocol_text(version: Option<u8>) -> Text {
    if version == Some(0) { Text::from_static("HTTP/1.0") } else { Text::from_static("HTTP/1.1") }
}

pub(super) fn request(req: &httparse::Request<'_, '_>, owner: &Owner<'_>) -> Result<Parsed, DecodeError> {
    let len = owner.copy.len();
    let method = req.method.unwrap_or_default();
    let Some(known) = method_text(method) else {
        return Err(DecodeError::Malformed("unknown method"));
    };
    let f = fields(req.headers)?;
    let framing = match (f.chunked, f.length) {
        // RFC 9112 6.3: a smuggling attempt, as likely as not; refused rather than guessed.
        (Some(_), Some(_)) => return Err(DecodeError::Malformed("transfer-encoding with content-length")),
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) => return Err(DecodeError::Malformed("unsupported transfer-encoding")),
        (None, Some(n)) if n > 0 => Framing::Length(n),
        (None, _) => Framing::None,
    };
    let protocol = protocol_of(req.version);
    let (connection, upgrade) = (f.connection.map(String::from_utf8_lossy), f.upgrade.map(String::from_utf8_lossy));
    let info = RequestInfo::new(method, protocol, connection.as_deref(), upgrade.as_deref());
    let head = RequestHead {
        method: known,
        path: owner.text(req.path.unwrap_or_default()),
        protocol: protocol_text(req.version),
        headers: owner.headers(req.headers),
    };
    Ok(Parsed { head: AnyHead::Request(DecodedRequest { head, info }), len, framing, tunnel_after: false })
}

pub(super) fn response(
    res: &httparse::Response<'_, '_>,
    owner: &Owner<'_>,
    expected: &mut VecDeque<RequestInfo>,
) -> Result<Parsed, DecodeError> {
    let len = owner.copy.len();
    let status = res.code.unwrap_or_default();
    if !(100..600).contains(&status) {
        return Err(DecodeError::Malformed("bad status"));
    }
    let f = fields(res.headers)?;
    if f.chunked.is_some() && f.length.is_some() {
        return Err(DecodeError::Malformed("transfer-encoding with content-length"));
    }
    let interim = super::encode::is_interim(status);
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
        protocol: protocol_text(res.version),
        status,
        status_text: owner.text(res.reason.unwrap_or_default()),
        headers: owner.headers(res.headers),
    };
    Ok(Parsed { head: AnyHead::Response(DecodedResponse { head, info }), len, framing, tunnel_after: tunnel })
}

/// The largest chunk size taken: far beyond any real chunk, and no sum of sizes overflows.
const MAX_CHUNK_SIZE: u64 = 1 << 48;

/// The size in a complete chunk-size line (`1a;ext=v\r\n`); chunk extensions are ignored.
/// A bare LF ending the line (which Pipy takes) is refused: a server behind that reads the
/// line otherwise would frame the body differently (RFC 9112 7.1).
pub(super) fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    if !line.ends_with(b"\r\n") || line[..line.len() - 2].contains(&b'\n') {
        return None;
    }
    match httparse::parse_chunk_size(line) {
        Ok(httparse::Status::Complete((n, size))) if n == line.len() && size <= MAX_CHUNK_SIZE => Some(size),
        _ => None,
    }
}

/// The trailer fields in a block ending with an empty line.
pub(super) fn parse_trailers(block: &[u8], max: usize) -> Option<Vec<Header>> {
    if block == b"\r\n" || block == b"\n" {
        return Some(Vec::new());
    }
    with_headers(max, |headers| {
        Ok(match httparse::parse_headers(block, headers)? {
            httparse::Status::Complete((len, h)) => Some(Owner::copy(block, len).headers(h)),
            httparse::Status::Partial => None,
        })
    })
    .ok()
    .flatten()
}
