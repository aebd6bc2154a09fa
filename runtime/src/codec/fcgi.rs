//! FastCGI records (the FastCGI 1.0 specification): the 8-byte record header, the
//! name-value pairs of `FCGI_PARAMS`, and a decoder that cuts a byte stream into records.

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub const BEGIN_REQUEST: u8 = 1;
pub const ABORT_REQUEST: u8 = 2;
pub const END_REQUEST: u8 = 3;
pub const PARAMS: u8 = 4;
pub const STDIN: u8 = 5;
pub const STDOUT: u8 = 6;
pub const STDERR: u8 = 7;

/// `FCGI_KEEP_CONN` in `FCGI_BEGIN_REQUEST`'s flags.
pub const KEEP_CONN: u8 = 1;
/// `FCGI_RESPONDER`, the role a request has unless told.
pub const RESPONDER: u16 = 1;

/// The most content one record carries.
pub const MAX_CONTENT: usize = 0xffff;

/// A decoded record.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub kind: u8,
    pub id: u16,
    pub content: Bytes,
}

/// Appends a record of `content` (at most [`MAX_CONTENT`] bytes), padded to 8 bytes as
/// the specification recommends.
pub fn write_record(out: &mut BytesMut, kind: u8, id: u16, content: &[u8]) {
    let padding = (8 - content.len() % 8) % 8;
    out.put_u8(1);
    out.put_u8(kind);
    out.put_u16(id);
    out.put_u16(content.len() as u16);
    out.put_u8(padding as u8);
    out.put_u8(0);
    out.put_slice(content);
    out.put_bytes(0, padding);
}

/// Appends records of `kind` carrying `data`, split at [`MAX_CONTENT`]; an empty `data`
/// makes the empty record that ends a stream.
pub fn write_stream(out: &mut BytesMut, kind: u8, id: u16, data: &[u8]) {
    if data.is_empty() {
        return write_record(out, kind, id, &[]);
    }
    data.chunks(MAX_CONTENT).for_each(|c| write_record(out, kind, id, c));
}

/// `FCGI_BEGIN_REQUEST`'s body.
pub fn begin_body(role: u16, keep_conn: bool) -> [u8; 8] {
    let [r1, r0] = role.to_be_bytes();
    [r1, r0, if keep_conn { KEEP_CONN } else { 0 }, 0, 0, 0, 0, 0]
}

/// `FCGI_END_REQUEST`'s body.
pub fn end_body(app_status: u32, protocol_status: u8) -> [u8; 8] {
    let [a3, a2, a1, a0] = app_status.to_be_bytes();
    [a3, a2, a1, a0, protocol_status, 0, 0, 0]
}

/// `(appStatus, protocolStatus)` of an `FCGI_END_REQUEST` body.
pub fn parse_end(body: &[u8]) -> (u32, u8) {
    if body.len() < 5 {
        return (0, 0);
    }
    (u32::from_be_bytes([body[0], body[1], body[2], body[3]]), body[4])
}

/// `(role, keepConn)` of an `FCGI_BEGIN_REQUEST` body.
pub fn parse_begin(body: &[u8]) -> (u16, bool) {
    if body.len() < 3 {
        return (RESPONDER, false);
    }
    (u16::from_be_bytes([body[0], body[1]]), body[2] & KEEP_CONN != 0)
}

fn put_length(out: &mut BytesMut, n: usize) {
    if n <= 127 {
        out.put_u8(n as u8);
    } else {
        out.put_u32((n as u32 & 0x7fff_ffff) | 0x8000_0000);
    }
}

/// One name-value pair as `FCGI_PARAMS` carries it.
pub fn write_param(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    put_length(out, name.len());
    put_length(out, value.len());
    out.put_slice(name);
    out.put_slice(value);
}

fn take_length(buf: &mut &[u8]) -> Option<usize> {
    let first = *buf.first()?;
    if first & 0x80 == 0 {
        buf.advance(1);
        return Some(first as usize);
    }
    if buf.len() < 4 {
        return None;
    }
    Some((buf.get_u32() & 0x7fff_ffff) as usize)
}

/// The name-value pairs of a request's whole `FCGI_PARAMS` stream; `None` if malformed.
pub fn parse_params(mut buf: &[u8]) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    while !buf.is_empty() {
        let n = take_length(&mut buf)?;
        let v = take_length(&mut buf)?;
        if buf.len() < n + v {
            return None;
        }
        let name = String::from_utf8_lossy(&buf[..n]).into_owned();
        let value = String::from_utf8_lossy(&buf[n..n + v]).into_owned();
        buf.advance(n + v);
        pairs.push((name, value));
    }
    Some(pairs)
}

/// Cuts a byte stream into records. Buffering is bounded by one record (64 KiB and its
/// padding).
#[derive(Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    pub fn feed(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// The next whole record, or `Err` for a record of a version other than 1.
    pub fn record(&mut self) -> Result<Option<Record>, String> {
        if self.buf.len() < 8 {
            return Ok(None);
        }
        let h = &self.buf[..8];
        if h[0] != 1 {
            return Err(format!("FastCGI: unsupported record version {}", h[0]));
        }
        let len = u16::from_be_bytes([h[4], h[5]]) as usize;
        let total = 8 + len + h[6] as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        let (kind, id) = (h[1], u16::from_be_bytes([h[2], h[3]]));
        let mut rec = self.buf.split_to(total);
        rec.advance(8);
        rec.truncate(len);
        Ok(Some(Record { kind, id, content: rec.freeze() }))
    }

    /// Bytes of a record not whole yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_however_the_bytes_are_split() {
        let mut out = BytesMut::new();
        write_record(&mut out, BEGIN_REQUEST, 1, &begin_body(RESPONDER, true));
        let mut params = BytesMut::new();
        write_param(&mut params, b"SCRIPT_NAME", b"/index.php");
        write_param(&mut params, b"LONG", &[b'x'; 300]);
        write_stream(&mut out, PARAMS, 1, &params);
        write_stream(&mut out, PARAMS, 1, &[]);
        let all = out.freeze();
        for step in [1, 3, 8, 1000] {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for chunk in all.chunks(step) {
                d.feed(chunk);
                while let Some(r) = d.record().unwrap() {
                    got.push(r);
                }
            }
            assert_eq!(got.len(), 3);
            assert_eq!(parse_begin(&got[0].content), (RESPONDER, true));
            let pairs = parse_params(&got[1].content).unwrap();
            assert_eq!(pairs[0], ("SCRIPT_NAME".into(), "/index.php".into()));
            assert_eq!(pairs[1].1.len(), 300);
            assert!(got[2].content.is_empty());
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn a_bad_version_is_an_error_and_truncated_params_are_refused() {
        let mut d = Decoder::default();
        d.feed(&[2, 6, 0, 1, 0, 0, 0, 0]);
        assert!(d.record().is_err());
        assert_eq!(parse_params(&[5, 1, b'a']), None);
    }
}
