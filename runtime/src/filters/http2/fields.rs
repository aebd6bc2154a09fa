//! Header blocks of the server side: HPACK (RFC 7541, the `loona-hpack` crate) between a
//! connection's blocks and our heads, with HTTP/2's rules for fields (RFC 9113 8.2, 8.3).
//! The decoded fields go into one scratch buffer the connection keeps, and from there into
//! one buffer per head (`Header::list`): no allocation per field.

use loona_hpack::encoder::encode_integer_into;
use loona_hpack::{Decoder, Encoder};

use crate::codec::http1::{Header, RequestHead, ResponseHead, Text};

/// The most bytes of header fields a request may have, as RFC 9113 6.5.2 counts them
/// (SETTINGS_MAX_HEADER_LIST_SIZE).
pub const MAX_HEADER_LIST: usize = 64 << 10;
/// HPACK's default table size, the largest this side lets either table be.
const TABLE_SIZE: usize = 4096;
const PROTOCOL: &str = "HTTP/2";

/// What a request's header block says.
pub enum Request {
    Head {
        head: RequestHead,
        connect: bool,
    },
    /// Not a valid HTTP/2 request (a stream error).
    Malformed(&'static str),
    /// Over [`MAX_HEADER_LIST`].
    TooBig,
}

/// The block could not be decoded: the connection's table is lost (COMPRESSION_ERROR).
pub struct Broken;

pub struct Hpack {
    decoder: Decoder<'static>,
    encoder: Encoder<'static>,
    /// A smaller table the client asked for, announced at the start of the next block.
    resize: Option<usize>,
    /// The decoded names and values, one after the other, and where each field is.
    buf: Vec<u8>,
    fields: Vec<(usize, usize, usize)>,
    /// The block being encoded.
    pub block: Vec<u8>,
    /// A name written in lower case.
    lower: Vec<u8>,
}

impl Hpack {
    pub fn new() -> Hpack {
        let mut decoder = Decoder::new();
        decoder.set_max_allowed_table_size(TABLE_SIZE);
        let (buf, fields, block, lower) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        Hpack { decoder, encoder: Encoder::new(), resize: None, buf, fields, block, lower }
    }

    /// The client's SETTINGS_HEADER_TABLE_SIZE: the encoder's table is made to fit.
    pub fn set_peer_table_size(&mut self, n: usize) {
        let n = n.min(TABLE_SIZE);
        self.encoder.set_max_table_size(n);
        self.resize = Some(n);
    }

    /// Decodes `block` into the scratch fields; `false` when they are over the limit.
    fn decode(&mut self, block: &[u8]) -> Result<bool, Broken> {
        self.buf.clear();
        self.fields.clear();
        let (buf, fields) = (&mut self.buf, &mut self.fields);
        let mut size = 0;
        let decoded = self.decoder.decode_with_cb(block, |n, v| {
            size += n.len() + v.len() + 32;
            if size <= MAX_HEADER_LIST {
                fields.push((buf.len(), n.len(), v.len()));
                buf.extend_from_slice(&n);
                buf.extend_from_slice(&v);
            }
        });
        decoded.map_err(|_| Broken)?;
        Ok(size <= MAX_HEADER_LIST)
    }

    fn field(&self, i: usize) -> (&[u8], &[u8]) {
        let (at, n, v) = self.fields[i];
        (&self.buf[at..at + n], &self.buf[at + n..at + n + v])
    }

    /// The regular fields after the first `from`, as header lines, `host` first from
    /// `authority` when there is no `host` (as Pipy gives `:authority` to scripts).
    fn headers(&self, from: usize, authority: Option<&[u8]>) -> Result<Vec<Header>, &'static str> {
        for i in from..self.fields.len() {
            let (n, v) = self.field(i);
            if n.first() == Some(&b':') {
                return Err("pseudo-header after a regular field");
            }
            if !valid_name(n) || !valid_value(v) || (is_connection_specific(n) && !(n == b"te" && v == b"trailers")) {
                return Err("invalid field");
            }
        }
        let has_host = (from..self.fields.len()).any(|i| self.field(i).0 == b"host");
        let host = authority.filter(|_| !has_host).map(|a| ("host", a));
        Ok(Header::list(|| {
            let rest = (from..self.fields.len()).map(|i| self.field(i));
            host.into_iter().chain(rest.map(|(n, v)| (std::str::from_utf8(n).unwrap_or_default(), v)))
        }))
    }

    /// A request's header block.
    pub fn request(&mut self, block: &[u8]) -> Result<Request, Broken> {
        if !self.decode(block)? {
            return Ok(Request::TooBig);
        }
        let (mut method, mut path, mut authority, mut scheme) = (None, None, None, None);
        let mut k = 0;
        while k < self.fields.len() {
            let (n, v) = self.field(k);
            let slot = match n {
                b":method" => &mut method,
                b":path" => &mut path,
                b":authority" => &mut authority,
                b":scheme" => &mut scheme,
                [b':', ..] => return Ok(Request::Malformed("unknown pseudo-header")),
                _ => break,
            };
            if slot.replace(v).is_some() || !valid_value(v) {
                return Ok(Request::Malformed("pseudo-header repeated or invalid"));
            }
            k += 1;
        }
        let Some(method) = method.and_then(|m| std::str::from_utf8(m).ok()) else {
            return Ok(Request::Malformed("no :method"));
        };
        let connect = method == "CONNECT";
        let path = match connect {
            true => authority,
            false => path.filter(|p| !p.is_empty() && scheme.is_some()),
        };
        let Some(path) = path.and_then(|p| std::str::from_utf8(p).ok()) else {
            return Ok(Request::Malformed("no :path, :scheme or :authority"));
        };
        let headers = match self.headers(k, authority) {
            Ok(h) => h,
            Err(e) => return Ok(Request::Malformed(e)),
        };
        let head =
            RequestHead { method: method.into(), path: path.into(), protocol: Text::from_static(PROTOCOL), headers };
        Ok(Request::Head { head, connect })
    }

    /// A trailer block: `None` when it is not valid.
    pub fn trailers(&mut self, block: &[u8]) -> Result<Option<Vec<Header>>, Broken> {
        if !self.decode(block)? {
            return Ok(None);
        }
        Ok(self.headers(0, None).ok())
    }

    fn start_block(&mut self) {
        self.block.clear();
        if let Some(n) = self.resize.take() {
            let _ = encode_integer_into(n, 5, 0x20, &mut self.block);
        }
    }

    /// Encodes `fields` after what the block has; those HTTP/2 cannot carry are left out.
    fn encode<'a>(&mut self, fields: impl Iterator<Item = (&'a [u8], &'a [u8])>) {
        for (n, v) in fields {
            if !valid_value(v) || is_connection_specific(n) || n.is_empty() || n[0] == b':' {
                continue;
            }
            let name = match n.iter().any(u8::is_ascii_uppercase) {
                false => n,
                true => {
                    self.lower.clear();
                    self.lower.extend(n.iter().map(u8::to_ascii_lowercase));
                    &self.lower[..]
                }
            };
            if valid_name(name) {
                let _ = self.encoder.encode_header_into((name, v), &mut self.block);
            }
        }
    }

    /// A response head as a header block, in [`Hpack::block`].
    pub fn response(&mut self, head: &ResponseHead) {
        self.start_block();
        let mut status = itoa::Buffer::new();
        let status = status.format(head.status.clamp(100, 999));
        let _ = self.encoder.encode_header_into((b":status", status.as_bytes()), &mut self.block);
        self.encode(head.headers.iter().map(|h| (h.name.as_bytes(), h.bytes())));
    }

    /// Trailers as a header block, in [`Hpack::block`].
    pub fn trailer_block(&mut self, headers: &[Header]) {
        self.start_block();
        self.encode(headers.iter().map(|h| (h.name.as_bytes(), h.bytes())));
    }
}

/// Fields HTTP/2 forbids (RFC 9113 8.2.2); `te` is allowed as `trailers` only.
pub fn is_connection_specific(name: &[u8]) -> bool {
    [&b"connection"[..], b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"te", b"http2-settings"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

/// A field name: token characters, lower case (RFC 9113 8.2.1).
fn valid_name(n: &[u8]) -> bool {
    !n.is_empty() && n.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// A field value: no NUL, CR or LF (RFC 9113 8.2.1).
fn valid_value(v: &[u8]) -> bool {
    !v.iter().any(|&c| c == 0 || c == b'\r' || c == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(fields: &[(&str, &str)]) -> Vec<u8> {
        Encoder::new().encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    fn request(fields: &[(&str, &str)]) -> Request {
        Hpack::new().request(&block(fields)).ok().unwrap()
    }

    #[test]
    fn a_request_block_becomes_a_head_with_host_from_authority() {
        let r =
            request(&[(":method", "GET"), (":scheme", "http"), (":authority", "a.b"), (":path", "/x?y"), ("x-k", "v")]);
        let Request::Head { head, connect: false } = r else { panic!("not a head") };
        assert_eq!((head.method.as_str(), head.path.as_str(), head.protocol.as_str()), ("GET", "/x?y", "HTTP/2"));
        assert_eq!(head.header("host"), Some("a.b"));
        assert_eq!(head.headers.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["host", "x-k"]);
        let r = request(&[(":method", "CONNECT"), (":authority", "a.b:443")]);
        assert!(matches!(r, Request::Head { head, connect: true } if head.path.as_str() == "a.b:443"));
    }

    #[test]
    fn malformed_requests_are_told() {
        let get = [(":method", "GET"), (":scheme", "http"), (":path", "/")];
        assert!(matches!(request(&get[..2]), Request::Malformed(_)));
        assert!(matches!(request(&[get[0], get[1], get[2], ("Upper", "x")]), Request::Malformed(_)));
        assert!(matches!(request(&[get[0], get[1], get[2], ("connection", "x")]), Request::Malformed(_)));
        assert!(matches!(request(&[get[0], ("x", "y"), get[1], get[2]]), Request::Malformed(_)));
        let big = "v".repeat(MAX_HEADER_LIST);
        assert!(matches!(request(&[get[0], get[1], get[2], ("x", &big)]), Request::TooBig));
        assert!(Hpack::new().request(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn a_response_is_encoded_lower_case_without_connection_fields_and_read_back() {
        let mut hpack = Hpack::new();
        let head = ResponseHead {
            protocol: Text::from_static("HTTP/1.1"),
            status: 200,
            status_text: Text::new(),
            headers: vec![Header::new("Content-Type", "text/plain"), Header::new("connection", "close")],
        };
        hpack.set_peer_table_size(0);
        hpack.response(&head);
        assert_eq!(hpack.block[0], 0x20, "the table size update comes first");
        let fields = Decoder::new().decode(&hpack.block).unwrap();
        let fields: Vec<_> = fields.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        assert_eq!(fields, [(&b":status"[..], &b"200"[..]), (b"content-type", b"text/plain")]);
    }
}
