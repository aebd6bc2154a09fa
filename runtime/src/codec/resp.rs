//! RESP (the Redis protocol): values as [`Tree`]s. Simple strings are `Str`, errors `Error`,
//! integers `Number`, bulk strings `Data`, arrays `Array`, and the null bulk string or array
//! `Null`, as Pipy's `RESP` reads them.

use bytes::{Buf, Bytes, BytesMut};

use super::tree::Tree;

/// Arrays nested deeper than this are refused rather than risk the stack.
const MAX_DEPTH: usize = 256;

#[derive(Debug, PartialEq)]
pub enum DecodeError {
    /// Bytes that are not RESP.
    Malformed,
    /// A value bigger than the decoder may hold.
    TooBig,
}

/// A streaming decoder: bytes in, whole top-level values out, however the bytes are split.
/// Arrays are built up element by element as their bytes come, so no byte is parsed twice.
pub struct Decoder {
    buf: BytesMut,
    /// The arrays begun and not finished, innermost last: elements still to come, and those
    /// already there.
    open: Vec<(usize, Vec<Tree>)>,
    /// Bytes of the current value already parsed into `open`.
    held: usize,
    limit: usize,
}

/// One step of parsing: a whole scalar, or the head of an array.
enum Step {
    Value(Tree, usize),
    Array(usize, usize),
    /// Not all there yet; at least this many bytes in all are needed.
    Short(usize),
}

impl Decoder {
    /// A decoder that holds at most `limit` bytes of one value.
    pub fn new(limit: usize) -> Decoder {
        Decoder { buf: BytesMut::new(), open: Vec::new(), held: 0, limit }
    }

    /// Takes more input and appends the values it completed to `out`, those before an error
    /// too.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Tree>) -> Result<(), DecodeError> {
        self.buf.extend_from_slice(data);
        while !self.buf.is_empty() {
            let (tree, n) = match step(&self.buf)? {
                Step::Short(need) => {
                    if self.held.saturating_add(need) > self.limit.saturating_add(1) {
                        return Err(DecodeError::TooBig);
                    }
                    break;
                }
                Step::Value(tree, n) => (tree, n),
                Step::Array(0, n) => (Tree::Array(Vec::new()), n),
                Step::Array(len, n) => {
                    if self.open.len() >= MAX_DEPTH {
                        return Err(DecodeError::TooBig);
                    }
                    // Each element is at least 3 bytes: a claimed length says nothing of what will come.
                    self.open.push((len, Vec::with_capacity(len.min(self.buf.len() / 3))));
                    self.consume(n)?;
                    continue;
                }
            };
            self.consume(n)?;
            self.complete(tree, out);
        }
        if self.held.saturating_add(self.buf.len()) > self.limit {
            return Err(DecodeError::TooBig);
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) -> Result<(), DecodeError> {
        self.buf.advance(n);
        self.held += n;
        if self.held > self.limit { Err(DecodeError::TooBig) } else { Ok(()) }
    }

    /// A value is whole: it is the next element of the innermost open array, or a top-level
    /// value of its own.
    fn complete(&mut self, mut tree: Tree, out: &mut Vec<Tree>) {
        loop {
            let Some((left, items)) = self.open.last_mut() else {
                self.held = 0;
                return out.push(tree);
            };
            items.push(tree);
            *left -= 1;
            if *left > 0 {
                return;
            }
            let (_, items) = self.open.pop().unwrap_or_default();
            tree = Tree::Array(items);
        }
    }

    /// Whether a value was begun and not finished.
    pub fn is_partial(&self) -> bool {
        !self.buf.is_empty() || !self.open.is_empty()
    }
}

/// The line from `at` to its CRLF: the line, and where the next one starts.
fn line(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, DecodeError> {
    let rest = &buf[at..];
    match rest.iter().position(|&b| b == b'\r') {
        None => Ok(None),
        Some(i) if i + 1 == rest.len() => Ok(None),
        Some(i) if rest[i + 1] == b'\n' => Ok(Some((&rest[..i], at + i + 2))),
        Some(_) => Err(DecodeError::Malformed),
    }
}

fn integer(text: &[u8]) -> Result<i64, DecodeError> {
    let s = std::str::from_utf8(text).map_err(|_| DecodeError::Malformed)?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::Malformed);
    }
    s.parse().map_err(|_| DecodeError::Malformed)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses a scalar, or the head of an array, at the start of `buf`.
fn step(buf: &[u8]) -> Result<Step, DecodeError> {
    let kind = buf[0];
    if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(DecodeError::Malformed);
    }
    let Some((body, next)) = line(buf, 1)? else { return Ok(Step::Short(buf.len() + 1)) };
    let tree = match kind {
        b'+' => Tree::Str(text(body)),
        b'-' => Tree::Error(text(body)),
        b':' => Tree::Number(integer(body)? as f64),
        b'$' => return bulk(buf, next, integer(body)?),
        _ => match integer(body)? {
            -1 => Tree::Null,
            len => return Ok(Step::Array(usize::try_from(len).map_err(|_| DecodeError::Malformed)?, next)),
        },
    };
    Ok(Step::Value(tree, next))
}

fn bulk(buf: &[u8], at: usize, len: i64) -> Result<Step, DecodeError> {
    if len == -1 {
        return Ok(Step::Value(Tree::Null, at));
    }
    let len = usize::try_from(len).map_err(|_| DecodeError::Malformed)?;
    let end = at.checked_add(len).and_then(|e| e.checked_add(2)).ok_or(DecodeError::TooBig)?;
    if buf.len() < end {
        return Ok(Step::Short(end));
    }
    if &buf[at + len..end] != b"\r\n" {
        return Err(DecodeError::Malformed);
    }
    Ok(Step::Value(Tree::Data(Bytes::copy_from_slice(&buf[at..at + len])), end))
}

/// Appends the RESP for `tree`: strings simple, numbers integers (truncated), `Data`
/// bulk strings, errors error replies, null and undefined the null bulk string, anything
/// else its text as a simple string, as Pipy's `RESP.encode` writes them.
pub fn encode(tree: &Tree, out: &mut Vec<u8>) {
    match tree {
        Tree::Str(s) => simple(out, b'+', s),
        Tree::Number(n) => out.extend_from_slice(format!(":{}\r\n", *n as i64).as_bytes()),
        Tree::Int(i) => out.extend_from_slice(format!(":{i}\r\n").as_bytes()),
        Tree::Array(items) => {
            out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            items.iter().for_each(|t| encode(t, out));
        }
        Tree::Data(d) => {
            out.extend_from_slice(format!("${}\r\n", d.len()).as_bytes());
            out.extend_from_slice(d);
            out.extend_from_slice(b"\r\n");
        }
        Tree::Error(m) => simple(out, b'-', m),
        Tree::Null | Tree::Undefined => out.extend_from_slice(b"$-1\r\n"),
        other => simple(out, b'+', &other.text()),
    }
}

fn simple(out: &mut Vec<u8>, kind: u8, s: &str) {
    out.push(kind);
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SAMPLE: &[u8] = b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n*2\r\n:-12\r\n$-1\r\n+OK\r\n-ERR no\r\n:7\r\n*-1\r\n";

    /// The values, and the error that stopped the decoder if one did.
    fn decode_split(input: &[u8], cuts: &[usize]) -> (Vec<Tree>, Option<DecodeError>) {
        let mut d = Decoder::new(1 << 20);
        let mut out = Vec::new();
        let mut from = 0;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            let c = c.clamp(from, input.len());
            if let Err(e) = d.feed(&input[from..c], &mut out) {
                return (out, Some(e));
            }
            from = c;
        }
        (out, None)
    }

    #[test]
    fn known_values_decode_and_encode_back_to_the_same_bytes() {
        let (values, error) = decode_split(SAMPLE, &[]);
        assert_eq!(error, None);
        assert_eq!(values.len(), 5);
        assert_eq!(
            values[0],
            Tree::Array(vec![
                Tree::Data(Bytes::from_static(b"SET")),
                Tree::Data(Bytes::new()),
                Tree::Array(vec![Tree::Number(-12.0), Tree::Null])
            ])
        );
        assert_eq!(values[2], Tree::Error("ERR no".into()));
        let mut out = Vec::new();
        values.iter().for_each(|v| encode(v, &mut out));
        // The null array comes back as the null bulk string, as in Pipy.
        assert_eq!(out, [&SAMPLE[..SAMPLE.len() - 5], b"$-1\r\n"].concat());
    }

    #[test]
    fn malformed_and_oversized_input_is_refused() {
        let (values, error) = decode_split(b"+fine\r\n?x\r\n", &[]);
        assert_eq!((values, error), (vec![Tree::Str("fine".into())], Some(DecodeError::Malformed)));
        assert_eq!(decode_split(b"$3\r\nabcd\r\n", &[]).1, Some(DecodeError::Malformed));
        assert_eq!(decode_split(b":1x\r\n", &[]).1, Some(DecodeError::Malformed));
        let mut d = Decoder::new(64);
        assert_eq!(d.feed(b"$1000\r\n", &mut Vec::new()).err(), Some(DecodeError::TooBig));
        let deep = "*1\r\n".repeat(MAX_DEPTH + 1);
        assert_eq!(Decoder::new(1 << 20).feed(deep.as_bytes(), &mut Vec::new()).err(), Some(DecodeError::TooBig));
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_values(cuts in proptest::collection::vec(0..SAMPLE.len(), 0..8)) {
            let mut cuts = cuts;
            cuts.sort();
            prop_assert_eq!(decode_split(SAMPLE, &cuts), decode_split(SAMPLE, &[]));
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_split_the_same(
            input in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'*'), Just(b'$'), Just(b'1'), Just(b'-'), any::<u8>()], 0..64),
            cut in 0..64usize,
        ) {
            prop_assert_eq!(decode_split(&input, &[cut]), decode_split(&input, &[]));
        }
    }
}
