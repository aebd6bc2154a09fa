//! HTTP/1.x heads, a streaming decoder and an encoder.
//!
//! Pure byte work: no pipelines, no JS, no I/O. The decoders are fed [`Bytes`] in any
//! segmentation and are pulled for [`Item`]s; bodies come out as slices of the input, never
//! copied. The [`Encoder`] turns a head, body chunks and an end into the bytes Pipy writes.

mod decode;
mod decoded;
pub(crate) mod encode;
mod parse;
mod text;

pub use decode::*;
pub use decoded::*;
pub use encode::*;
pub use text::Text;

/// One header line as received: `name` keeps its original spelling.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    pub name: Text,
    /// The value as text (bytes that are not UTF-8 show as U+FFFD).
    pub value: Text,
    /// The value's bytes as received, when they are not UTF-8: written out unchanged.
    pub raw: Option<bytes::Bytes>,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Header");
        d.field("name", &self.name).field("value", &self.value);
        if let Some(raw) = &self.raw {
            d.field("raw", raw);
        }
        d.finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Text,
    pub path: Text,
    pub protocol: Text,
    /// Every header line in order, `connection` included.
    pub headers: Vec<Header>,
}

/// What Pipy takes for a request head a script left out or left incomplete: `GET / HTTP/1.1`.
impl Default for RequestHead {
    fn default() -> RequestHead {
        RequestHead {
            method: Text::from_static("GET"),
            path: Text::from_static("/"),
            protocol: Text::from_static("HTTP/1.1"),
            headers: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    pub protocol: Text,
    pub status: u16,
    pub status_text: Text,
    /// Every header line in order, `connection` included.
    pub headers: Vec<Header>,
}

/// What Pipy takes for a response head a script left out or left incomplete: `HTTP/1.1 200`.
impl Default for ResponseHead {
    fn default() -> ResponseHead {
        ResponseHead {
            protocol: Text::from_static("HTTP/1.1"),
            status: 200,
            status_text: Text::new(),
            headers: Vec::new(),
        }
    }
}

impl Header {
    pub fn new(name: impl Into<Text>, value: impl Into<Text>) -> Header {
        Header { name: name.into(), value: value.into(), raw: None }
    }

    /// A header from the bytes of its value, kept as they are if they are not UTF-8.
    pub fn from_bytes(name: impl Into<Text>, value: &[u8]) -> Header {
        match std::str::from_utf8(value) {
            Ok(v) => Header::new(name, v),
            Err(_) => Header {
                name: name.into(),
                value: String::from_utf8_lossy(value).into_owned().into(),
                raw: Some(bytes::Bytes::copy_from_slice(value)),
            },
        }
    }

    /// The value's bytes to write.
    pub fn bytes(&self) -> &[u8] {
        self.raw.as_deref().unwrap_or(self.value.as_bytes())
    }

    /// Headers from names and value bytes, their text copied into one buffer that all
    /// share (as a decoded head's are) instead of an allocation per name and per value.
    /// `fields` gives the same fields each time it is called.
    pub fn list<'a, I>(fields: impl Fn() -> I) -> Vec<Header>
    where
        I: Iterator<Item = (&'a str, &'a [u8])>,
    {
        let len = fields().map(|(n, v)| n.len() + v.len()).sum::<usize>();
        let mut copy = Vec::with_capacity(len);
        fields().for_each(|(n, v)| {
            copy.extend_from_slice(n.as_bytes());
            copy.extend_from_slice(v);
        });
        let buf: std::rc::Rc<[u8]> = copy.into();
        let mut at = 0;
        let mut headers = Vec::with_capacity(fields().size_hint().0);
        for (n, v) in fields() {
            let name = Text::slice(&buf, at, n);
            at += n.len();
            headers.push(match std::str::from_utf8(v) {
                Ok(v) => Header { name, value: Text::slice(&buf, at, v), raw: None },
                Err(_) => Header::from_bytes(name, v),
            });
            at += v.len();
        }
        headers
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

    /// Whether the client waits for a `100 Continue` before it sends the body.
    pub fn expects_continue(&self) -> bool {
        self.header("expect").is_some_and(|e| e.trim().eq_ignore_ascii_case("100-continue"))
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
    ResponseHead {
        protocol: Text::from_static("HTTP/1.1"),
        status,
        status_text: Text::from_static(text),
        headers: Vec::new(),
    }
}

#[cfg(test)]
mod head_tests;
#[cfg(test)]
mod prop;
#[cfg(test)]
mod tests;
