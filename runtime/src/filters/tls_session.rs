//! What `acceptTLS` and `connectTLS` share: a rustls connection driven over events instead of
//! a socket (ciphertext in, plaintext out and the other way), the certificate checks that may
//! ask the script, and the session object `onState` gets.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, Connection, DigitallySignedStruct, DistinguishedName, Error, RootCertStore, SignatureScheme,
};

use crate::engine::{Callback, Context, Event, Value, host};

/// The one crypto provider (aws-lc-rs), made once: a handshake's time is mostly its key
/// exchange, signature and key schedule, which aws-lc does faster than ring (issue 21).
/// TLS_AES_128_GCM_SHA256 comes first (and acceptTLS chooses by this order): its key
/// schedule hashes with SHA-256, which the CPU's SHA extensions do, where SHA-384's
/// SHA-512 rounds took an eighth of a handshake's CPU time.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    let make = || {
        let mut p = rustls::crypto::aws_lc_rs::default_provider();
        p.cipher_suites.sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
        Arc::new(p)
    };
    PROVIDER.get_or_init(make).clone()
}

/// A certificate chain and its key, from a script's `{ cert, key }`.
pub fn certified(v: &Value) -> Result<Option<Arc<CertifiedKey>>, String> {
    let Some((chain, key)) = host().certificate_pair(v)? else { return Ok(None) };
    if chain.is_empty() {
        return Err("empty certificate chain".into());
    }
    let key = PrivateKeyDer::try_from(key).map_err(|e| format!("certificate.key: {e}"))?;
    let key = provider().key_provider.load_private_key(key).map_err(|e| format!("certificate.key: {e}"))?;
    let chain = chain.into_iter().map(CertificateDer::from).collect();
    Ok(Some(Arc::new(CertifiedKey::new(chain, key))))
}

/// The trust anchors of `trusted`, an array of `crypto.Certificate`.
pub fn roots(trusted: &Value) -> Result<Arc<RootCertStore>, String> {
    let host = host();
    let list = host.to_list(trusted).ok_or("trusted expects an array of crypto.Certificate")?;
    let mut roots = RootCertStore::empty();
    for (i, v) in list.iter().enumerate() {
        for der in host.certificates(v).map_err(|e| format!("trusted[{i}]: {e}"))? {
            roots.add(CertificateDer::from(der)).map_err(|e| format!("trusted[{i}]: {e}"))?;
        }
    }
    Ok(Arc::new(roots))
}

/// What `verify(ok, cert)` is asked with while a connection processes the peer's records.
type Hook = Box<dyn FnMut(bool, &[u8]) -> bool>;

thread_local! {
    /// The verifiers rustls calls must be `Send + Sync`, script callbacks are not: the
    /// connection being processed on this thread puts its callback here for the duration.
    static VERIFY: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// The verdict on a peer certificate: rustls's, or the script's when it gave `verify`.
fn ask(ok: bool, cert: &CertificateDer<'_>) -> bool {
    let hook = VERIFY.with(|h| h.borrow_mut().take());
    let Some(mut hook) = hook else { return ok };
    let verdict = hook(ok, cert.as_ref());
    VERIFY.with(|h| *h.borrow_mut() = Some(hook));
    verdict
}

fn refused(e: Option<Error>) -> Error {
    e.unwrap_or(Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
}

/// connectTLS's check of the server: none without `trusted` (Pipy's OpenSSL context checks
/// nothing then), else the chain against `trusted`; never the name, as in Pipy.
#[derive(Debug)]
pub struct ServerCheck {
    pub roots: Option<Arc<RootCertStore>>,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(roots) = &self.roots else { return Ok(ServerCertVerified::assertion()) };
        let algs = provider().signature_verification_algorithms.all;
        let result = ParsedCertificate::try_from(end_entity).and_then(|c| {
            rustls::client::verify_server_cert_signed_by_trust_anchor(&c, roots, intermediates, now, algs)
        });
        match ask(result.is_ok(), end_entity) {
            true => Ok(ServerCertVerified::assertion()),
            false => Err(refused(result.err())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match ParsedCertificate::try_from(cert) {
            Ok(_) => verify_tls12_signature(message, cert, dss, &provider().signature_verification_algorithms),
            Err(_) => signed_by_raw_key(message, cert, dss),
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match ParsedCertificate::try_from(cert) {
            Ok(_) => verify_tls13_signature(message, cert, dss, &provider().signature_verification_algorithms),
            // Schemes TLS 1.3 does not allow (RFC 8446 4.2.3).
            Err(e)
                if matches!(
                    dss.scheme,
                    SignatureScheme::RSA_PKCS1_SHA1
                        | SignatureScheme::RSA_PKCS1_SHA256
                        | SignatureScheme::RSA_PKCS1_SHA384
                        | SignatureScheme::RSA_PKCS1_SHA512
                        | SignatureScheme::ECDSA_SHA1_Legacy
                ) =>
            {
                Err(e)
            }
            Err(_) => signed_by_raw_key(message, cert, dss),
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}

/// The handshake signature checked with the key of a certificate webpki does not read:
/// webpki takes X.509 v3 only, OpenSSL (Pipy) also v1, which Pipy's own test certificates
/// are. Only a server that was not to be checked gets here (with `trusted`, one whose
/// refusal `verify` overruled), so the key is all that matters: it is read from the
/// SubjectPublicKeyInfo and each algorithm the scheme maps to is tried, as rustls does.
fn signed_by_raw_key(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, Error> {
    let bad = || Error::InvalidCertificate(CertificateError::BadEncoding);
    let info = crate::codec::x509::certificate(cert.as_ref()).map_err(|_| bad())?;
    let (_, key) = crate::codec::x509::spki(&info.spki).map_err(|_| bad())?;
    let algs = provider().signature_verification_algorithms.mapping;
    let candidates = algs.iter().filter(|(scheme, _)| *scheme == dss.scheme).flat_map(|(_, a)| a.iter());
    for alg in candidates {
        if alg.verify_signature(key, message, dss.signature()).is_ok() {
            return Ok(HandshakeSignatureValid::assertion());
        }
    }
    Err(Error::InvalidCertificate(CertificateError::BadSignature))
}

/// acceptTLS's check of a client with `trusted`: a certificate is required and its chain is
/// checked by rustls's WebPKI verifier, whose verdict `verify` may overrule.
#[derive(Debug)]
pub struct ClientCheck {
    pub inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCheck {
    pub fn new(roots: Arc<RootCertStore>) -> Result<ClientCheck, String> {
        let inner = rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| format!("trusted: {e}"))?;
        Ok(ClientCheck { inner })
    }
}

impl ClientCertVerifier for ClientCheck {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let result = self.inner.verify_client_cert(end_entity, intermediates, now);
        match ask(result.is_ok(), end_entity) {
            true => Ok(ClientCertVerified::assertion()),
            false => Err(refused(result.err())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The script's callbacks about one session.
#[derive(Clone, Default)]
pub struct Callbacks {
    pub verify: Option<Callback>,
    pub on_state: Option<Callback>,
    pub handshake: Option<Callback>,
}

/// What came of feeding a session.
#[derive(Default)]
pub struct Flow {
    /// Decrypted bytes for the application side.
    pub plain: Vec<Bytes>,
    /// Records for the network side (handshake, data, alerts).
    pub cipher: Vec<Bytes>,
    /// The peer closed (`close_notify`) or the session failed: nothing more will come.
    pub closed: bool,
}

/// Pipy's `TLSSession.state`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Handshake,
    Connected,
    Closed,
}

/// A rustls connection fed from events.
pub struct Session {
    conn: Connection,
    context: Rc<Context>,
    callbacks: Callbacks,
    state: State,
    error: Option<String>,
    /// The server name: what the client asked for (acceptTLS), or sent (connectTLS).
    hostname: Option<String>,
    /// Where plaintext is read to before it is copied out, made at the first read.
    scratch: Option<Box<[u8]>>,
}

impl Session {
    /// A session whose handshake has begun (Pipy's state `handshake`).
    pub fn new(mut conn: Connection, context: Rc<Context>, callbacks: Callbacks, hostname: Option<String>) -> Session {
        // Plaintext the application sends before the handshake ends waits in rustls, as it
        // waits in Pipy's write buffer, whatever its size.
        conn.set_buffer_limit(None);
        let session =
            Session { conn, context, callbacks, state: State::Handshake, error: None, hostname, scratch: None };
        session.tell_state();
        session
    }

    /// Feeds records from the peer (and processes what rustls already holds, when empty).
    pub fn receive(&mut self, mut data: &[u8]) -> Flow {
        let mut flow = Flow::default();
        loop {
            if let Err(e) = self.conn.read_tls(&mut data) {
                self.fail(e.to_string(), &mut flow);
                break;
            }
            if let Err(e) = self.process() {
                self.fail(e.to_string(), &mut flow);
                break;
            }
            self.read_plain(&mut flow);
            self.write_cipher(&mut flow);
            if flow.closed || data.is_empty() {
                break;
            }
        }
        self.check_connected();
        flow
    }

    /// Encrypts application bytes (held by rustls until the handshake is done).
    pub fn send(&mut self, plain: &[u8]) -> Flow {
        let mut flow = Flow::default();
        if self.state != State::Closed {
            // With no buffer limit, rustls takes every byte.
            let _ = self.conn.writer().write_all(plain);
            self.write_cipher(&mut flow);
        }
        flow
    }

    /// Says `close_notify` to the peer.
    pub fn close(&mut self) -> Flow {
        let mut flow = Flow::default();
        if self.state != State::Closed {
            self.conn.send_close_notify();
            self.write_cipher(&mut flow);
            self.set_state(State::Closed);
        }
        flow
    }

    /// rustls's processing of the records in, with the script's `verify` at hand.
    fn process(&mut self) -> Result<(), Error> {
        let hook = self.callbacks.verify.clone().map(|f| {
            let context = self.context.clone();
            Box::new(move |ok: bool, der: &[u8]| {
                let host = host();
                let cert = host.certificate_value(der).unwrap_or_default();
                match host.call(&context, &f, &[Value::from(ok), cert]) {
                    Ok(v) => v.to_boolean(),
                    Err(e) => {
                        tracing::error!(target: "tls", "verify: {e}");
                        false
                    }
                }
            }) as Hook
        });
        VERIFY.with(|h| *h.borrow_mut() = hook);
        let result = self.conn.process_new_packets().map(|_| ());
        VERIFY.with(|h| h.borrow_mut().take());
        result
    }

    fn read_plain(&mut self, flow: &mut Flow) {
        // One zeroed buffer per session, not per read: a request is a few hundred bytes,
        // and zeroing 16 KiB for each (and for the read that finds nothing) showed in profiles.
        let mut scratch = self.scratch.take().unwrap_or_else(|| vec![0; 16 * 1024].into_boxed_slice());
        loop {
            match self.conn.reader().read(&mut scratch) {
                Ok(0) => {
                    flow.closed = true;
                    self.set_state(State::Closed);
                    break;
                }
                Ok(n) => flow.plain.push(Bytes::copy_from_slice(&scratch[..n])),
                Err(_) => break,
            }
        }
        self.scratch = Some(scratch);
    }

    fn write_cipher(&mut self, flow: &mut Flow) {
        while self.conn.wants_write() {
            let mut buf = Vec::new();
            if self.conn.write_tls(&mut buf).is_err() || buf.is_empty() {
                return;
            }
            flow.cipher.push(Bytes::from(buf));
        }
    }

    /// The handshake or a record failed: the alert rustls queued goes out, and the session
    /// is over.
    fn fail(&mut self, error: String, flow: &mut Flow) {
        tracing::warn!(target: "tls", "handshake failed: {error}");
        self.write_cipher(flow);
        flow.closed = true;
        self.error = Some(error);
        self.set_state(State::Closed);
    }

    fn check_connected(&mut self) {
        if self.state != State::Handshake || self.conn.is_handshaking() {
            return;
        }
        if let Some(f) = &self.callbacks.handshake {
            let host = host();
            // Pipy's handshake info has an empty string when no protocol was chosen.
            let alpn = self.conn.alpn_protocol().map_or(String::new(), |p| String::from_utf8_lossy(p).into_owned());
            let info = host.object(&[("alpn", text(&alpn))]);
            if let Err(e) = info.and_then(|info| host.call(&self.context, f, &[info])) {
                tracing::error!(target: "tls", "handshake: {e}");
            }
        }
        self.set_state(State::Connected);
    }

    fn set_state(&mut self, state: State) {
        if self.state != state {
            self.state = state;
            self.tell_state();
        }
    }

    fn protocol(&self) -> Value {
        self.conn.alpn_protocol().map_or(Value::null(), |p| text(&String::from_utf8_lossy(p)))
    }

    /// `onState(session)`, with what Pipy's session object shows, as it is now.
    fn tell_state(&self) {
        let Some(f) = &self.callbacks.on_state else { return };
        let host = host();
        let state = match self.state {
            State::Handshake => "handshake",
            State::Connected => "connected",
            State::Closed => "closed",
        };
        let hostname = self.hostname.as_deref().map_or(Value::null(), text);
        let peer = self.conn.peer_certificates().and_then(|c| c.first()).map(|c| host.certificate_value(c.as_ref()));
        let fields = [
            ("state", text(state)),
            ("error", self.error.as_deref().map_or(Value::null(), text)),
            ("protocol", self.protocol()),
            ("hostname", hostname),
            ("peer", peer.and_then(Result::ok).unwrap_or(Value::null())),
        ];
        if let Err(e) = host.object(&fields).and_then(|s| host.call(&self.context, f, &[s])) {
            tracing::error!(target: "tls", "onState: {e}");
        }
    }
}

/// Up to how many bytes of records [`join`] copies into one write.
const JOIN: usize = 16 * 1024;

/// Runs of records turned into as few `Data` events as they fit in [`JOIN`] bytes: each
/// `Data` becomes a socket write (a syscall, and a segment for the peer to take), and one
/// turn often makes several small ones (the session tickets, a short response and its
/// `close_notify` after a client's `Finished`: issue 21). Bigger records go as they are,
/// uncopied; events other than `Data` keep their place.
pub fn join(events: Vec<Event>) -> Vec<Event> {
    if events.len() < 2 {
        return events;
    }
    let mut joined = Vec::with_capacity(events.len());
    let mut run: Vec<Bytes> = Vec::new();
    for evt in events {
        match evt {
            Event::Data(b) => {
                if !run.is_empty() && run.iter().map(Bytes::len).sum::<usize>() + b.len() > JOIN {
                    joined.push(Event::Data(concat(std::mem::take(&mut run))));
                }
                run.push(b);
            }
            evt => {
                if !run.is_empty() {
                    joined.push(Event::Data(concat(std::mem::take(&mut run))));
                }
                joined.push(evt);
            }
        }
    }
    if !run.is_empty() {
        joined.push(Event::Data(concat(run)));
    }
    joined
}

fn concat(mut run: Vec<Bytes>) -> Bytes {
    match run.len() {
        1 => run.pop().unwrap_or_default(),
        _ => Bytes::from(run.concat()),
    }
}

fn text(s: &str) -> Value {
    Value::from(boa_engine::JsString::from(s))
}
