//! Keys and certificates as bytes: what `crypto.Certificate`, `crypto.CertificateChain` and
//! `crypto.PrivateKey` hold, below the filters so that a TLS filter can take them from its
//! arguments (`Args::material`) without knowing the script host.
//!
//! Each keeps the DER bytes it was read from; `pem()` writes them back out and `pki()` hands
//! them over in the types rustls takes.

use std::rc::Rc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// One X.509 certificate.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: CertificateDer<'static>,
}

impl Certificate {
    /// The first certificate in PEM text.
    pub fn from_pem(text: &[u8]) -> Result<Self, String> {
        let der = CertificateDer::from_pem_slice(text).map_err(|e| pem_error("certificate", e))?;
        Ok(Certificate { der })
    }

    pub fn from_der(der: Vec<u8>) -> Self {
        Certificate { der: CertificateDer::from(der) }
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn pem(&self) -> String {
        to_pem("CERTIFICATE", &self.der)
    }

    pub fn pki(&self) -> CertificateDer<'static> {
        self.der.clone()
    }
}

/// Certificates in the order they were given: the leaf first, then its issuers.
#[derive(Debug, Clone)]
pub struct CertificateChain {
    certs: Vec<Certificate>,
}

impl CertificateChain {
    /// Every `CERTIFICATE` block of PEM text, skipping whatever else is there (as Pipy does).
    pub fn from_pem(text: &[u8]) -> Result<Self, String> {
        let certs = CertificateDer::pem_slice_iter(text)
            .map(|c| c.map(|der| Certificate { der }))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error("certificate chain", e))?;
        Ok(CertificateChain { certs })
    }

    pub fn certs(&self) -> &[Certificate] {
        &self.certs
    }

    pub fn pki(&self) -> Vec<CertificateDer<'static>> {
        self.certs.iter().map(Certificate::pki).collect()
    }
}

/// The encoding a private key's DER is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `BEGIN RSA PRIVATE KEY`
    Pkcs1,
    /// `BEGIN EC PRIVATE KEY`
    Sec1,
    /// `BEGIN PRIVATE KEY`
    Pkcs8,
}

/// A private key: RSA, ECDSA or Ed25519, in whichever of the three PEM forms it came.
#[derive(Debug)]
pub struct PrivateKey {
    der: PrivateKeyDer<'static>,
}

impl PrivateKey {
    /// The first private key in PEM text.
    pub fn from_pem(text: &[u8]) -> Result<Self, String> {
        let der = PrivateKeyDer::from_pem_slice(text).map_err(|e| pem_error("private key", e))?;
        Ok(PrivateKey { der })
    }

    pub fn format(&self) -> KeyFormat {
        match self.der {
            PrivateKeyDer::Pkcs1(_) => KeyFormat::Pkcs1,
            PrivateKeyDer::Sec1(_) => KeyFormat::Sec1,
            _ => KeyFormat::Pkcs8,
        }
    }

    pub fn der(&self) -> &[u8] {
        self.der.secret_der()
    }

    pub fn pem(&self) -> String {
        let label = match self.format() {
            KeyFormat::Pkcs1 => "RSA PRIVATE KEY",
            KeyFormat::Sec1 => "EC PRIVATE KEY",
            KeyFormat::Pkcs8 => "PRIVATE KEY",
        };
        to_pem(label, self.der())
    }

    pub fn pki(&self) -> PrivateKeyDer<'static> {
        self.der.clone_key()
    }
}

impl Clone for PrivateKey {
    fn clone(&self) -> Self {
        PrivateKey { der: self.der.clone_key() }
    }
}

/// A script object a filter may be given where TLS material is expected.
#[derive(Debug, Clone)]
pub enum Material {
    Certificate(Rc<Certificate>),
    CertificateChain(Rc<CertificateChain>),
    PrivateKey(Rc<PrivateKey>),
}

fn pem_error(what: &str, e: pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => format!("no {what} found in PEM"),
        e => format!("invalid {what} PEM: {e:?}"),
    }
}

/// PEM text with 64-column lines, as OpenSSL writes it.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A fresh self-signed certificate and key made by the openssl command, as PEM text.
    fn openssl_cert(dir: &std::path::Path, key_args: &[&str]) -> (String, String) {
        let key = dir.join("key.pem");
        let cert = dir.join("cert.pem");
        let status = Command::new("openssl")
            .args(["req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=weir.test/O=Weir"])
            .args(key_args)
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl");
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        (std::fs::read_to_string(cert).unwrap(), std::fs::read_to_string(key).unwrap())
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("weir-material-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn pem_in_is_pem_out_for_certificates_and_keys() {
        let dir = tmp("roundtrip");
        for args in [&["-newkey", "rsa:2048"][..], &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]] {
            let (cert, key) = openssl_cert(&dir, args);
            let c = Certificate::from_pem(cert.as_bytes()).unwrap();
            assert_eq!(c.pem(), cert);
            let k = PrivateKey::from_pem(key.as_bytes()).unwrap();
            assert_eq!(k.format(), KeyFormat::Pkcs8);
            assert_eq!(k.pem(), key);
            assert_eq!(k.pki().secret_der(), k.der());
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_chain_keeps_every_certificate_in_order() {
        let dir = tmp("chain");
        let (a, _) = openssl_cert(&dir, &["-newkey", "rsa:2048"]);
        let (b, _) = openssl_cert(&dir, &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]);
        let text = format!("leaf\n{a}something between\n{b}");
        let chain = CertificateChain::from_pem(text.as_bytes()).unwrap();
        let pems: Vec<String> = chain.certs().iter().map(Certificate::pem).collect();
        assert_eq!(pems, [a, b]);
        assert_eq!(chain.pki().len(), 2);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn traditional_key_forms_keep_their_labels() {
        let rsa = Command::new("openssl").args(["genrsa", "-traditional", "1024"]).output().unwrap();
        let rsa = String::from_utf8(rsa.stdout).unwrap();
        let k = PrivateKey::from_pem(rsa.as_bytes()).unwrap();
        assert_eq!((k.format(), k.pem()), (KeyFormat::Pkcs1, rsa));
        let ec =
            Command::new("openssl").args(["ecparam", "-name", "prime256v1", "-genkey", "-noout"]).output().unwrap();
        let ec = String::from_utf8(ec.stdout).unwrap();
        let k = PrivateKey::from_pem(ec.as_bytes()).unwrap();
        assert_eq!((k.format(), k.pem()), (KeyFormat::Sec1, ec));
    }

    #[test]
    fn garbage_is_an_error_naming_what_was_wanted() {
        assert_eq!(Certificate::from_pem(b"hello").unwrap_err(), "no certificate found in PEM");
        assert!(PrivateKey::from_pem(b"-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n").is_err());
    }
}
