//! Streaming compression and decompression of byte streams: gzip and zlib ("deflate" in
//! HTTP) both ways through flate2, brotli decoding through brotli-decompressor.
//!
//! Each input piece is turned into output pieces at once; nothing but the codec's own window
//! is kept between pieces, so a body of any size passes in bounded memory (as long as one
//! piece does not inflate to something huge: a 16 KiB piece of zeros is 16 MiB).

use std::fmt;

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};
use bytes::{Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Output pieces are at most this big.
const CHUNK: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Gzip,
    /// The zlib format, which HTTP calls `deflate` (and Pipy's `decompress()` `inflate`).
    Zlib,
    /// Decoding only.
    Brotli,
}

impl Algorithm {
    /// The algorithm a script names: `gzip`, `deflate` (zlib), `inflate` (zlib, decoding),
    /// `brotli` or `br` (decoding).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "gzip" => Some(Algorithm::Gzip),
            "deflate" | "inflate" => Some(Algorithm::Zlib),
            "brotli" | "br" => Some(Algorithm::Brotli),
            _ => None,
        }
    }

    /// The `content-encoding` value for it.
    pub fn content_encoding(self) -> &'static str {
        match self {
            Algorithm::Gzip => "gzip",
            Algorithm::Zlib => "deflate",
            Algorithm::Brotli => "br",
        }
    }

    /// The algorithm of an HTTP `content-encoding` value.
    pub fn from_content_encoding(value: &str) -> Option<Algorithm> {
        match value.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Algorithm::Gzip),
            "deflate" => Some(Algorithm::Zlib),
            "br" => Some(Algorithm::Brotli),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}

/// Compresses a stream.
pub struct Deflater {
    c: Compress,
    finished: bool,
}

impl Deflater {
    /// `Algorithm::Brotli` has no encoder here: `None`.
    pub fn new(algorithm: Algorithm) -> Option<Deflater> {
        let c = match algorithm {
            Algorithm::Gzip => Compress::new_gzip(Compression::default(), 15),
            Algorithm::Zlib => Compress::new(Compression::default(), true),
            Algorithm::Brotli => return None,
        };
        Some(Deflater { c, finished: false })
    }

    pub fn feed(&mut self, mut input: &[u8], out: &mut impl FnMut(Bytes)) -> Result<(), CodecError> {
        while !input.is_empty() && !self.finished {
            let used = self.step(input, FlushCompress::None, out)?.0;
            input = &input[used..];
        }
        Ok(())
    }

    /// Writes the end of the compressed stream.
    pub fn finish(&mut self, out: &mut impl FnMut(Bytes)) -> Result<(), CodecError> {
        while !self.finished {
            self.step(&[], FlushCompress::Finish, out)?;
        }
        Ok(())
    }

    /// One call into the compressor with an output buffer of [`CHUNK`].
    fn step(
        &mut self,
        input: &[u8],
        flush: FlushCompress,
        out: &mut impl FnMut(Bytes),
    ) -> Result<(usize, usize), CodecError> {
        let mut buf = BytesMut::zeroed(CHUNK);
        let (in0, out0) = (self.c.total_in(), self.c.total_out());
        let status = self.c.compress(input, &mut buf, flush).map_err(|e| CodecError(e.to_string()))?;
        let used = (self.c.total_in() - in0) as usize;
        let made = (self.c.total_out() - out0) as usize;
        if status == Status::StreamEnd {
            self.finished = true;
        }
        if made > 0 {
            buf.truncate(made);
            out(buf.freeze());
        }
        Ok((used, made))
    }
}

/// Decompresses a stream. Bytes after the end of the compressed stream are ignored.
pub struct Inflater {
    kind: Kind,
    done: bool,
}

enum Kind {
    Flate(Decompress),
    Brotli(Box<BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>>),
}

impl Inflater {
    pub fn new(algorithm: Algorithm) -> Inflater {
        let kind = match algorithm {
            Algorithm::Gzip => Kind::Flate(Decompress::new_gzip(15)),
            Algorithm::Zlib => Kind::Flate(Decompress::new(true)),
            Algorithm::Brotli => Kind::Brotli(Box::new(BrotliState::new(
                StandardAlloc::default(),
                StandardAlloc::default(),
                StandardAlloc::default(),
            ))),
        };
        Inflater { kind, done: false }
    }

    pub fn feed(&mut self, input: &[u8], out: &mut impl FnMut(Bytes)) -> Result<(), CodecError> {
        match &mut self.kind {
            Kind::Flate(d) => inflate(d, input, &mut self.done, out),
            Kind::Brotli(s) => unbrotli(s, input, &mut self.done, out),
        }
    }

    /// At the end of the input: an error if the compressed stream was cut short.
    pub fn finish(&self) -> Result<(), CodecError> {
        if self.done { Ok(()) } else { Err(CodecError("compressed stream is truncated".into())) }
    }
}

fn inflate(
    d: &mut Decompress,
    mut input: &[u8],
    done: &mut bool,
    out: &mut impl FnMut(Bytes),
) -> Result<(), CodecError> {
    while !*done {
        let mut buf = BytesMut::zeroed(CHUNK);
        let (in0, out0) = (d.total_in(), d.total_out());
        let status = d.decompress(input, &mut buf, FlushDecompress::None).map_err(|e| CodecError(e.to_string()))?;
        let used = (d.total_in() - in0) as usize;
        let made = (d.total_out() - out0) as usize;
        input = &input[used..];
        if made > 0 {
            buf.truncate(made);
            out(buf.freeze());
        }
        if status == Status::StreamEnd {
            *done = true;
        } else if (made < CHUNK && input.is_empty()) || (used == 0 && made == 0) {
            // All input taken and no more output pending, or no progress possible.
            break;
        }
    }
    Ok(())
}

fn unbrotli(
    s: &mut BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>,
    input: &[u8],
    done: &mut bool,
    out: &mut impl FnMut(Bytes),
) -> Result<(), CodecError> {
    let (mut avail_in, mut in_off) = (input.len(), 0usize);
    while !*done {
        let mut buf = vec![0u8; CHUNK];
        let (mut avail_out, mut out_off, mut total) = (CHUNK, 0usize, 0usize);
        let r = BrotliDecompressStream(
            &mut avail_in,
            &mut in_off,
            input,
            &mut avail_out,
            &mut out_off,
            &mut buf,
            &mut total,
            s,
        );
        if out_off > 0 {
            buf.truncate(out_off);
            out(Bytes::from(buf));
        }
        match r {
            BrotliResult::ResultSuccess => *done = true,
            BrotliResult::NeedsMoreInput => break,
            BrotliResult::NeedsMoreOutput => {}
            BrotliResult::ResultFailure => return Err(CodecError("corrupt brotli stream".into())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(algorithm: Algorithm, data: &[u8], piece: usize) -> Vec<u8> {
        let mut z = Vec::new();
        let mut d = Deflater::new(algorithm).unwrap();
        for p in data.chunks(piece) {
            d.feed(p, &mut |b| z.extend_from_slice(&b)).unwrap();
        }
        d.finish(&mut |b| z.extend_from_slice(&b)).unwrap();
        let mut back = Vec::new();
        let mut i = Inflater::new(algorithm);
        for p in z.chunks(piece) {
            i.feed(p, &mut |b| back.extend_from_slice(&b)).unwrap();
        }
        i.finish().unwrap();
        back
    }

    #[test]
    fn gzip_and_zlib_roundtrip_in_any_segmentation() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for algorithm in [Algorithm::Gzip, Algorithm::Zlib] {
            for piece in [1, 7, 4096, 1 << 20] {
                assert_eq!(roundtrip(algorithm, &data, piece), data, "{algorithm:?} in pieces of {piece}");
            }
        }
    }

    #[test]
    fn gzip_output_is_a_real_gzip_member() {
        let mut z = Vec::new();
        let mut d = Deflater::new(Algorithm::Gzip).unwrap();
        d.feed(b"hello", &mut |b| z.extend_from_slice(&b)).unwrap();
        d.finish(&mut |b| z.extend_from_slice(&b)).unwrap();
        assert_eq!(&z[..3], &[0x1f, 0x8b, 8]);
    }

    #[test]
    fn corrupt_and_truncated_input_are_errors() {
        let mut i = Inflater::new(Algorithm::Gzip);
        assert!(i.feed(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xff", &mut |_| {}).is_err());

        let mut z = Vec::new();
        let mut d = Deflater::new(Algorithm::Gzip).unwrap();
        d.feed(&[7u8; 10_000], &mut |b| z.extend_from_slice(&b)).unwrap();
        d.finish(&mut |b| z.extend_from_slice(&b)).unwrap();
        let mut i = Inflater::new(Algorithm::Gzip);
        i.feed(&z[..z.len() - 4], &mut |_| {}).unwrap();
        assert!(i.finish().is_err());
    }

    #[test]
    fn brotli_decodes_in_pieces() {
        // Window 16, an uncompressed meta-block of 5 bytes, then an empty last meta-block.
        let z = [0x40, 0x00, 0x10, b'h', b'e', b'l', b'l', b'o', 0x03];
        let mut i = Inflater::new(Algorithm::Brotli);
        let mut out = Vec::new();
        for p in z.chunks(2) {
            i.feed(p, &mut |b| out.extend_from_slice(&b)).unwrap();
        }
        assert_eq!(out, b"hello");
        assert!(i.finish().is_ok());
        assert!(Inflater::new(Algorithm::Brotli).feed(&[0xff; 8], &mut |_| {}).is_err());
    }
}
