//! Dubbo framing: a 16-byte header — magic `0xdabb`, a flags byte (request, two-way, event,
//! and the serialization id in the low 5 bits), a status byte, a 64-bit request id and a
//! 32-bit body length, all big-endian — then the body (Hessian, for the usual
//! serialization id 2).

use bytes::{BufMut, Bytes, BytesMut};

pub const HEADER_LEN: usize = 16;
const MAGIC: [u8; 2] = [0xda, 0xbb];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub request_id: u64,
    pub is_request: bool,
    pub is_two_way: bool,
    pub is_event: bool,
    pub serialization_type: u8,
    pub status: u8,
}

impl Header {
    /// The header for a body of `len` bytes, or `None` when `len` does not fit its 32-bit
    /// length field.
    pub fn encode(&self, len: usize) -> Option<Bytes> {
        let len = u32::try_from(len).ok()?;
        let mut flags = self.serialization_type & 0x1f;
        for (set, bit) in [(self.is_request, 0x80), (self.is_two_way, 0x40), (self.is_event, 0x20)] {
            if set {
                flags |= bit;
            }
        }
        let mut out = BytesMut::with_capacity(HEADER_LEN);
        out.put_slice(&MAGIC);
        out.put_u8(flags);
        out.put_u8(self.status);
        out.put_u64(self.request_id);
        out.put_u32(len);
        Some(out.freeze())
    }

    /// The header and body length of a frame whose magic was checked.
    fn parse(b: &[u8; HEADER_LEN]) -> (Header, usize) {
        let flags = b[2];
        let mut id = [0u8; 8];
        id.copy_from_slice(&b[4..12]);
        let len = u32::from_be_bytes([b[12], b[13], b[14], b[15]]) as usize;
        let head = Header {
            request_id: u64::from_be_bytes(id),
            is_request: flags & 0x80 != 0,
            is_two_way: flags & 0x40 != 0,
            is_event: flags & 0x20 != 0,
            serialization_type: flags & 0x1f,
            status: b[3],
        };
        (head, len)
    }
}

/// What the decoder makes of its input, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    Start(Header),
    /// Part of the current message's body, as it came in.
    Body(Bytes),
    End,
}

/// A frame that does not start with Dubbo's magic number.
#[derive(Debug, PartialEq, Eq)]
pub struct BadMagic(pub [u8; 2]);

impl std::fmt::Display for BadMagic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a frame starts with {:02x}{:02x}, not Dubbo's magic dabb", self.0[0], self.0[1])
    }
}

/// A streaming decoder: input may be split anywhere. It holds at most one partial header;
/// body bytes are handed on as they come, so its memory is bounded whatever the lengths.
#[derive(Default)]
pub struct Decoder {
    header: [u8; HEADER_LEN],
    filled: usize,
    /// Body bytes of the current message still to come.
    remaining: usize,
    in_body: bool,
}

impl Decoder {
    /// Decodes `data`, handing each piece to `out`. After an error the decoder is unusable.
    pub fn feed(&mut self, mut data: Bytes, out: &mut impl FnMut(Piece)) -> Result<(), BadMagic> {
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
            // A wrong magic is known from the first two bytes: no need to wait for the rest.
            if self.filled >= 2 && self.header[..2] != MAGIC {
                return Err(BadMagic([self.header[0], self.header[1]]));
            }
            if self.filled < HEADER_LEN {
                break;
            }
            self.filled = 0;
            let (head, len) = Header::parse(&self.header);
            out(Piece::Start(head));
            if len == 0 {
                out(Piece::End);
            } else {
                self.remaining = len;
                self.in_body = true;
            }
        }
        Ok(())
    }

    /// Whether a frame was begun and not finished.
    pub fn is_partial(&self) -> bool {
        self.filled > 0 || self.in_body
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    type Whole = (Header, Vec<u8>);

    /// Decodes `chunks` one after another; the body parts of each message joined, so that
    /// different splits compare equal.
    fn decode(chunks: &[&[u8]]) -> (Vec<Whole>, Result<(), BadMagic>) {
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

    fn head(id: u64) -> Header {
        Header { request_id: id, is_request: true, is_two_way: true, is_event: false, serialization_type: 2, status: 0 }
    }

    fn frame(h: &Header, body: &[u8]) -> Vec<u8> {
        [h.encode(body.len()).unwrap().to_vec(), body.to_vec()].concat()
    }

    #[test]
    fn encodes_flags_id_and_length_big_endian() {
        let h = Header { is_event: true, status: 20, ..head(0x0102030405060708) };
        assert_eq!(
            h.encode(0x1234).unwrap().as_ref(),
            [0xda, 0xbb, 0xe2, 20, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x12, 0x34]
        );
    }

    #[test]
    fn a_wrong_magic_is_an_error_after_two_bytes() {
        let (msgs, r) = decode(&[b"\xda\xbc"]);
        assert!(msgs.is_empty());
        assert_eq!(r, Err(BadMagic([0xda, 0xbc])));
    }

    #[test]
    fn an_empty_body_is_a_whole_message() {
        let (msgs, r) = decode(&[&frame(&head(9), b"")]);
        assert_eq!((msgs, r), (vec![(head(9), vec![])], Ok(())));
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_messages(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..4),
            cut in any::<proptest::sample::Index>(),
        ) {
            let want: Vec<Whole> = bodies.iter().enumerate().map(|(i, b)| (head(i as u64), b.clone())).collect();
            let bytes: Vec<u8> = want.iter().flat_map(|(h, b)| frame(h, b)).collect();
            let at = cut.index(bytes.len() + 1);
            let (got, r) = decode(&[&bytes[..at], &bytes[at..]]);
            prop_assert_eq!(r, Ok(()));
            prop_assert_eq!(got, want);
        }

        #[test]
        fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..6)) {
            let chunks: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
            let _ = decode(&chunks);
        }
    }
}
