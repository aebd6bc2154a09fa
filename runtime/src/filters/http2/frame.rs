//! HTTP/2 frames (RFC 9113 4 and 6): a frame's 9-byte head read, and the frames the server
//! side writes, appended to the connection's one output buffer.

use bytes::{BufMut, Bytes, BytesMut};

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

/// Error codes (RFC 9113 7).
pub mod code {
    pub const NO_ERROR: u32 = 0x0;
    pub const PROTOCOL_ERROR: u32 = 0x1;
    pub const INTERNAL_ERROR: u32 = 0x2;
    pub const FLOW_CONTROL_ERROR: u32 = 0x3;
    pub const STREAM_CLOSED: u32 = 0x5;
    pub const FRAME_SIZE_ERROR: u32 = 0x6;
    pub const REFUSED_STREAM: u32 = 0x7;
    pub const COMPRESSION_ERROR: u32 = 0x9;
    pub const ENHANCE_YOUR_CALM: u32 = 0xb;
}

/// SETTINGS identifiers (RFC 9113 6.5.2).
pub mod setting {
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    pub const ENABLE_PUSH: u16 = 0x2;
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// The length of a frame's head.
pub const HEAD_LEN: usize = 9;
/// The smallest SETTINGS_MAX_FRAME_SIZE, the default, and the largest frame this side reads.
pub const DEFAULT_MAX_FRAME: usize = 16 << 10;
/// The largest a window may grow (RFC 9113 6.9.1).
pub const MAX_WINDOW: i64 = (1 << 31) - 1;

#[derive(Clone, Copy, Debug)]
pub struct Head {
    pub len: usize,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl Head {
    /// The head at the start of `b`, once all 9 bytes are there.
    pub fn read(b: &[u8]) -> Option<Head> {
        let h = b.get(..HEAD_LEN)?;
        Some(Head {
            len: u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize,
            kind: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        })
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// The payload of a DATA or HEADERS frame without its padding (RFC 9113 6.1): `None` when
/// the padding is longer than the frame.
pub fn unpad(head: &Head, mut payload: Bytes) -> Option<Bytes> {
    if !head.has(PADDED) {
        return Some(payload);
    }
    let pad = *payload.first()? as usize;
    if pad + 1 > payload.len() {
        return None;
    }
    payload.truncate(payload.len() - pad);
    Some(payload.slice(1..))
}

pub fn put_head(out: &mut BytesMut, len: usize, kind: u8, flags: u8, stream: u32) {
    out.put_slice(&(len as u32).to_be_bytes()[1..]);
    out.put_u8(kind);
    out.put_u8(flags);
    out.put_u32(stream);
}

pub fn put_settings(out: &mut BytesMut, settings: &[(u16, u32)]) {
    put_head(out, settings.len() * 6, SETTINGS, 0, 0);
    for &(id, value) in settings {
        out.put_u16(id);
        out.put_u32(value);
    }
}

pub fn put_settings_ack(out: &mut BytesMut) {
    put_head(out, 0, SETTINGS, ACK, 0);
}

pub fn put_ping_ack(out: &mut BytesMut, payload: &[u8]) {
    put_head(out, payload.len(), PING, ACK, 0);
    out.put_slice(payload);
}

pub fn put_window_update(out: &mut BytesMut, stream: u32, n: u32) {
    put_head(out, 4, WINDOW_UPDATE, 0, stream);
    out.put_u32(n);
}

pub fn put_rst(out: &mut BytesMut, stream: u32, code: u32) {
    put_head(out, 4, RST_STREAM, 0, stream);
    out.put_u32(code);
}

pub fn put_goaway(out: &mut BytesMut, last: u32, code: u32) {
    put_head(out, 8, GOAWAY, 0, 0);
    out.put_u32(last);
    out.put_u32(code);
}

/// `data` as DATA frames of at most `max` bytes; the last one ends the stream if `end`.
pub fn put_data(out: &mut BytesMut, stream: u32, data: &[u8], end: bool, max: usize) {
    let mut chunks = data.chunks(max).peekable();
    if chunks.peek().is_none() {
        return put_head(out, 0, DATA, if end { END_STREAM } else { 0 }, stream);
    }
    out.reserve(data.len() + data.len().div_ceil(max) * HEAD_LEN);
    while let Some(c) = chunks.next() {
        let last = chunks.peek().is_none();
        put_head(out, c.len(), DATA, if last && end { END_STREAM } else { 0 }, stream);
        out.put_slice(c);
    }
}

/// A header block as a HEADERS frame and the CONTINUATION frames it needs past `max`.
pub fn put_headers(out: &mut BytesMut, stream: u32, block: &[u8], end: bool, max: usize) {
    let mut chunks = block.chunks(max).peekable();
    let first = chunks.next().unwrap_or_default();
    let flags = |last: bool, f: u8| if last { f | END_HEADERS } else { f };
    let end_flag = if end { END_STREAM } else { 0 };
    put_head(out, first.len(), HEADERS, flags(chunks.peek().is_none(), end_flag), stream);
    out.put_slice(first);
    while let Some(c) = chunks.next() {
        put_head(out, c.len(), CONTINUATION, flags(chunks.peek().is_none(), 0), stream);
        out.put_slice(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_read_as_written_and_the_reserved_bit_is_ignored() {
        let mut out = BytesMut::new();
        put_head(&mut out, 0x012345, HEADERS, END_HEADERS | END_STREAM, 0x8000_0007);
        let h = Head::read(&out).unwrap();
        assert_eq!((h.len, h.kind, h.flags, h.stream), (0x012345, HEADERS, 0x5, 7));
        assert!(Head::read(&out[..8]).is_none());
    }

    #[test]
    fn padding_is_cut_off_and_too_much_of_it_is_refused() {
        let h = Head { len: 6, kind: DATA, flags: PADDED, stream: 1 };
        assert_eq!(unpad(&h, Bytes::from_static(b"\x02abcxx")).as_deref(), Some(&b"abc"[..]));
        assert_eq!(unpad(&h, Bytes::from_static(b"\x06abcxx")), None);
        assert_eq!(unpad(&h, Bytes::new()), None);
    }

    #[test]
    fn data_and_headers_are_split_at_the_peers_frame_size() {
        let mut out = BytesMut::new();
        put_data(&mut out, 3, &[7; 10], true, 4);
        let lens: Vec<_> = out.chunks(HEAD_LEN + 4).map(|f| Head::read(f).unwrap()).map(|h| (h.len, h.flags)).collect();
        assert_eq!(lens, [(4, 0), (4, 0), (2, END_STREAM)]);
        let mut out = BytesMut::new();
        put_headers(&mut out, 3, &[1; 6], true, 4);
        let a = Head::read(&out).unwrap();
        let b = Head::read(&out[HEAD_LEN + 4..]).unwrap();
        assert_eq!((a.kind, a.flags, b.kind, b.flags, b.len), (HEADERS, END_STREAM, CONTINUATION, END_HEADERS, 2));
    }
}
