//! A `Range: bytes=` header for `http.Directory` (Pipy answers every request with the whole
//! file). One range is served; a header with several, or one not understood, is answered
//! with the whole file, as RFC 9110 lets a server do.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

#[derive(Debug, PartialEq)]
pub enum Range {
    /// Serve the whole file.
    Whole,
    /// A range wholly past the end: 416.
    Unsatisfiable,
    /// First and last byte, inclusive: 206.
    Part(u64, u64),
}

/// Reads `spec` (the header's value) for a file of `len` bytes.
pub fn parse(spec: &str, len: u64) -> Range {
    let Some(set) = spec.trim().strip_prefix("bytes=") else { return Range::Whole };
    if set.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = set.trim().split_once('-') else { return Range::Whole };
    let number =
        |s: &str| (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u64>().ok()).flatten();
    match (number(first), number(last), last.is_empty()) {
        // `-n`: the last n bytes.
        (None, Some(n), _) if first.is_empty() => match n {
            0 => Range::Unsatisfiable,
            _ if len == 0 => Range::Unsatisfiable,
            n => Range::Part(len.saturating_sub(n), len - 1),
        },
        (Some(a), _, _) if a >= len => Range::Unsatisfiable,
        (Some(a), None, true) => Range::Part(a, len - 1),
        (Some(a), Some(b), _) if b >= a => Range::Part(a, b.min(len - 1)),
        _ => Range::Whole,
    }
}

/// Bytes `first..=last` of the file at `path`.
pub fn read(path: &Path, first: u64, last: u64) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(first))?;
    let mut buf = vec![0; (last - first + 1) as usize];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(parse("bytes=0-9", 100), Range::Part(0, 9));
        assert_eq!(parse("bytes=90-", 100), Range::Part(90, 99));
        assert_eq!(parse("bytes=-10", 100), Range::Part(90, 99));
        assert_eq!(parse("bytes=-500", 100), Range::Part(0, 99));
        assert_eq!(parse("bytes=50-500", 100), Range::Part(50, 99));
        assert_eq!(parse("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 100), Range::Unsatisfiable);
        assert_eq!(parse("bytes=0-0", 0), Range::Unsatisfiable);
        assert_eq!(parse("bytes=9-1", 100), Range::Whole);
        assert_eq!(parse("bytes=0-1,5-6", 100), Range::Whole);
        assert_eq!(parse("items=0-1", 100), Range::Whole);
        assert_eq!(parse("bytes=x-1", 100), Range::Whole);
    }
}
