//! Digest algorithms by OpenSSL's names (`md5`, `sha1`, `sha224`, `sha256`, `sha384`, `sha512`,
//! any case, `SHA-256` and `SHA2-256` too), streamed, plain and as HMAC.

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest as _, Sha224, Sha256, Sha384, Sha512};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Digest {
    pub fn named(name: &str) -> Result<Digest, String> {
        let lower = name.to_ascii_lowercase();
        let bare = lower.strip_prefix("sha2-").map(|n| format!("sha{n}")).unwrap_or_else(|| lower.replace('-', ""));
        Ok(match bare.as_str() {
            "md5" => Digest::Md5,
            "sha1" => Digest::Sha1,
            "sha224" => Digest::Sha224,
            "sha256" => Digest::Sha256,
            "sha384" => Digest::Sha384,
            "sha512" => Digest::Sha512,
            _ => return Err(format!("Unknown algorithm: {name}")),
        })
    }

    /// A running digest.
    pub fn hasher(self) -> Box<dyn Stream> {
        match self {
            Digest::Md5 => Box::new(Hasher(Md5::new())),
            Digest::Sha1 => Box::new(Hasher(Sha1::new())),
            Digest::Sha224 => Box::new(Hasher(Sha224::new())),
            Digest::Sha256 => Box::new(Hasher(Sha256::new())),
            Digest::Sha384 => Box::new(Hasher(Sha384::new())),
            Digest::Sha512 => Box::new(Hasher(Sha512::new())),
        }
    }

    /// A running HMAC with `key` (any length, as HMAC allows).
    pub fn hmac(self, key: &[u8]) -> Box<dyn Stream> {
        fn mac<M: Mac + hmac::digest::KeyInit + hmac::digest::FixedOutputReset + 'static>(
            key: &[u8],
        ) -> Box<dyn Stream> {
            Box::new(MacStream(<M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key length")))
        }
        match self {
            Digest::Md5 => mac::<Hmac<Md5>>(key),
            Digest::Sha1 => mac::<Hmac<Sha1>>(key),
            Digest::Sha224 => mac::<Hmac<Sha224>>(key),
            Digest::Sha256 => mac::<Hmac<Sha256>>(key),
            Digest::Sha384 => mac::<Hmac<Sha384>>(key),
            Digest::Sha512 => mac::<Hmac<Sha512>>(key),
        }
    }
}

/// Bytes in, one digest out.
pub trait Stream {
    fn update(&mut self, bytes: &[u8]);
    /// The digest; the stream starts over.
    fn finish(&mut self) -> Vec<u8>;
}

struct Hasher<D>(D);

impl<D: sha2::Digest + sha2::digest::FixedOutputReset> Stream for Hasher<D> {
    fn update(&mut self, bytes: &[u8]) {
        sha2::Digest::update(&mut self.0, bytes);
    }
    fn finish(&mut self) -> Vec<u8> {
        self.0.finalize_reset().to_vec()
    }
}

struct MacStream<M>(M);

impl<M: Mac + hmac::digest::FixedOutputReset> Stream for MacStream<M> {
    fn update(&mut self, bytes: &[u8]) {
        Mac::update(&mut self.0, bytes);
    }
    fn finish(&mut self) -> Vec<u8> {
        Mac::finalize_reset(&mut self.0).into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn names_as_openssl_takes_them() {
        assert_eq!(Digest::named("SHA256"), Ok(Digest::Sha256));
        assert_eq!(Digest::named("sha-384"), Ok(Digest::Sha384));
        assert_eq!(Digest::named("SHA2-512"), Ok(Digest::Sha512));
        assert_eq!(Digest::named("md5"), Ok(Digest::Md5));
        assert_eq!(Digest::named("sm3"), Err("Unknown algorithm: sm3".into()));
    }

    #[test]
    fn known_answers_streamed() {
        let cases = [
            (Digest::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (Digest::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (Digest::Sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ];
        for (d, want) in cases {
            let mut h = d.hasher();
            h.update(b"a");
            h.update(b"bc");
            assert_eq!(hex(&h.finish()), want, "{d:?}");
        }
    }

    #[test]
    fn hmac_known_answers_of_rfc_4231_and_2202() {
        let mut m = Digest::Sha256.hmac(b"Jefe");
        m.update(b"what do ya want ");
        m.update(b"for nothing?");
        assert_eq!(hex(&m.finish()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let mut m = Digest::Md5.hmac(b"Jefe");
        m.update(b"what do ya want for nothing?");
        assert_eq!(hex(&m.finish()), "750c783e6ab0b503eaa86e310a5db738");
    }
}
