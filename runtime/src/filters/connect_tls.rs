//! `connectTLS(options).to(sub)`: the client side of TLS over the event stream. Input is
//! encrypted into the sub-pipeline (a `connect`, usually); the records it sends back are
//! decrypted and are this filter's output.
//!
//! `sni` (a name, or a function returning one) is the server name sent; `alpn` (a name or a
//! list) the protocols offered; `certificate` the client's own, for servers that ask.
//! Without `trusted` the server's certificate is not checked, as in Pipy; with it the chain
//! must lead to one of them (the name is not checked, as in Pipy), unless
//! `verify(ok, cert)` says otherwise.

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;

use boa_engine::JsResult;
use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::sign::SingleCertAndKey;
use rustls::{ClientConfig, ClientConnection, Connection};

use super::Made;
use super::tls_options::{self, Certificate, Common};
use super::tls_session::{Flow, ServerCheck, Session, join, provider};
use super::tls_sub::TlsSub;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Layout, Output, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let common = tls_options::common(args, 0)?;
    let mut o = args.options(0);
    let alpn = o.value("alpn")?;
    let sni = o.value("sni")?;
    let alpn = alpn
        .map(|v| tls_options::names(&v, true, args.js_context()))
        .transpose()
        .map_err(|e| args.error(format!("option {e}")))?;
    let sni = sni.map(|v| match v.as_object().filter(|o| o.is_callable()) {
        Some(f) => Given::Dynamic(f),
        None => Given::Fixed(v),
    });
    let shared = Rc::new(Shared { common, alpn: alpn.unwrap_or_default(), sni, fixed: OnceCell::new() });
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| Box::new(Spec { shared, sub }))))
}

struct Shared {
    common: Common,
    alpn: Vec<Vec<u8>>,
    sni: Option<Given<Value>>,
    /// The configuration, made at the first connection when the client certificate is not
    /// chosen per connection.
    fixed: OnceCell<Result<Arc<ClientConfig>, String>>,
}

impl Shared {
    fn config(&self, key: Option<Arc<rustls::sign::CertifiedKey>>) -> Result<Arc<ClientConfig>, String> {
        let roots = self.common.roots()?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&self.common.versions)
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ServerCheck { roots }));
        let mut config = match key {
            Some(k) => builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(k))),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.clone();
        // Pipy's client starts a new session each time; the name a session would be kept
        // under is not checked against the certificate either.
        config.resumption = Resumption::disabled();
        Ok(Arc::new(config))
    }

    /// The configuration and server name for a new connection.
    fn connection(&self, env: &FilterEnv) -> Result<(ClientConnection, Option<String>), String> {
        let config = match &self.common.certificate {
            Some(c @ Certificate::Dynamic(_)) => self.config(c.get(&env.context, None)?)?,
            Some(c) => self.fixed.get_or_init(|| self.config(c.get(&env.context, None)?)).clone()?,
            None => self.fixed.get_or_init(|| self.config(None)).clone()?,
        };
        let sni = match &self.sni {
            None => None,
            Some(given) => Some(given.get(&env.context, &[], Ok)?).filter(|v| !v.is_null_or_undefined()),
        };
        let sni = sni.map(|v| host().to_text(&v)).transpose()?;
        // No name: an address is never sent as SNI, and nothing checks it.
        let name = match &sni {
            Some(s) => ServerName::try_from(s.clone()).map_err(|e| format!("sni '{s}': {e}"))?,
            None => ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into()),
        };
        let conn = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
        Ok((conn, sni))
    }
}

/// A `connectTLS` offering `alpn` in front of `sub` (tests).
#[cfg(test)]
pub(super) fn spec(common: Common, alpn: Vec<Vec<u8>>, sub: Rc<Layout>) -> Box<dyn FilterSpec> {
    let shared = Shared { common, alpn, sni: None, fixed: OnceCell::new() };
    Box::new(Spec { shared: Rc::new(shared), sub })
}

struct Spec {
    shared: Rc<Shared>,
    sub: Rc<Layout>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "connectTLS"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(ConnectTls {
            shared: self.shared.clone(),
            layout: self.sub.clone(),
            env,
            session: None,
            sub: None,
            pending: Vec::new(),
            closed: false,
        })
    }
}

struct ConnectTls {
    shared: Rc<Shared>,
    layout: Rc<Layout>,
    env: FilterEnv,
    session: Option<Session>,
    sub: Option<TlsSub>,
    /// Records for the server made while the sub-pipeline could not take them.
    pending: Vec<Event>,
    /// The output has ended.
    closed: bool,
}

impl ConnectTls {
    /// Starts the sub-pipeline and sends the client's hello into it.
    fn open(&mut self, out: &mut Output<'_>) {
        let sub = TlsSub::start(self.layout.clone(), self.env.context.clone(), &self.env);
        self.sub = Some(sub);
        match self.shared.connection(&self.env) {
            Ok((conn, sni)) => {
                let callbacks = self.shared.common.callbacks.clone();
                let mut session = Session::new(Connection::Client(conn), self.env.context.clone(), callbacks, sni);
                let flow = session.send(&[]);
                self.session = Some(session);
                self.flow(flow, out);
            }
            Err(e) => {
                tracing::error!(target: "tls", "connectTLS: {e}");
                self.closed = true;
                out.emit(runtime_error(e));
            }
        }
    }

    fn flow(&mut self, flow: Flow, out: &mut Output<'_>) {
        self.pending.extend(flow.cipher.into_iter().map(Event::Data));
        if !self.closed {
            flow.plain.into_iter().for_each(|b| out.emit(Event::Data(b)));
        }
        if flow.closed {
            // As Pipy: the server's side of the sub-pipeline ends too.
            self.pending.push(Event::end());
            self.end(out);
        }
        self.send();
    }

    /// Feeds the sub-pipeline what is pending for the server, or, while it is busy emitting
    /// (the server's records are being decrypted on the spot), asks to be woken after.
    fn send(&mut self) {
        let Some(sub) = &self.sub else { return };
        if sub.busy() {
            if !self.pending.is_empty() {
                let env = self.env.clone();
                tokio::task::spawn_local(async move { env.wake() });
            }
            return;
        }
        join(std::mem::take(&mut self.pending)).into_iter().for_each(|e| sub.input(e));
    }

    /// Records from the server.
    fn replies(&mut self, out: &mut Output<'_>) {
        while let Some(evt) = self.sub.as_ref().and_then(TlsSub::take) {
            if self.closed {
                continue;
            }
            match evt {
                Event::Data(b) => {
                    let flow = self.session.as_mut().map(|s| s.receive(&b)).unwrap_or_default();
                    self.flow(flow, out);
                }
                Event::StreamEnd(e) => {
                    self.closed = true;
                    out.emit(Event::StreamEnd(e));
                }
                _ => {}
            }
        }
    }

    fn end(&mut self, out: &mut Output<'_>) {
        if !self.closed {
            self.closed = true;
            out.emit(Event::end());
        }
    }
}

impl Filter for ConnectTls {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.sub.is_none() {
            self.open(out);
        }
        match evt {
            Event::Data(b) => {
                let flow = self.session.as_mut().map(|s| s.send(&b)).unwrap_or_default();
                self.flow(flow, out);
            }
            evt @ Event::StreamEnd(_) => {
                self.pending.push(evt);
                self.send();
            }
            _ => {}
        }
        self.replies(out);
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        self.send();
        self.replies(out);
    }
}
