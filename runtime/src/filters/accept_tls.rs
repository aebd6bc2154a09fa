//! `acceptTLS(options).to(sub)`: the server side of TLS over the event stream. Records from
//! the client come in as `Data`; the sub-pipeline gets the decrypted bytes, and what it sends
//! back is encrypted and is this filter's output.
//!
//! The client's hello is read first (rustls's `Acceptor`), so the certificate callback is
//! asked once, with the server name the client sent (Pipy asks before the hello too, with
//! nothing), and the protocol is chosen from the client's `alpn` list: the first one in
//! `options.alpn` when it is an array, or the one whose index `options.alpn(names)` returns.
//! `trusted` makes a client certificate required and checked; `verify(ok, cert)` may
//! overrule the check.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use boa_engine::{JsResult, JsString};
use bytes::Bytes;
use rustls::server::{Acceptor, ClientHello, ServerSessionMemoryCache, StoresServerSessions};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{Connection, ServerConfig};

use super::Made;
use super::tls_options::{self, Common};
use super::tls_session::{ClientCheck, Flow, Session, join, provider};
use super::tls_sub::TlsSub;
use crate::args::Args;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Layout, Output, Value, host};

/// `options.alpn`.
enum Alpn {
    Off,
    Names(Vec<Vec<u8>>),
    Choose(Callback),
}

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let common = tls_options::common(args, 0)?;
    if common.certificate.is_none() {
        return Err(args.error("option certificate is required"));
    }
    let alpn = args.options(0).value("alpn")?;
    let alpn = match alpn {
        None => Alpn::Off,
        Some(v) => match v.as_object().filter(|o| o.is_callable()) {
            Some(f) => Alpn::Choose(f),
            None => Alpn::Names(
                tls_options::names(&v, false, args.js_context()).map_err(|e| args.error(format!("option {e}")))?,
            ),
        },
    };
    let sessions = ServerSessionMemoryCache::new(256);
    let shared = Rc::new(Shared { common, alpn, clients: OnceCell::new(), sessions, last: RefCell::default() });
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| Box::new(Spec { shared, sub }))))
}

struct Shared {
    common: Common,
    alpn: Alpn,
    /// The check of client certificates, made at the first connection.
    clients: OnceCell<Result<Option<Arc<ClientCheck>>, String>>,
    /// Sessions to resume, shared by this filter's connections as one OpenSSL context's are.
    sessions: Arc<dyn StoresServerSessions>,
    /// The last configuration made, with the key and protocols it was made for: with a fixed
    /// certificate, every connection asking for the same protocol shares it.
    last: RefCell<Option<Last>>,
}

/// A configuration, with the key and protocols it was made for.
type Last = (Arc<CertifiedKey>, Vec<Vec<u8>>, Arc<ServerConfig>);

impl Shared {
    /// The configuration for one client's hello: its certificate and protocol.
    fn config(&self, key: Arc<CertifiedKey>, alpn: Vec<Vec<u8>>) -> Result<Arc<ServerConfig>, String> {
        if let Some((k, a, config)) = &*self.last.borrow()
            && Arc::ptr_eq(k, &key)
            && *a == alpn
        {
            return Ok(config.clone());
        }
        let config = self.make_config(key.clone(), alpn.clone())?;
        *self.last.borrow_mut() = Some((key, alpn, config.clone()));
        Ok(config)
    }

    fn make_config(&self, key: Arc<CertifiedKey>, alpn: Vec<Vec<u8>>) -> Result<Arc<ServerConfig>, String> {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&self.common.versions)
            .map_err(|e| e.to_string())?;
        let make = || Ok(self.common.roots()?.map(ClientCheck::new).transpose()?.map(Arc::new));
        let builder = match self.clients.get_or_init(make).clone()? {
            Some(check) => builder.with_client_cert_verifier(check),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(key)));
        config.alpn_protocols = alpn;
        config.session_storage = self.sessions.clone();
        // The provider's order, not the client's: see `provider`.
        config.ignore_client_order = true;
        Ok(Arc::new(config))
    }

    /// The protocols to offer rustls for a hello: the one chosen, or, when none is, names
    /// the client did not offer, so that rustls refuses with `no_application_protocol` as
    /// Pipy's OpenSSL callback does.
    fn protocols(&self, hello: &ClientHello<'_>, env: &FilterEnv) -> Vec<Vec<u8>> {
        let Some(theirs) = hello.alpn() else { return Vec::new() };
        let theirs: Vec<Vec<u8>> = theirs.map(<[u8]>::to_vec).collect();
        let chosen = match &self.alpn {
            Alpn::Off => return Vec::new(),
            Alpn::Names(ours) => theirs.iter().find(|t| ours.contains(t)).cloned(),
            Alpn::Choose(f) => choose(f, &theirs, env),
        };
        chosen.map_or_else(|| refusal(&theirs, &self.alpn), |p| vec![p])
    }
}

/// `options.alpn(names)`: the index of the protocol to use.
fn choose(f: &Callback, theirs: &[Vec<u8>], env: &FilterEnv) -> Option<Vec<u8>> {
    let host = host();
    let names: Vec<Value> = theirs.iter().map(|n| JsString::from(String::from_utf8_lossy(n).as_ref()).into()).collect();
    let result = host.array(&names).and_then(|a| host.call(&env.context, f, &[a]));
    match result {
        Ok(v) => v.as_number().filter(|i| *i >= 0.0).and_then(|i| theirs.get(i as usize)).cloned(),
        Err(e) => {
            tracing::error!(target: "tls", "acceptTLS alpn: {e}");
            None
        }
    }
}

fn refusal(theirs: &[Vec<u8>], alpn: &Alpn) -> Vec<Vec<u8>> {
    if let Alpn::Names(ours) = alpn
        && !ours.is_empty()
    {
        return ours.clone();
    }
    let mut name = vec![0];
    while theirs.contains(&name) {
        name.push(0);
    }
    vec![name]
}

/// An `acceptTLS` with `alpn` names (none: no ALPN) in front of `sub` (tests).
#[cfg(test)]
pub(super) fn spec(common: Common, alpn: Vec<Vec<u8>>, sub: Rc<Layout>) -> Box<dyn FilterSpec> {
    let alpn = if alpn.is_empty() { Alpn::Off } else { Alpn::Names(alpn) };
    let sessions = ServerSessionMemoryCache::new(4);
    let shared = Shared { common, alpn, clients: OnceCell::new(), sessions, last: RefCell::default() };
    Box::new(Spec { shared: Rc::new(shared), sub })
}

struct Spec {
    shared: Rc<Shared>,
    sub: Rc<Layout>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "acceptTLS"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(AcceptTls {
            shared: self.shared.clone(),
            layout: self.sub.clone(),
            env,
            acceptor: Some(Box::default()),
            session: None,
            sub: None,
            early: Vec::new(),
            held: Vec::new(),
            closed: false,
        })
    }
}

struct AcceptTls {
    shared: Rc<Shared>,
    layout: Rc<Layout>,
    env: FilterEnv,
    /// Reading the client's hello.
    acceptor: Option<Box<Acceptor>>,
    session: Option<Session>,
    sub: Option<TlsSub>,
    /// What the sub-pipeline sent before there was a session to encrypt it.
    early: Vec<Bytes>,
    /// Records for the client made during this turn, written together at its end (`join`).
    held: Vec<Event>,
    /// The output has ended.
    closed: bool,
}

impl AcceptTls {
    /// Bytes from the client.
    fn receive(&mut self, data: &[u8], out: &mut Output<'_>) {
        if let Some(acceptor) = &mut self.acceptor {
            let mut rest = data;
            while !rest.is_empty() {
                if let Err(e) = acceptor.read_tls(&mut rest) {
                    return self.refuse(e.to_string(), Vec::new(), out);
                }
            }
            return self.accept(out);
        }
        if let Some(s) = &mut self.session {
            let flow = s.receive(data);
            self.flow(flow, out);
        }
    }

    /// Makes the session once the whole hello is in.
    fn accept(&mut self, out: &mut Output<'_>) {
        let Some(acceptor) = &mut self.acceptor else { return };
        let accepted = match acceptor.accept() {
            Ok(None) => return,
            Ok(Some(accepted)) => accepted,
            Err((e, mut alert)) => {
                let mut bytes = Vec::new();
                let _ = alert.write_all(&mut bytes);
                return self.refuse(e.to_string(), bytes, out);
            }
        };
        self.acceptor = None;
        let hello = accepted.client_hello();
        let sni = hello.server_name().map(str::to_string);
        let alpn = self.shared.protocols(&hello, &self.env);
        let certificate = self.shared.common.certificate.as_ref().map(|c| c.get(&self.env.context, sni.as_deref()));
        let config = match certificate {
            Some(Ok(Some(key))) => self.shared.config(key, alpn),
            Some(Err(e)) => Err(format!("certificate: {e}")),
            _ => Err("no certificate for this connection".to_string()),
        };
        let config = match config {
            Ok(config) => config,
            Err(e) => return self.refuse(e, Vec::new(), out),
        };
        match accepted.into_connection(config) {
            Ok(conn) => {
                let (context, callbacks) = (self.env.context.clone(), self.shared.common.callbacks.clone());
                self.session = Some(Session::new(Connection::Server(conn), context, callbacks, sni));
                let mut flow = self.session.as_mut().map(|s| s.receive(&[])).unwrap_or_default();
                for b in std::mem::take(&mut self.early) {
                    flow.cipher.extend(self.session.as_mut().map(|s| s.send(&b).cipher).unwrap_or_default());
                }
                self.flow(flow, out);
            }
            Err((e, mut alert)) => {
                let mut bytes = Vec::new();
                let _ = alert.write_all(&mut bytes);
                self.refuse(e.to_string(), bytes, out);
            }
        }
    }

    /// No session can be made: the alert, if any, and the end.
    fn refuse(&mut self, error: String, alert: Vec<u8>, out: &mut Output<'_>) {
        tracing::warn!(target: "tls", "acceptTLS: {error}");
        self.acceptor = None;
        if !alert.is_empty() {
            self.held.push(Event::Data(Bytes::from(alert)));
        }
        self.end(out);
    }

    fn flow(&mut self, flow: Flow, out: &mut Output<'_>) {
        self.held.extend(flow.cipher.into_iter().map(Event::Data));
        if let Some(sub) = &self.sub {
            flow.plain.into_iter().for_each(|b| sub.input(Event::Data(b)));
        }
        if flow.closed {
            self.end(out);
        }
        self.replies(out);
    }

    /// What the sub-pipeline sent back, encrypted for the client.
    fn replies(&mut self, out: &mut Output<'_>) {
        while let Some(evt) = self.sub.as_ref().and_then(TlsSub::take) {
            if self.closed {
                continue;
            }
            match (evt, &mut self.session) {
                (Event::Data(b), Some(s)) => self.held.extend(s.send(&b).cipher.into_iter().map(Event::Data)),
                (Event::Data(b), None) => self.early.push(b),
                (Event::StreamEnd(_), session) => {
                    if let Some(s) = session {
                        self.held.extend(s.close().cipher.into_iter().map(Event::Data));
                    }
                    self.end(out);
                }
                _ => {}
            }
        }
    }

    fn end(&mut self, out: &mut Output<'_>) {
        if !self.closed {
            self.closed = true;
            self.held.push(Event::end());
            self.release(out);
        }
    }

    /// Writes what this turn made for the client.
    fn release(&mut self, out: &mut Output<'_>) {
        join(std::mem::take(&mut self.held)).into_iter().for_each(|e| out.emit(e));
    }
}

impl Filter for AcceptTls {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.sub.is_none() {
            self.sub = Some(TlsSub::start(self.layout.clone(), self.env.context.clone(), &self.env));
        }
        match evt {
            Event::Data(b) => self.receive(&b, out),
            evt @ Event::StreamEnd(_) => {
                if let Some(sub) = &self.sub {
                    sub.input(evt);
                }
            }
            _ => {}
        }
        self.replies(out);
        self.release(out);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        self.replies(out);
        self.release(out);
    }
}
