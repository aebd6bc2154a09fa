//! The byte work of an `Upgrade: h2c` (RFC 7540 3.2), which Pipy's demuxHTTP and serveHTTP
//! accept: whether a connection's first request asks for it, that request as the HEADERS
//! frame of HTTP/2 stream 1, and where the client's first frames end after the switch.

/// What a connection's first bytes are.
#[derive(Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// Not a request to switch (or not HTTP/1 at all): HTTP/1 serves it.
    No,
    /// The head is not complete yet.
    More,
    /// A request to switch, its head `len` bytes long, with no body: `frame` is the same
    /// request as stream 1's HEADERS frame.
    Yes { len: usize, frame: Vec<u8> },
}

/// The most bytes of a first head looked at; a longer one is left to HTTP/1.
const MAX_HEAD: usize = 64 << 10;
/// HTTP/2's default SETTINGS_MAX_FRAME_SIZE: the stream 1 HEADERS goes in one frame.
const MAX_FRAME: usize = 16 << 10;
/// What a client sends first on an HTTP/2 connection (RFC 9113 3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads the first request head in `seen`.
pub fn upgrade(seen: &[u8]) -> Upgrade {
    let complete = seen.windows(4).any(|w| w == b"\r\n\r\n");
    // Most first heads do not mention h2c at all: no parse for them.
    if !seen.windows(3).any(|w| w.eq_ignore_ascii_case(b"h2c")) {
        return if complete || seen.len() >= MAX_HEAD { Upgrade::No } else { Upgrade::More };
    }
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(seen) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if seen.len() < MAX_HEAD => return Upgrade::More,
        _ => return Upgrade::No,
    };
    let value = |name: &str| req.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value);
    let asks = value("upgrade").is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"h2c"));
    // A body would have to be read in HTTP/1 first: such a request is answered in
    // HTTP/1.1, as RFC 7540 lets a server do.
    let body = value("transfer-encoding").is_some() || value("content-length").is_some_and(|v| v.trim_ascii() != b"0");
    let (Some(method), Some(path)) = (req.method, req.path) else { return Upgrade::No };
    if !asks || body || req.version != Some(1) {
        return Upgrade::No;
    }
    let mut block = Vec::new();
    field(&mut block, b":method", method.as_bytes());
    field(&mut block, b":scheme", b"http");
    field(&mut block, b":path", path.as_bytes());
    if let Some(host) = value("host") {
        field(&mut block, b":authority", host);
    }
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        // Connection-specific fields do not go into HTTP/2 (RFC 9113 8.2.2).
        let skip = ["host", "connection", "upgrade", "http2-settings", "keep-alive", "proxy-connection", "te"];
        if !skip.contains(&name.as_str()) {
            field(&mut block, name.as_bytes(), h.value);
        }
    }
    if block.len() > MAX_FRAME {
        return Upgrade::No;
    }
    let mut frame = Vec::with_capacity(9 + block.len());
    frame.extend_from_slice(&(block.len() as u32).to_be_bytes()[1..]);
    frame.push(0x1); // HEADERS
    frame.push(0x4 | 0x1); // END_HEADERS | END_STREAM: stream 1 is half-closed (remote)
    frame.extend_from_slice(&1u32.to_be_bytes());
    frame.extend(block);
    Upgrade::Yes { len, frame }
}

/// How many bytes of `after` (what the client sent after the upgrade request) are its
/// preface and first frame (its SETTINGS), once all are there: stream 1's HEADERS goes in
/// after them, where a server may first see a frame from the client.
/// Bytes that are no such start are all taken at once: `h2` refuses them.
pub fn first_frames(after: &[u8]) -> Option<usize> {
    let k = after.len().min(PREFACE.len());
    if after[..k] != PREFACE[..k] {
        return Some(0);
    }
    let header = after.get(PREFACE.len()..PREFACE.len() + 9)?;
    let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    if len > MAX_FRAME {
        return Some(after.len());
    }
    let end = PREFACE.len() + 9 + len;
    (after.len() >= end).then_some(end)
}

/// A header field as an HPACK literal never indexed (RFC 7541 6.2.3): the decoder's table
/// stays as the client's encoder knows it.
fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x10);
    string(out, name);
    string(out, value);
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    integer(out, s.len());
    out.extend_from_slice(s);
}

/// An HPACK integer with a 7-bit prefix and no Huffman flag (RFC 7541 5.1).
fn integer(out: &mut Vec<u8>, mut v: usize) {
    if v < 127 {
        return out.push(v as u8);
    }
    out.push(127);
    v -= 127;
    while v >= 128 {
        out.push((v % 128 + 128) as u8);
        v /= 128;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_complete_bodiless_h2c_request_switches() {
        assert_eq!(upgrade(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), Upgrade::No);
        assert_eq!(upgrade(b"GET / HTTP/1.1\r\nHost: a\r\n"), Upgrade::More);
        assert_eq!(upgrade(b"GET / HTTP/1.1\r\nUpgrade: h2c\r\n"), Upgrade::More);
        let post = b"POST / HTTP/1.1\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(upgrade(post), Upgrade::No);
        let get = b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
                    HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nAccept: */*\r\n\r\n";
        let Upgrade::Yes { len, frame } = upgrade(get) else { panic!("not an upgrade") };
        assert_eq!(len, get.len());
        assert_eq!(&frame[3..9], &[1, 5, 0, 0, 0, 1]);
        let block = &frame[9..];
        assert_eq!(frame[..3], (block.len() as u32).to_be_bytes()[1..]);
        let text = String::from_utf8_lossy(block);
        for f in [":method", "GET", ":path", "/x", ":authority", "accept", "*/*"] {
            assert!(text.contains(f), "{f} in {text:?}");
        }
        assert!(!text.contains("http2-settings") && !text.contains("upgrade"), "{text:?}");
    }

    #[test]
    fn long_strings_take_a_multi_byte_length() {
        let mut out = Vec::new();
        integer(&mut out, 1337);
        assert_eq!(out, [127, 0xba, 0x09]);
    }

    #[test]
    fn the_first_frames_end_after_the_preface_and_one_frame() {
        let mut after = PREFACE.to_vec();
        assert_eq!(first_frames(&after), None);
        after.extend_from_slice(&[0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(first_frames(&after), None);
        after.extend_from_slice(&[100, 0xff]);
        assert_eq!(first_frames(&after), Some(PREFACE.len() + 15));
        assert_eq!(first_frames(b"GET / HTTP/1.1\r\n"), Some(0));
    }
}
