//! The little of ASN.1 DER that keys and certificates need: reading tag-length-value items,
//! object identifiers and times, and writing the few structures `crypto` makes
//! (SubjectPublicKeyInfo, ECDSA signatures).

pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OID: u8 = 0x06;
pub const UTC_TIME: u8 = 0x17;
pub const GENERALIZED_TIME: u8 = 0x18;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;

/// Reads the items of one level of DER, in order.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next item's tag and contents.
    pub fn any(&mut self) -> Result<(u8, &'a [u8]), String> {
        let bad = || "truncated DER".to_string();
        let (&tag, rest) = self.rest.split_first().ok_or_else(bad)?;
        let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
        let len = if first < 0x80 {
            first as usize
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return Err(bad());
            }
            let len = rest[..n].iter().fold(0usize, |l, b| l << 8 | *b as usize);
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return Err(bad());
        }
        self.rest = &rest[len..];
        Ok((tag, &rest[..len]))
    }

    /// The next item's contents, which must have `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<&'a [u8], String> {
        match self.any()? {
            (t, body) if t == tag => Ok(body),
            (t, _) => Err(format!("DER: tag {t:#04x} where {tag:#04x} was expected")),
        }
    }

    /// The next item's contents if it has `tag`; nothing is read otherwise.
    pub fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, String> {
        match self.rest.first() {
            Some(&t) if t == tag => self.expect(tag).map(Some),
            _ => Ok(None),
        }
    }

    /// A reader of the next item's contents, which must have `tag` (a SEQUENCE, a SET).
    pub fn nested(&mut self, tag: u8) -> Result<Reader<'a>, String> {
        self.expect(tag).map(Reader::new)
    }
}

/// The bits of a BIT STRING with no unused bits (keys and signatures).
pub fn bit_string(body: &[u8]) -> Result<&[u8], String> {
    match body.split_first() {
        Some((0, bits)) => Ok(bits),
        _ => Err("DER: a BIT STRING with unused bits".into()),
    }
}

/// An object identifier in dotted form, `1.2.840.113549.1.1.1`.
pub fn oid(body: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut n = 0u64;
    for &b in body {
        n = n << 7 | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let first = (n / 40).min(2);
                parts.push(first);
                parts.push(n - first * 40);
            } else {
                parts.push(n);
            }
            n = 0;
        }
    }
    parts.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// A UTCTime or GeneralizedTime (`Z` form, as certificates use) in milliseconds since 1970.
pub fn time_ms(tag: u8, body: &[u8]) -> Result<f64, String> {
    let bad = || format!("DER: bad time {:?}", String::from_utf8_lossy(body));
    let text = std::str::from_utf8(body).map_err(|_| bad())?;
    let digits = text.strip_suffix('Z').ok_or_else(bad)?;
    let num = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let (year, rest) = match tag {
        UTC_TIME if digits.len() == 12 => {
            let y = num(&digits[..2])?;
            (if y >= 50 { 1900 + y } else { 2000 + y }, &digits[2..])
        }
        GENERALIZED_TIME if digits.len() == 14 => (num(&digits[..4])?, &digits[4..]),
        _ => return Err(bad()),
    };
    let field = |i: usize| num(&rest[i * 2..i * 2 + 2]);
    let days = days_from_civil(year, field(0)?, field(1)?);
    let secs = days * 86400 + field(2)? * 3600 + field(3)? * 60 + field(4)?;
    Ok(secs as f64 * 1000.0)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// One item: `tag`, its length, `body`.
pub fn item(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(body);
    out
}

/// An OBJECT IDENTIFIER item from its dotted form.
pub fn oid_item(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').filter_map(|a| a.parse().ok()).collect();
    let mut body = Vec::new();
    let first = arcs.first().copied().unwrap_or(0) * 40 + arcs.get(1).copied().unwrap_or(0);
    for arc in std::iter::once(first).chain(arcs.iter().skip(2).copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        body.extend(groups.iter().rev());
    }
    item(OID, &body)
}

/// An unsigned big-endian number as an INTEGER item (no leading zeros, a zero added when the
/// top bit is set).
pub fn unsigned_item(n: &[u8]) -> Vec<u8> {
    let n = &n[n.iter().take_while(|b| **b == 0).count().min(n.len().saturating_sub(1))..];
    let mut body = Vec::with_capacity(n.len() + 1);
    if n.first().is_some_and(|b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(n);
    item(INTEGER, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_identifiers_both_ways() {
        for dotted in ["1.2.840.113549.1.1.1", "2.5.4.3", "1.3.101.112", "1.2.840.10045.3.1.7"] {
            let encoded = oid_item(dotted);
            let mut r = Reader::new(&encoded);
            assert_eq!(oid(r.expect(OID).unwrap()), dotted);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn long_lengths_and_truncation() {
        let body = vec![7u8; 300];
        let encoded = item(OCTET_STRING, &body);
        assert_eq!(&encoded[..4], [OCTET_STRING, 0x82, 0x01, 0x2c]);
        assert_eq!(Reader::new(&encoded).expect(OCTET_STRING).unwrap(), body);
        assert!(Reader::new(&encoded[..100]).any().is_err());
        assert!(Reader::new(&encoded).expect(SEQUENCE).is_err());
    }

    #[test]
    fn times_of_both_kinds_in_milliseconds() {
        assert_eq!(time_ms(UTC_TIME, b"700101000000Z").unwrap(), 0.0);
        assert_eq!(time_ms(UTC_TIME, b"491231235959Z").unwrap(), 2524607999000.0);
        assert_eq!(time_ms(GENERALIZED_TIME, b"20261207000000Z").unwrap(), 1796601600000.0);
        assert!(time_ms(UTC_TIME, b"2612070000Z").is_err());
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(unsigned_item(&[0, 0, 0x7f]), [INTEGER, 1, 0x7f]);
        assert_eq!(unsigned_item(&[0, 0x80]), [INTEGER, 2, 0, 0x80]);
        assert_eq!(unsigned_item(&[0, 0]), [INTEGER, 1, 0]);
    }
}
