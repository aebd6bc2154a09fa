//! Streaming compression and decompression of byte streams: gzip and zlib ("deflate" in
//! HTTP) both ways through flate2, brotli decoding through brotli-decompressor.
//!
//! Compression turns each input piece into output pieces at once. Decompression makes its
//! output a piece at a time on request, since one small input piece can stand for any
//! amount of output (16 KiB of gzip is 16 MiB of zeros): the caller paces it.

use std::fmt;

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};
use bytes::{Buf, Bytes, BytesMut};
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

/// Decompresses a stream, a piece of output at a time: input is [`Inflater::push`]ed, and
/// [`Inflater::pull`] makes at most [`CHUNK`] of output from it per call, keeping the rest of
/// the input for later. A caller that stops asking holds no more than its input (a few
/// compressed bytes can stand for gigabytes). Bytes after the end of the compressed stream
/// are ignored.
pub struct Inflater {
    kind: Kind,
    done: bool,
    input: Bytes,
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
        Inflater { kind, done: false, input: Bytes::new() }
    }

    /// Adds compressed input behind what is not yet decompressed.
    pub fn push(&mut self, input: Bytes) {
        if self.done || input.is_empty() {
            return;
        }
        self.input = if self.input.is_empty() {
            input
        } else {
            let mut both = BytesMut::with_capacity(self.input.len() + input.len());
            both.extend_from_slice(&self.input);
            both.extend_from_slice(&input);
            both.freeze()
        };
    }

    /// The next piece of output, or `None` once the input pushed so far is used up (or the
    /// compressed stream ended).
    pub fn pull(&mut self) -> Result<Option<Bytes>, CodecError> {
        if self.done {
            return Ok(None);
        }
        let made = match &mut self.kind {
            Kind::Flate(d) => inflate(d, &mut self.input, &mut self.done),
            Kind::Brotli(s) => unbrotli(s, &mut self.input, &mut self.done),
        };
        if self.done {
            self.input = Bytes::new();
        }
        made
    }

    /// At the end of the input: an error if the compressed stream was cut short.
    pub fn finish(&self) -> Result<(), CodecError> {
        if self.done { Ok(()) } else { Err(CodecError("compressed stream is truncated".into())) }
    }
}

fn inflate(d: &mut Decompress, input: &mut Bytes, done: &mut bool) -> Result<Option<Bytes>, CodecError> {
    loop {
        let mut buf = BytesMut::zeroed(CHUNK);
        let (in0, out0) = (d.total_in(), d.total_out());
        let status = d.decompress(input, &mut buf, FlushDecompress::None).map_err(|e| CodecError(e.to_string()))?;
        let used = (d.total_in() - in0) as usize;
        let made = (d.total_out() - out0) as usize;
        input.advance(used);
        *done = status == Status::StreamEnd;
        if made > 0 {
            buf.truncate(made);
            return Ok(Some(buf.freeze()));
        }
        // Input taken with nothing to show yet (a header) is worth another call; no
        // progress at all means the input is used up.
        if *done || used == 0 {
            return Ok(None);
        }
    }
}

fn unbrotli(
    s: &mut BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>,
    input: &mut Bytes,
    done: &mut bool,
) -> Result<Option<Bytes>, CodecError> {
    let mut buf = vec![0u8; CHUNK];
    let (mut avail_in, mut in_off) = (input.len(), 0usize);
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
    input.advance(in_off);
    match r {
        BrotliResult::ResultSuccess => *done = true,
        BrotliResult::ResultFailure => return Err(CodecError("corrupt brotli stream".into())),
        BrotliResult::NeedsMoreInput | BrotliResult::NeedsMoreOutput => {}
    }
    buf.truncate(out_off);
    Ok((out_off > 0).then(|| Bytes::from(buf)))
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
            back.extend(inflate_all(&mut i, p).unwrap());
        }
        i.finish().unwrap();
        back
    }

    /// Everything `i` makes of `input`, checking that no piece is over [`CHUNK`].
    fn inflate_all(i: &mut Inflater, input: &[u8]) -> Result<Vec<u8>, CodecError> {
        i.push(Bytes::copy_from_slice(input));
        let mut out = Vec::new();
        while let Some(b) = i.pull()? {
            assert!(!b.is_empty() && b.len() <= CHUNK);
            out.extend_from_slice(&b);
        }
        Ok(out)
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
        assert!(inflate_all(&mut i, b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xff").is_err());

        let mut z = Vec::new();
        let mut d = Deflater::new(Algorithm::Gzip).unwrap();
        d.feed(&[7u8; 10_000], &mut |b| z.extend_from_slice(&b)).unwrap();
        d.finish(&mut |b| z.extend_from_slice(&b)).unwrap();
        let mut i = Inflater::new(Algorithm::Gzip);
        inflate_all(&mut i, &z[..z.len() - 4]).unwrap();
        assert!(i.finish().is_err());
    }

    #[test]
    fn brotli_decodes_in_pieces() {
        // Window 16, an uncompressed meta-block of 5 bytes, then an empty last meta-block.
        let z = [0x40, 0x00, 0x10, b'h', b'e', b'l', b'l', b'o', 0x03];
        let mut i = Inflater::new(Algorithm::Brotli);
        let mut out = Vec::new();
        for p in z.chunks(2) {
            out.extend(inflate_all(&mut i, p).unwrap());
        }
        assert_eq!(out, b"hello");
        assert!(i.finish().is_ok());
        assert!(inflate_all(&mut Inflater::new(Algorithm::Brotli), &[0xff; 8]).is_err());
    }

    #[test]
    fn a_small_input_inflates_only_as_far_as_asked() {
        let mut z = Vec::new();
        let mut d = Deflater::new(Algorithm::Gzip).unwrap();
        d.feed(&vec![0u8; 64 << 20], &mut |b| z.extend_from_slice(&b)).unwrap();
        d.finish(&mut |b| z.extend_from_slice(&b)).unwrap();
        let mut i = Inflater::new(Algorithm::Gzip);
        i.push(Bytes::from(z));
        let first = i.pull().unwrap().unwrap();
        assert_eq!(first.len(), CHUNK);
        let mut total = first.len();
        while let Some(b) = i.pull().unwrap() {
            total += b.len();
        }
        assert_eq!(total, 64 << 20);
        assert!(i.finish().is_ok());
    }
}
