//! What `crypto` reads from certificates and keys: a certificate's names, dates and DNS
//! alternative names; which kind of key a SubjectPublicKeyInfo, PKCS#8 or SEC1 structure
//! holds.

use super::der::{self, Reader};

/// A certificate's fields as Pipy shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct CertInfo {
    /// (OpenSSL's long name of the attribute, value), in order.
    pub issuer: Vec<(String, String)>,
    pub subject: Vec<(String, String)>,
    /// The DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
    /// Milliseconds since 1970.
    pub not_before: f64,
    pub not_after: f64,
    /// The SubjectPublicKeyInfo, whole.
    pub spki: Vec<u8>,
}

const SUBJECT_ALT_NAME: &str = "2.5.29.17";
const RSA: &str = "1.2.840.113549.1.1.1";
const EC: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";

/// Parses an X.509 certificate.
pub fn certificate(cert: &[u8]) -> Result<CertInfo, String> {
    let mut tbs = Reader::new(cert).nested(der::SEQUENCE)?.nested(der::SEQUENCE)?;
    tbs.optional(0xa0)?; // version
    tbs.expect(der::INTEGER)?; // serial number
    tbs.expect(der::SEQUENCE)?; // signature algorithm
    let issuer = name(tbs.expect(der::SEQUENCE)?)?;
    let mut validity = tbs.nested(der::SEQUENCE)?;
    let (tag, t) = validity.any()?;
    let not_before = der::time_ms(tag, t)?;
    let (tag, t) = validity.any()?;
    let not_after = der::time_ms(tag, t)?;
    let subject = name(tbs.expect(der::SEQUENCE)?)?;
    let spki = der::item(der::SEQUENCE, tbs.expect(der::SEQUENCE)?);
    tbs.optional(0x81)?; // issuerUniqueID
    tbs.optional(0x82)?; // subjectUniqueID
    let mut dns_names = Vec::new();
    if let Some(exts) = tbs.optional(0xa3)? {
        let mut exts = Reader::new(exts).nested(der::SEQUENCE)?;
        while !exts.is_empty() {
            let mut ext = exts.nested(der::SEQUENCE)?;
            let id = der::oid(ext.expect(der::OID)?);
            ext.optional(0x01)?; // critical
            let value = ext.expect(der::OCTET_STRING)?;
            if id == SUBJECT_ALT_NAME {
                dns_names = alt_dns_names(value)?;
            }
        }
    }
    Ok(CertInfo { issuer, subject, dns_names, not_before, not_after, spki })
}

fn name(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut rdns = Reader::new(body);
    let mut out = Vec::new();
    while !rdns.is_empty() {
        let mut set = rdns.nested(der::SET)?;
        while !set.is_empty() {
            let mut attr = set.nested(der::SEQUENCE)?;
            let id = der::oid(attr.expect(der::OID)?);
            let (_, value) = attr.any()?;
            out.push((long_name(&id), String::from_utf8_lossy(value).into_owned()));
        }
    }
    Ok(out)
}

fn alt_dns_names(value: &[u8]) -> Result<Vec<String>, String> {
    let mut names = Reader::new(value).nested(der::SEQUENCE)?;
    let mut out = Vec::new();
    while !names.is_empty() {
        // dNSName is [2] IMPLICIT IA5String.
        if let (0x82, name) = names.any()? {
            out.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok(out)
}

/// OpenSSL's long name of a name attribute (what Pipy shows); the dotted form otherwise.
fn long_name(oid: &str) -> String {
    let name = match oid {
        "2.5.4.3" => "commonName",
        "2.5.4.4" => "surname",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "countryName",
        "2.5.4.7" => "localityName",
        "2.5.4.8" => "stateOrProvinceName",
        "2.5.4.9" => "streetAddress",
        "2.5.4.10" => "organizationName",
        "2.5.4.11" => "organizationalUnitName",
        "2.5.4.12" => "title",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "givenName",
        "2.5.4.43" => "initials",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.1" => "userId",
        "0.9.2342.19200300.100.1.25" => "domainComponent",
        other => other,
    };
    name.to_string()
}

/// The kinds of key `crypto` signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

fn key_kind(alg: &[u8]) -> Result<KeyKind, String> {
    let mut alg = Reader::new(alg);
    let id = der::oid(alg.expect(der::OID)?);
    match id.as_str() {
        RSA => Ok(KeyKind::Rsa),
        ED25519 => Ok(KeyKind::Ed25519),
        EC => match der::oid(alg.expect(der::OID)?).as_str() {
            P256 => Ok(KeyKind::P256),
            P384 => Ok(KeyKind::P384),
            curve => Err(format!("unsupported elliptic curve {curve}")),
        },
        other => Err(format!("unsupported key algorithm {other}")),
    }
}

fn curve_oid(kind: KeyKind) -> &'static str {
    if kind == KeyKind::P384 { P384 } else { P256 }
}

/// A SubjectPublicKeyInfo's kind and key bits (RSAPublicKey DER, an EC point, or 32 bytes).
pub fn spki(spki: &[u8]) -> Result<(KeyKind, &[u8]), String> {
    let mut info = Reader::new(spki).nested(der::SEQUENCE)?;
    let kind = key_kind(info.expect(der::SEQUENCE)?)?;
    Ok((kind, der::bit_string(info.expect(der::BIT_STRING)?)?))
}

/// The SubjectPublicKeyInfo of a key of `kind` with `bits` (the inverse of [`spki`]).
pub fn spki_der(kind: KeyKind, bits: &[u8]) -> Vec<u8> {
    let alg = match kind {
        KeyKind::Rsa => [der::oid_item(RSA), der::item(der::NULL, &[])].concat(),
        KeyKind::Ed25519 => der::oid_item(ED25519),
        KeyKind::P256 | KeyKind::P384 => [der::oid_item(EC), der::oid_item(curve_oid(kind))].concat(),
    };
    let key = der::item(der::BIT_STRING, &[&[0u8][..], bits].concat());
    der::item(der::SEQUENCE, &[der::item(der::SEQUENCE, &alg), key].concat())
}

/// The kind of key a PKCS#8 PrivateKeyInfo holds.
pub fn pkcs8_kind(pkcs8: &[u8]) -> Result<KeyKind, String> {
    let mut info = Reader::new(pkcs8).nested(der::SEQUENCE)?;
    info.expect(der::INTEGER)?;
    key_kind(info.expect(der::SEQUENCE)?)
}

/// A SEC1 ECPrivateKey's curve, private scalar and public point.
pub fn sec1(key: &[u8]) -> Result<(KeyKind, &[u8], &[u8]), String> {
    let mut k = Reader::new(key).nested(der::SEQUENCE)?;
    k.expect(der::INTEGER)?;
    let private = k.expect(der::OCTET_STRING)?;
    let params = k.optional(0xa0)?.ok_or("EC PRIVATE KEY without its curve")?;
    let kind = match der::oid(Reader::new(params).expect(der::OID)?).as_str() {
        P256 => KeyKind::P256,
        P384 => KeyKind::P384,
        curve => return Err(format!("unsupported elliptic curve {curve}")),
    };
    let public = k.optional(0xa1)?.ok_or("EC PRIVATE KEY without its public key")?;
    Ok((kind, private, der::bit_string(Reader::new(public).expect(der::BIT_STRING)?)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        out.stdout
    }

    #[test]
    fn a_certificate_made_by_openssl_reads_as_openssl_prints_it() {
        let dir = std::env::temp_dir().join(format!("weir-x509-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("k.pem");
        let out = Command::new("openssl")
            .args(["req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-days", "3"])
            .args(["-subj", "/C=CN/ST=Beijing/O=Weir Test/CN=weir.test", "-outform", "DER"])
            .args(["-addext", "subjectAltName=DNS:a.weir.test,IP:127.0.0.1,DNS:b.weir.test", "-keyout"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success());
        let info = certificate(&out.stdout).unwrap();
        let names = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        let subject = names(&[
            ("countryName", "CN"),
            ("stateOrProvinceName", "Beijing"),
            ("organizationName", "Weir Test"),
            ("commonName", "weir.test"),
        ]);
        assert_eq!(info.subject, subject);
        assert_eq!(info.issuer, subject);
        assert_eq!(info.dns_names, ["a.weir.test", "b.weir.test"]);
        assert_eq!(info.not_after - info.not_before, 3.0 * 86400.0 * 1000.0);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64;
        assert!((info.not_before - now).abs() < 120_000.0, "{} vs {now}", info.not_before);
        let pubkey = openssl(&["x509", "-inform", "DER", "-pubkey", "-noout"], &out.stdout);
        assert_eq!(info.spki, openssl(&["pkey", "-pubin", "-outform", "DER"], &pubkey));
        let (kind, bits) = spki(&info.spki).unwrap();
        assert_eq!((kind, bits.len()), (KeyKind::P384, 97));
        assert_eq!(spki_der(kind, bits), info.spki);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
