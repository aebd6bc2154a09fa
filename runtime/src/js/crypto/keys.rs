//! Signing and verifying with ring, from the DER keys hold: the algorithm follows from the
//! key's kind and the digest the script named (RSA PKCS#1 v1.5 and ECDSA over that digest;
//! Ed25519 signs the message itself, having its own hash).

use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};

use super::digest::Digest;
use crate::codec::x509::{self, KeyKind};
use crate::tls_material::{KeyFormat, PrivateKey};

/// ECDSA signatures as DER (`openssl dgst`, Pipy's Sign) or as r‖s (JWS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcdsaForm {
    Der,
    Fixed,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

fn unsupported(kind: KeyKind, digest: Digest) -> String {
    format!("{kind:?} keys do not sign or verify with {digest:?}")
}

fn ecdsa_signing(kind: KeyKind, digest: Digest, form: EcdsaForm) -> Option<&'static sig::EcdsaSigningAlgorithm> {
    use EcdsaForm::*;
    Some(match (kind, digest, form) {
        (KeyKind::P256, Digest::Sha256, Der) => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
        (KeyKind::P384, Digest::Sha384, Der) => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
        (KeyKind::P256, Digest::Sha256, Fixed) => &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        (KeyKind::P384, Digest::Sha384, Fixed) => &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
        _ => return None,
    })
}

fn pair(key: &PrivateKey, digest: Digest, form: EcdsaForm) -> Result<(KeyKind, Pair), String> {
    let der = key.der();
    let rng = SystemRandom::new();
    let bad = |e: &dyn std::fmt::Display| format!("unusable private key: {e}");
    let ec = |kind| ecdsa_signing(kind, digest, form).ok_or_else(|| unsupported(kind, digest));
    match key.format() {
        KeyFormat::Pkcs1 => Ok((KeyKind::Rsa, Pair::Rsa(RsaKeyPair::from_der(der).map_err(|e| bad(&e))?))),
        KeyFormat::Sec1 => {
            let (kind, private, public) = x509::sec1(der)?;
            let p = EcdsaKeyPair::from_private_key_and_public_key(ec(kind)?, private, public, &rng);
            Ok((kind, Pair::Ecdsa(p.map_err(|e| bad(&e))?)))
        }
        KeyFormat::Pkcs8 => {
            let kind = x509::pkcs8_kind(der)?;
            let pair = match kind {
                KeyKind::Rsa => Pair::Rsa(RsaKeyPair::from_pkcs8(der).map_err(|e| bad(&e))?),
                KeyKind::Ed25519 => {
                    Pair::Ed25519(Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| bad(&e))?)
                }
                _ => Pair::Ecdsa(EcdsaKeyPair::from_pkcs8(ec(kind)?, der, &rng).map_err(|e| bad(&e))?),
            };
            Ok((kind, pair))
        }
    }
}

/// The SubjectPublicKeyInfo of a private key's public half.
pub fn public_of(key: &PrivateKey) -> Result<Vec<u8>, String> {
    // Any digest the key kind signs with will do: only the public half is wanted.
    let kind = match key.format() {
        KeyFormat::Pkcs1 => KeyKind::Rsa,
        KeyFormat::Sec1 => x509::sec1(key.der())?.0,
        KeyFormat::Pkcs8 => x509::pkcs8_kind(key.der())?,
    };
    let digest = if kind == KeyKind::P384 { Digest::Sha384 } else { Digest::Sha256 };
    let bits = match pair(key, digest, EcdsaForm::Der)?.1 {
        Pair::Rsa(p) => p.public_key().as_ref().to_vec(),
        Pair::Ecdsa(p) => p.public_key().as_ref().to_vec(),
        Pair::Ed25519(p) => p.public_key().as_ref().to_vec(),
    };
    Ok(x509::spki_der(kind, &bits))
}

/// Signs `message` with `key` over `digest`.
pub fn sign(key: &PrivateKey, digest: Digest, form: EcdsaForm, message: &[u8]) -> Result<Vec<u8>, String> {
    let rng = SystemRandom::new();
    let failed = |e: ring::error::Unspecified| format!("signing failed: {e}");
    match pair(key, digest, form)? {
        (_, Pair::Rsa(p)) => {
            let padding: &'static dyn sig::RsaEncoding = match digest {
                Digest::Sha256 => &sig::RSA_PKCS1_SHA256,
                Digest::Sha384 => &sig::RSA_PKCS1_SHA384,
                Digest::Sha512 => &sig::RSA_PKCS1_SHA512,
                _ => return Err(unsupported(KeyKind::Rsa, digest)),
            };
            let mut out = vec![0; p.public().modulus_len()];
            p.sign(padding, &rng, message, &mut out).map_err(failed)?;
            Ok(out)
        }
        (_, Pair::Ecdsa(p)) => Ok(p.sign(&rng, message).map_err(failed)?.as_ref().to_vec()),
        (_, Pair::Ed25519(p)) => Ok(p.sign(message).as_ref().to_vec()),
    }
}

/// Whether `signature` is `message` signed by the key of `spki` over `digest`.
pub fn verify(spki: &[u8], digest: Digest, form: EcdsaForm, message: &[u8], signature: &[u8]) -> Result<bool, String> {
    use EcdsaForm::*;
    let (kind, bits) = x509::spki(spki)?;
    let alg: &'static dyn sig::VerificationAlgorithm = match (kind, digest, form) {
        (KeyKind::Rsa, Digest::Sha1, _) => &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
        (KeyKind::Rsa, Digest::Sha256, _) => &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        (KeyKind::Rsa, Digest::Sha384, _) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (KeyKind::Rsa, Digest::Sha512, _) => &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        (KeyKind::P256, Digest::Sha256, Der) => &sig::ECDSA_P256_SHA256_ASN1,
        (KeyKind::P256, Digest::Sha384, Der) => &sig::ECDSA_P256_SHA384_ASN1,
        (KeyKind::P384, Digest::Sha256, Der) => &sig::ECDSA_P384_SHA256_ASN1,
        (KeyKind::P384, Digest::Sha384, Der) => &sig::ECDSA_P384_SHA384_ASN1,
        (KeyKind::P256, Digest::Sha256, Fixed) => &sig::ECDSA_P256_SHA256_FIXED,
        (KeyKind::P384, Digest::Sha384, Fixed) => &sig::ECDSA_P384_SHA384_FIXED,
        (KeyKind::Ed25519, _, _) => &sig::ED25519,
        _ => return Err(unsupported(kind, digest)),
    };
    Ok(sig::UnparsedPublicKey::new(alg, bits).verify(message, signature).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn key(args: &[&str]) -> PrivateKey {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success());
        PrivateKey::from_pem(&out.stdout).unwrap()
    }

    #[test]
    fn traditional_rsa_and_sec1_keys_sign_what_their_public_halves_verify() {
        let rsa = key(&["genrsa", "-traditional", "2048"]);
        let ec = key(&["ecparam", "-name", "prime256v1", "-genkey", "-noout"]);
        assert_eq!((rsa.format(), ec.format()), (KeyFormat::Pkcs1, KeyFormat::Sec1));
        for (k, d) in [(&rsa, Digest::Sha512), (&ec, Digest::Sha256)] {
            let spki = public_of(k).unwrap();
            let sig = sign(k, d, EcdsaForm::Der, b"message").unwrap();
            assert_eq!(verify(&spki, d, EcdsaForm::Der, b"message", &sig), Ok(true));
            assert_eq!(verify(&spki, d, EcdsaForm::Der, b"massage", &sig), Ok(false));
        }
    }

    #[test]
    fn pairs_ring_cannot_sign_are_errors_not_wrong_signatures() {
        let ec = key(&["ecparam", "-name", "prime256v1", "-genkey", "-noout"]);
        assert_eq!(
            sign(&ec, Digest::Sha512, EcdsaForm::Der, b"m").unwrap_err(),
            "P256 keys do not sign or verify with Sha512"
        );
        let rsa = key(&["genrsa", "-traditional", "2048"]);
        assert_eq!(
            sign(&rsa, Digest::Md5, EcdsaForm::Der, b"m").unwrap_err(),
            "Rsa keys do not sign or verify with Md5"
        );
    }
}
