//! Netlink message framing (`struct nlmsghdr`, linux/netlink.h): a 16-byte header in host
//! byte order — total length (header included), type, flags, sequence number, port id —
//! then the payload.
//!
//! As in Pipy, messages follow each other with no alignment padding skipped: rtnetlink's
//! payloads are all multiples of 4 bytes, so there is none to skip.

use bytes::{BufMut, Bytes, BytesMut};

pub const HEADER_LEN: usize = 16;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

impl Header {
    /// The header and `body` as one message, or `None` when the total length does not fit
    /// the header's 32-bit length field.
    pub fn encode(&self, body: &[u8]) -> Option<Bytes> {
        let len = u32::try_from(HEADER_LEN + body.len()).ok()?;
        let mut out = BytesMut::with_capacity(HEADER_LEN + body.len());
        out.put_u32_ne(len);
        out.put_u16_ne(self.kind);
        out.put_u16_ne(self.flags);
        out.put_u32_ne(self.seq);
        out.put_u32_ne(self.pid);
        out.put_slice(body);
        Some(out.freeze())
    }

    fn parse(b: &[u8; HEADER_LEN]) -> (u32, Header) {
        let u32_at = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        (u32_at(0), Header { kind: u16_at(4), flags: u16_at(6), seq: u32_at(8), pid: u32_at(12) })
    }
}

/// What the decoder makes of its input, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    Start(Header),
    /// Part of the current message's payload, as it came in.
    Body(Bytes),
    End,
}

/// A message whose length field is shorter than its own header.
#[derive(Debug, PartialEq, Eq)]
pub struct BadLength(pub u32);

impl std::fmt::Display for BadLength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "netlink message length {} is shorter than its {HEADER_LEN}-byte header", self.0)
    }
}

/// A streaming decoder: input may be split anywhere. It holds at most one partial header;
/// payload bytes are handed on as they come, so its memory is bounded whatever the lengths.
#[derive(Default)]
pub struct Decoder {
    header: [u8; HEADER_LEN],
    filled: usize,
    /// Payload bytes of the current message still to come.
    remaining: usize,
    in_body: bool,
}

impl Decoder {
    /// Decodes `data`, handing each piece to `out`. After an error the decoder is unusable.
    pub fn feed(&mut self, mut data: Bytes, out: &mut impl FnMut(Piece)) -> Result<(), BadLength> {
        while !data.is_empty() {
            if self.in_body {
                let n = self.remaining.min(data.len());
                out(Piece::Body(data.split_to(n)));
                self.remaining -= n;
                if self.remaining == 0 {
                    self.in_body = false;
                    out(Piece::End);
                }
                continue;
            }
            let n = (HEADER_LEN - self.filled).min(data.len());
            self.header[self.filled..self.filled + n].copy_from_slice(&data.split_to(n));
            self.filled += n;
            if self.filled < HEADER_LEN {
                break;
            }
            self.filled = 0;
            let (len, head) = Header::parse(&self.header);
            let Some(payload) = (len as usize).checked_sub(HEADER_LEN) else { return Err(BadLength(len)) };
            out(Piece::Start(head));
            if payload == 0 {
                out(Piece::End);
            } else {
                self.remaining = payload;
                self.in_body = true;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A whole message: its head and payload.
    type Whole = (Header, Vec<u8>);

    /// Decodes `chunks` one after another; pieces with the payload parts of each message
    /// joined, so that different splits compare equal.
    fn decode(chunks: &[&[u8]]) -> (Vec<Whole>, Result<(), BadLength>) {
        let mut d = Decoder::default();
        let mut msgs: Vec<(Header, Vec<u8>, bool)> = Vec::new();
        let mut result = Ok(());
        for c in chunks {
            result = d.feed(Bytes::copy_from_slice(c), &mut |p| match p {
                Piece::Start(h) => msgs.push((h, Vec::new(), false)),
                Piece::Body(b) => msgs.last_mut().unwrap().1.extend_from_slice(&b),
                Piece::End => msgs.last_mut().unwrap().2 = true,
            });
            if result.is_err() {
                break;
            }
        }
        (msgs.into_iter().filter(|m| m.2).map(|(h, b, _)| (h, b)).collect(), result)
    }

    fn head(kind: u16) -> Header {
        Header { kind, flags: 0x301, seq: 7, pid: 42 }
    }

    #[test]
    fn encodes_the_length_with_the_header() {
        let m = head(18).encode(&[1, 2, 3, 4]).unwrap();
        assert_eq!(m.len(), 20);
        assert_eq!(u32::from_ne_bytes(m[..4].try_into().unwrap()), 20);
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), 18);
        assert_eq!(u16::from_ne_bytes(m[6..8].try_into().unwrap()), 0x301);
        assert_eq!(&m[16..], &[1, 2, 3, 4]);
    }

    #[test]
    fn decodes_back_to_back_messages_and_empty_payloads() {
        let mut bytes = head(16).encode(b"abcd").unwrap().to_vec();
        bytes.extend_from_slice(&head(3).encode(b"").unwrap());
        let (msgs, r) = decode(&[&bytes]);
        assert_eq!(r, Ok(()));
        assert_eq!(msgs, vec![(head(16), b"abcd".to_vec()), (head(3), Vec::new())]);
    }

    #[test]
    fn a_length_shorter_than_the_header_is_an_error() {
        let mut bytes = head(16).encode(b"").unwrap().to_vec();
        bytes[..4].copy_from_slice(&15u32.to_ne_bytes());
        assert_eq!(decode(&[&bytes]).1, Err(BadLength(15)));
    }

    #[test]
    fn a_partial_header_is_held_not_decoded() {
        let bytes = head(16).encode(b"abcd").unwrap();
        let (msgs, r) = decode(&[&bytes[..10]]);
        assert_eq!((msgs.len(), r), (0, Ok(())));
    }

    proptest! {
        /// Any split of any series of messages decodes to the same messages.
        #[test]
        fn splitting_anywhere_gives_the_same_messages(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..6),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut bytes = Vec::new();
            for (i, b) in bodies.iter().enumerate() {
                bytes.extend_from_slice(&head(i as u16).encode(b).unwrap());
            }
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            at.sort_unstable();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut from = 0;
            for a in at {
                chunks.push(&bytes[from..a]);
                from = a;
            }
            chunks.push(&bytes[from..]);
            let (msgs, r) = decode(&chunks);
            prop_assert_eq!(r, Ok(()));
            let want: Vec<_> = bodies.iter().enumerate().map(|(i, b)| (head(i as u16), b.clone())).collect();
            prop_assert_eq!(msgs, want);
        }
    }
}
