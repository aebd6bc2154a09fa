//! `connectTLS` talking to `acceptTLS` in one pipeline, with certificates openssl makes for
//! each test: the handshake, ALPN, client certificates and trust run in rustls for real,
//! with no socket between the two sides.

use std::path::PathBuf;
use std::process::Command;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::tls_options::Common;
use super::tls_session::{Callbacks, provider};
use super::{accept_tls, connect_tls};
use crate::engine::host::stub::{self, Record, StubHost};
use crate::engine::{Event, FilterSpec};

/// A CA, a server and a client certificate signed by it, and a second, unrelated CA.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("weir-tls-unit-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let pki = Pki { dir };
        pki.ca("ca");
        pki.ca("other");
        pki.leaf("server", "ca", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth");
        pki.leaf("client", "ca", "extendedKeyUsage=clientAuth");
        pki
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl").args(args).current_dir(&self.dir).output().expect("run openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn ca(&self, name: &str) {
        let (key, crt, subj) = (format!("{name}.key"), format!("{name}.crt"), format!("/CN={name}"));
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        self.openssl(
            &[&["req", "-x509"], &ec[..], &["-keyout", &key, "-out", &crt, "-subj", &subj, "-days", "2"]].concat(),
        );
    }

    fn leaf(&self, name: &str, ca: &str, ext: &str) {
        let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
        std::fs::write(self.dir.join(format!("{name}.ext")), ext).expect("ext file");
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        self.openssl(&[&["req"], &ec[..], &["-keyout", &key, "-out", &csr, "-subj", &format!("/CN={name}")]].concat());
        let (ca_crt, ca_key, ext) = (format!("{ca}.crt"), format!("{ca}.key"), format!("{name}.ext"));
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
    }

    fn key(&self, name: &str) -> Arc<CertifiedKey> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(self.dir.join(format!("{name}.crt")))
            .expect("crt")
            .map(|c| c.expect("crt"))
            .collect();
        let key = PrivateKeyDer::from_pem_file(self.dir.join(format!("{name}.key"))).expect("key");
        let key = provider().key_provider.load_private_key(key).expect("load key");
        Arc::new(CertifiedKey::new(chain, key))
    }

    fn roots(&self, name: &str) -> Arc<RootCertStore> {
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(self.dir.join(format!("{name}.crt"))).expect("ca") {
            roots.add(c.expect("ca")).expect("add ca");
        }
        Arc::new(roots)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type Seen = Rc<std::cell::RefCell<Vec<String>>>;

/// `connectTLS(client).to(acceptTLS(server).to(echo))` fed `input`: what came out of the
/// client side, and what the echo behind the server side was given.
fn run(
    client: Common,
    server: Common,
    alpn: (Vec<Vec<u8>>, Vec<Vec<u8>>),
    input: &[&'static [u8]],
) -> (Vec<String>, Seen) {
    let seen = Seen::default();
    let echo = stub::layout(vec![Box::new(Record("server", seen.clone()))]);
    let server: Box<dyn FilterSpec> = accept_tls::spec(server, alpn.1, echo);
    let client = connect_tls::spec(client, alpn.0, stub::layout(vec![server]));
    let input = input.iter().map(|b| Event::Data(Bytes::from_static(b))).collect();
    (stub::run(vec![client], input), seen)
}

fn plain(key: Option<Arc<CertifiedKey>>, roots: Option<Arc<RootCertStore>>) -> Common {
    Common::loaded(key, roots, Callbacks::default())
}

#[test]
fn bytes_go_through_encrypted_and_come_back_decrypted() {
    StubHost::install();
    let pki = Pki::new();
    let client = plain(None, Some(pki.roots("ca")));
    let (out, seen) = run(client, plain(Some(pki.key("server")), None), (vec![], vec![]), &[b"hello", b"world"]);
    assert_eq!(*seen.borrow(), ["server: Data hello", "server: Data world"]);
    assert_eq!(out, ["Data hello", "Data world"]);
}

#[test]
fn the_handshake_callback_and_states_are_told() {
    let stub = StubHost::install();
    let pki = Pki::new();
    let f = StubHost::callback();
    let callbacks = Callbacks { verify: None, on_state: Some(f.clone()), handshake: Some(f) };
    let client = Common::loaded(None, None, callbacks);
    let alpn = (vec![b"h2".to_vec(), b"http/1.1".to_vec()], vec![b"http/1.1".to_vec()]);
    let (out, _) = run(client, plain(Some(pki.key("server")), None), alpn, &[b"x"]);
    assert_eq!(out, ["Data x"]);
    let log = stub.log.borrow();
    let session = "object state,error,protocol,hostname,peer";
    assert_eq!(log[..2], [session, "call/1"], "{log:?}");
    assert!(log.iter().any(|l| l == "object alpn"), "{log:?}");
}

#[test]
fn a_server_not_signed_by_a_trusted_ca_is_refused() {
    StubHost::install();
    let pki = Pki::new();
    let client = plain(None, Some(pki.roots("other")));
    let (out, seen) = run(client, plain(Some(pki.key("server")), None), (vec![], vec![]), &[b"secret"]);
    assert!(seen.borrow().iter().all(|s| !s.contains("secret")), "{seen:?}");
    assert_eq!(out, ["StreamEnd"]);
}

#[test]
fn a_server_with_trusted_requires_a_client_certificate() {
    StubHost::install();
    let pki = Pki::new();
    let server = plain(Some(pki.key("server")), Some(pki.roots("ca")));
    let (out, seen) = run(plain(None, None), server, (vec![], vec![]), &[b"secret"]);
    assert!(seen.borrow().iter().all(|s| !s.contains("secret")), "{seen:?}");
    assert!(out.iter().all(|s| !s.contains("secret")), "{out:?}");
}

#[test]
fn a_client_certificate_signed_by_a_trusted_ca_is_let_in() {
    StubHost::install();
    let pki = Pki::new();
    let server = plain(Some(pki.key("server")), Some(pki.roots("ca")));
    let (out, seen) = run(plain(Some(pki.key("client")), None), server, (vec![], vec![]), &[b"hi"]);
    assert_eq!(*seen.borrow(), ["server: Data hi"]);
    assert_eq!(out, ["Data hi"]);
}

/// What acceptTLS writes for one client's records, as the socket would get it: one `Data`
/// per write.
fn server_writes(
    p: &crate::engine::Pipeline,
    out: &Rc<std::cell::RefCell<Vec<Event>>>,
    records: Vec<u8>,
) -> Vec<Bytes> {
    p.input(Event::Data(Bytes::from(records)));
    let events = std::mem::take(&mut *out.borrow_mut());
    events.into_iter().filter_map(|e| if let Event::Data(b) = e { Some(b) } else { None }).collect()
}

#[test]
fn a_request_answered_and_closed_goes_out_in_one_write_with_the_tickets() {
    use std::io::Write;
    StubHost::install();
    let pki = Pki::new();
    let answers: stub::Answers = Rc::default();
    answers.borrow_mut().push_back(vec![Event::Data(Bytes::from_static(b"response")), Event::end()]);
    let seen = Seen::default();
    let answer = stub::layout(vec![Box::new(stub::Answer("server", seen.clone(), answers))]);
    let server = accept_tls::spec(plain(Some(pki.key("server")), None), vec![], answer);
    let out: Rc<std::cell::RefCell<Vec<Event>>> = Rc::default();
    let sink = out.clone();
    let context = crate::engine::Context::root();
    let p = crate::engine::Pipeline::new(
        stub::layout(vec![server]),
        context,
        Rc::new(move |e: Event| sink.borrow_mut().push(e)),
    );
    p.start(&[]);

    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(pki.roots("ca"))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    let flight = server_writes(&p, &out, hello);
    assert_eq!(flight.len(), 1, "the server's flight");
    client.read_tls(&mut &flight[0][..]).unwrap();
    client.process_new_packets().unwrap();
    client.writer().write_all(b"request").unwrap();
    let mut finished = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut finished).unwrap();
    }
    let writes = server_writes(&p, &out, finished);
    assert_eq!(writes.len(), 1, "tickets, the response and close_notify in one write");
    client.read_tls(&mut &writes[0][..]).unwrap();
    client.process_new_packets().unwrap();
    let mut plain = String::new();
    let _ = std::io::Read::read_to_string(&mut client.reader(), &mut plain);
    assert_eq!(plain, "response");
}

#[test]
fn small_records_are_joined_and_big_ones_go_uncopied() {
    use super::tls_session::join;
    let big = Bytes::from(vec![7; 20 * 1024]);
    let small = |s: &'static [u8]| Event::Data(Bytes::from_static(s));
    let events = vec![small(b"a"), small(b"b"), Event::Data(big.clone()), small(b"c"), Event::end(), small(b"d")];
    let joined = join(events);
    let described: Vec<String> = joined
        .iter()
        .map(|e| if let Event::Data(b) = e { format!("Data {}", b.len()) } else { e.type_name().into() })
        .collect();
    assert_eq!(described, ["Data 2", "Data 20480", "Data 1", "StreamEnd", "Data 1"]);
    let Event::Data(b) = &joined[1] else { unreachable!() };
    assert_eq!(b.as_ptr(), big.as_ptr(), "a big record is passed on, not copied");
}
