//! MIME multipart bodies (`multipart/*; boundary=...`) split into parts: each part's headers,
//! then its bytes, then its end, as Pipy's `decodeMultipart` splits them. A part that is
//! multipart itself is split in turn. Only the bytes that may begin a boundary are held.

use bytes::{Bytes, BytesMut};

/// Longest header block of one part kept; the rest of an overlong block is cut, as in Pipy.
const MAX_HEADER_SIZE: usize = 8 * 1024;
/// Multipart parts inside multipart parts, at most this deep; deeper ones are plain parts.
const MAX_NESTING: usize = 8;

#[derive(Debug, PartialEq)]
pub enum Part {
    /// A part begins, with its headers (names lowercase, in order).
    Start(Vec<(String, String)>),
    Data(Bytes),
    End,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    /// Just after a boundary: a CRLF begins a part, `--` ends the body.
    Start,
    Crlf,
    Header,
    Body,
    /// The preamble, the epilogue, or whatever follows a boundary that begins no part.
    Skip,
}

pub struct Decoder {
    /// `--` and the boundary.
    sep: Vec<u8>,
    /// Trailing bytes that may be the beginning of a boundary.
    pending: BytesMut,
    state: State,
    header: Vec<u8>,
    headers: Vec<(String, String)>,
    child: Option<Box<Decoder>>,
    depth: usize,
}

/// The boundary a `content-type` names, if it is a multipart one.
pub fn boundary(content_type: &str) -> Option<&str> {
    if content_type.len() > 1000 || !content_type.starts_with("multipart/") {
        return None;
    }
    let i = content_type.find("boundary=")?;
    Some(&content_type[i + "boundary=".len()..]).filter(|b| !b.is_empty())
}

impl Decoder {
    pub fn new(boundary: &str) -> Decoder {
        Decoder::nested(boundary, 0)
    }

    fn nested(boundary: &str, depth: usize) -> Decoder {
        let sep = [b"--", boundary.as_bytes()].concat();
        Decoder {
            sep,
            pending: BytesMut::new(),
            state: State::Skip,
            header: Vec::new(),
            headers: Vec::new(),
            child: None,
            depth,
        }
    }

    /// Takes more body bytes and appends what they complete to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Part>) {
        self.pending.extend_from_slice(data);
        let buf = self.pending.split().freeze();
        let mut from = 0;
        while let Some(i) = find(&buf[from..], &self.sep) {
            self.segment(&buf.slice(from..from + i), out);
            self.at_boundary(out);
            from += i + self.sep.len();
        }
        // Keep only the tail that could still turn out to be a boundary.
        let keep = partial_suffix(&buf[from..], &self.sep);
        let cut = buf.len() - keep;
        self.segment(&buf.slice(from..cut), out);
        self.pending.extend_from_slice(&buf[cut..]);
    }

    /// The body ended: what was held is part of the last part, which ends here.
    pub fn end(&mut self, out: &mut Vec<Part>) {
        let rest = self.pending.split().freeze();
        self.segment(&rest, out);
        self.at_boundary(out);
    }

    fn at_boundary(&mut self, out: &mut Vec<Part>) {
        if self.state == State::Body {
            match self.child.take() {
                Some(mut child) => child.end(out),
                None => out.push(Part::End),
            }
        }
        self.state = State::Start;
        self.header.clear();
        self.headers.clear();
    }

    fn segment(&mut self, data: &Bytes, out: &mut Vec<Part>) {
        let mut i = 0;
        while i < data.len() {
            match self.state {
                State::Start => {
                    self.state = match data[i] {
                        b'\r' => State::Crlf,
                        _ => State::Skip,
                    };
                    i += 1;
                }
                State::Crlf => {
                    self.state = if data[i] == b'\n' { State::Header } else { State::Skip };
                    i += 1;
                }
                State::Header => {
                    let line_end = data[i..].iter().position(|&b| b == b'\n');
                    let end = line_end.map_or(data.len(), |n| i + n + 1);
                    let room = MAX_HEADER_SIZE.saturating_sub(self.header.len());
                    self.header.extend_from_slice(&data[i..end.min(i + room)]);
                    i = end;
                    if line_end.is_some() {
                        self.header_line(out);
                    }
                }
                State::Body => {
                    let rest = data.slice(i..);
                    match &mut self.child {
                        Some(child) => child.feed(&rest, out),
                        None => out.push(Part::Data(rest)),
                    }
                    return;
                }
                State::Skip => return,
            }
        }
    }

    /// A whole header line is in `header`: a header, or the empty line that ends them.
    fn header_line(&mut self, out: &mut Vec<Part>) {
        let line = std::mem::take(&mut self.header);
        if line.len() > 2 {
            let text = String::from_utf8_lossy(&line);
            if let Some((name, value)) = text.split_once(':') {
                let value = value.trim_start_matches([' ', '\t']).trim_end_matches(['\r', '\n']);
                self.headers.push((name.to_ascii_lowercase(), value.to_string()));
            }
            return;
        }
        let content_type = self.headers.iter().find(|(n, _)| n == "content-type").map(|(_, v)| v.as_str());
        self.child = match content_type.and_then(boundary) {
            Some(b) if self.depth < MAX_NESTING => Some(Box::new(Decoder::nested(b, self.depth + 1))),
            _ => None,
        };
        if self.child.is_none() {
            out.push(Part::Start(std::mem::take(&mut self.headers)));
        }
        self.state = State::Body;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// How many bytes at the end of `buf` are the beginning of `sep`.
fn partial_suffix(buf: &[u8], sep: &[u8]) -> usize {
    (1..sep.len().min(buf.len() + 1)).rev().find(|&n| buf[buf.len() - n..] == sep[..n]).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const BODY: &[u8] =
        b"preamble\r\n--xyz\r\nContent-Type: text/plain\r\nX-A: 1\r\n\r\nfirst -- part\r\n--xy\r\n--xyz\r\n\
Content-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\nA: b\r\n\r\ninner\r\n--in--\r\n\r\n--xyz--\r\nepilogue";

    fn decode_split(input: &[u8], cuts: &[usize]) -> Vec<Part> {
        let mut d = Decoder::new("xyz");
        let mut out = Vec::new();
        let mut from = 0;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            let c = c.clamp(from, input.len());
            d.feed(&input[from..c], &mut out);
            from = c;
        }
        d.end(&mut out);
        // Where the data is cut depends on the reads; what it says does not.
        let mut merged: Vec<Part> = Vec::new();
        for p in out {
            match (merged.last_mut(), p) {
                (Some(Part::Data(a)), Part::Data(b)) => *a = [&a[..], &b[..]].concat().into(),
                (_, Part::Data(b)) if b.is_empty() => {}
                (_, p) => merged.push(p),
            }
        }
        merged
    }

    #[test]
    fn parts_and_nested_parts_come_out_with_their_headers() {
        let h = |pairs: &[(&str, &str)]| pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(
            decode_split(BODY, &[]),
            vec![
                Part::Start(h(&[("content-type", "text/plain"), ("x-a", "1")])),
                Part::Data(Bytes::from_static(b"first -- part\r\n--xy\r\n")),
                Part::End,
                Part::Start(h(&[("a", "b")])),
                Part::Data(Bytes::from_static(b"inner\r\n")),
                Part::End,
            ]
        );
        assert_eq!(boundary("multipart/form-data; boundary=abc"), Some("abc"));
        assert_eq!(boundary("text/plain; boundary=abc"), None);
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_parts(cuts in proptest::collection::vec(0..BODY.len(), 0..8)) {
            let mut cuts = cuts;
            cuts.sort();
            prop_assert_eq!(decode_split(BODY, &cuts), decode_split(BODY, &[]));
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_split_the_same(
            input in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'-'), Just(b'x'), Just(b'y'), Just(b'z'), Just(b':'), any::<u8>()], 0..96),
            cut in 0..96usize,
        ) {
            prop_assert_eq!(decode_split(&input, &[cut]), decode_split(&input, &[]));
        }
    }
}
