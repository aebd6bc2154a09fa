//! The options `acceptTLS` and `connectTLS` share (Pipy's `tls::Options`), read at
//! configuration time, and the rustls configurations made from them.

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;

use boa_engine::{JsResult, JsValue};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, SupportedProtocolVersion};

use super::tls_session::{self, Callbacks};
use crate::args::Args;
use crate::engine::{Callback, Context, Value, host};

/// `certificate`: a `{ cert, key }`, read at the first connection (the script's objects can
/// be read once it has run), or a function asked per connection.
pub enum Certificate {
    Fixed(Value, OnceCell<Result<Arc<CertifiedKey>, String>>),
    Dynamic(Callback),
}

impl Certificate {
    /// The chain and key now; `sni` is what a server-side callback is asked with.
    pub fn get(&self, context: &Rc<Context>, sni: Option<&str>) -> Result<Option<Arc<CertifiedKey>>, String> {
        match self {
            Certificate::Fixed(v, key) => key
                .get_or_init(|| tls_session::certified(v)?.ok_or_else(|| "expects { cert, key }".into()))
                .clone()
                .map(Some),
            Certificate::Dynamic(f) => {
                let arg = sni.map_or(Value::undefined(), |s| Value::from(boa_engine::JsString::from(s)));
                let v = host().call(context, f, &[arg])?;
                tls_session::certified(&v)
            }
        }
    }
}

pub struct Common {
    pub certificate: Option<Certificate>,
    trusted: Option<Value>,
    roots: OnceCell<Result<Option<Arc<RootCertStore>>, String>>,
    pub callbacks: Callbacks,
    pub versions: Vec<&'static SupportedProtocolVersion>,
}

impl Common {
    /// The trust anchors of `trusted`, read at the first connection.
    pub fn roots(&self) -> Result<Option<Arc<RootCertStore>>, String> {
        let read = || self.trusted.as_ref().map(tls_session::roots).transpose();
        self.roots.get_or_init(read).clone()
    }
}

impl Common {
    /// Options as read, with the certificate and trust anchors already loaded (tests).
    #[cfg(test)]
    pub fn loaded(key: Option<Arc<CertifiedKey>>, roots: Option<Arc<RootCertStore>>, callbacks: Callbacks) -> Common {
        Common {
            certificate: key.map(|k| Certificate::Fixed(Value::undefined(), OnceCell::from(Ok(k)))),
            trusted: None,
            roots: OnceCell::from(Ok(roots)),
            callbacks,
            versions: rustls::ALL_VERSIONS.to_vec(),
        }
    }
}

/// Reads the shared options of argument `i`.
pub fn common(args: &mut Args<'_>, i: usize) -> JsResult<Common> {
    let mut o = args.options(i);
    let certificate = o.value("certificate")?;
    let trusted = o.value("trusted")?;
    let verify = match o.function("verify")? {
        Some(f) => Some(f),
        None => o.function("onVerify")?,
    };
    let callbacks = Callbacks { verify, on_state: o.function("onState")?, handshake: o.function("handshake")? };
    let min = o.string("minVersion")?;
    let max = o.string("maxVersion")?;
    let certificate = certificate.map(|v| match v.as_object().filter(|o| o.is_callable()) {
        Some(f) => Certificate::Dynamic(f),
        None => Certificate::Fixed(v, OnceCell::new()),
    });
    if trusted.as_ref().is_some_and(|t| !t.as_object().is_some_and(|o| o.is_array())) {
        return Err(args.error("option trusted expects an array of crypto.Certificate"));
    }
    let versions = versions(min.as_deref(), max.as_deref()).map_err(|e| args.error(e))?;
    Ok(Common { certificate, trusted, roots: OnceCell::new(), callbacks, versions })
}

/// `minVersion`..`maxVersion` (Pipy's names), within what rustls speaks: TLS 1.2 and 1.3.
fn versions(min: Option<&str>, max: Option<&str>) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let rank = |name: Option<&str>, default: u8| match name {
        None => Ok(default),
        Some("TLS1") => Ok(0),
        Some("TLS1.1") => Ok(1),
        Some("TLS1.2") => Ok(2),
        Some("TLS1.3") => Ok(3),
        Some(other) => Err(format!("unknown TLS version '{other}'")),
    };
    let (min, max) = (rank(min, 2)?, rank(max, 3)?);
    let all: [(u8, &'static SupportedProtocolVersion); 2] =
        [(2, &rustls::version::TLS12), (3, &rustls::version::TLS13)];
    let versions: Vec<_> = all.iter().filter(|(r, _)| min <= *r && *r <= max).map(|(_, v)| *v).collect();
    if versions.is_empty() {
        return Err("no TLS version between minVersion and maxVersion that Weir speaks (TLS1.2, TLS1.3)".into());
    }
    Ok(versions)
}

/// A list of protocol names (`alpn`), or a single one on the client side; read with the
/// script engine at hand, as the script is still running.
pub fn names(v: &JsValue, single: bool, ctx: &mut boa_engine::Context) -> Result<Vec<Vec<u8>>, String> {
    if single && let Some(s) = v.as_string() {
        return Ok(vec![s.to_std_string_escaped().into_bytes()]);
    }
    let array = v.as_object().filter(|o| o.is_array()).ok_or("alpn expects an array of strings")?;
    let array = boa_engine::object::builtins::JsArray::from_object(array).map_err(|e| e.to_string())?;
    let len = array.length(ctx).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    for i in 0..len {
        let v = array.get(i, ctx).map_err(|e| e.to_string())?;
        let s = v.as_string().ok_or(format!("alpn[{i}] expects a string"))?.to_std_string_escaped();
        if s.is_empty() || s.len() > 255 {
            return Err(format!("alpn[{i}]: protocol name is empty or too long for ALPN: {s}"));
        }
        names.push(s.into_bytes());
    }
    Ok(names)
}
