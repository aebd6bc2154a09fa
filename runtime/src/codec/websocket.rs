//! WebSocket frames (RFC 6455 5.2): a streaming decoder that turns frames into messages as
//! Pipy's `decodeWebSocket` does (the frames of a fragmented message are one message, masked
//! payloads come out unmasked, payload bytes go through as they arrive and are never held),
//! and the frame writer `encodeWebSocket` uses.

use bytes::{Bytes, BytesMut};

/// The most a frame header takes: 2 bytes, 8 of length, 4 of mask.
const MAX_HEAD: usize = 14;
/// Control frames a fragmented message may have in its middle, held until it ends.
const MAX_PENDING: usize = 16;

#[derive(Debug, PartialEq)]
pub enum Malformed {
    /// A control frame over 125 bytes or fragmented, or a length over 2^63.
    BadFrame,
    /// A continuation with no message to continue, or a new message inside a fragmented one.
    BadFragment,
    /// More control frames inside one fragmented message than are held.
    TooManyControls,
}

/// What the decoder makes of its input, in order.
#[derive(Debug, PartialEq)]
pub enum Piece {
    Start { opcode: u8, masked: bool },
    Data(Bytes),
    End,
}

struct Head {
    fin: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: u64,
}

/// Parses a frame header at the start of `buf`: the header and its size, or `None` when
/// more bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, Malformed> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (fin, opcode) = (buf[0] & 0x80 != 0, buf[0] & 0x0f);
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().map_err(|_| Malformed::BadFrame)?), 10),
        126 | 127 => return Ok(None),
        n => (u64::from(n), 2),
    };
    if len >> 63 != 0 || (opcode >= 8 && (len > 125 || !fin)) {
        return Err(Malformed::BadFrame);
    }
    let mask = match masked {
        false => None,
        true if buf.len() >= at + 4 => {
            at += 4;
            Some([buf[at - 4], buf[at - 3], buf[at - 2], buf[at - 1]])
        }
        true => return Ok(None),
    };
    Ok(Some((Head { fin, opcode, mask, len }, at)))
}

/// XORs `data` with `key`, `offset` bytes into the payload.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[(offset + i) & 3];
    }
}

/// Appends a frame: `first` says it opens its message (else it is a continuation).
pub fn write_frame(first: bool, opcode: u8, fin: bool, mask: Option<[u8; 4]>, payload: &[u8], out: &mut Vec<u8>) {
    out.push(if first { opcode & 0x0f } else { 0 } | if fin { 0x80 } else { 0 });
    let bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(n as u8 | bit),
        n if n <= 0xffff => {
            out.push(126 | bit);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127 | bit);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let start = out.len() + mask.map_or(0, |_| 4);
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
}

/// The payload of the frame being read.
struct Payload {
    left: u64,
    mask: Option<[u8; 4]>,
    /// Bytes of this payload already read, for the mask's phase.
    pos: usize,
    fin: bool,
    /// A control frame's payload and head, collected whole (it is at most 125 bytes).
    control: Option<(u8, bool, BytesMut)>,
}

#[derive(Default)]
pub struct Decoder {
    head: Vec<u8>,
    payload: Option<Payload>,
    /// A data message was started and its last frame has not come yet.
    in_message: bool,
    /// Control frames that came inside a fragmented message, for after it.
    pending: Vec<Piece>,
}

impl Decoder {
    /// Takes more input and appends what it completed to `out`, what came before an error too.
    pub fn feed(&mut self, mut data: Bytes, out: &mut Vec<Piece>) -> Result<(), Malformed> {
        while !data.is_empty() || self.payload.as_ref().is_some_and(|p| p.left == 0) {
            match &mut self.payload {
                None => self.read_head(&mut data, out)?,
                Some(p) if p.left > 0 => {
                    let n = data.len().min(usize::try_from(p.left).unwrap_or(usize::MAX));
                    let mut chunk = data.split_to(n);
                    if let Some(key) = p.mask {
                        let mut bytes = chunk.to_vec();
                        apply_mask(&mut bytes, key, p.pos);
                        chunk = Bytes::from(bytes);
                    }
                    p.pos += n;
                    p.left -= n as u64;
                    match &mut p.control {
                        Some((_, _, buf)) => buf.extend_from_slice(&chunk),
                        None => out.push(Piece::Data(chunk)),
                    }
                }
                Some(_) => self.end_frame(out)?,
            }
        }
        Ok(())
    }

    fn read_head(&mut self, data: &mut Bytes, out: &mut Vec<Piece>) -> Result<(), Malformed> {
        let had = self.head.len();
        let take = data.len().min(MAX_HEAD - had);
        self.head.extend_from_slice(&data[..take]);
        let Some((head, size)) = parse_head(&self.head)? else {
            let _ = data.split_to(take);
            return Ok(());
        };
        let _ = data.split_to(size - had);
        self.head.clear();
        let masked = head.mask.is_some();
        let control = match head.opcode {
            0 if !self.in_message => return Err(Malformed::BadFragment),
            0 => None,
            op if op >= 8 => Some((op, masked, BytesMut::new())),
            _ if self.in_message => return Err(Malformed::BadFragment),
            op => {
                self.in_message = true;
                out.push(Piece::Start { opcode: op, masked });
                None
            }
        };
        self.payload = Some(Payload { left: head.len, mask: head.mask, pos: 0, fin: head.fin, control });
        Ok(())
    }

    fn end_frame(&mut self, out: &mut Vec<Piece>) -> Result<(), Malformed> {
        let Some(p) = self.payload.take() else { return Ok(()) };
        if let Some((opcode, masked, buf)) = p.control {
            let pieces = [Piece::Start { opcode, masked }, Piece::Data(buf.freeze()), Piece::End];
            let pieces = pieces.into_iter().filter(|p| !matches!(p, Piece::Data(d) if d.is_empty()));
            if !self.in_message {
                out.extend(pieces);
            } else if self.pending.len() < MAX_PENDING * 3 {
                self.pending.extend(pieces);
            } else {
                return Err(Malformed::TooManyControls);
            }
        } else if p.fin {
            self.in_message = false;
            out.push(Piece::End);
            out.append(&mut self.pending);
        }
        Ok(())
    }

    /// Whether a frame or a fragmented message was begun and not finished.
    pub fn is_partial(&self) -> bool {
        !self.head.is_empty() || self.payload.is_some() || self.in_message
    }
}

#[cfg(test)]
#[path = "websocket_tests.rs"]
mod tests;
