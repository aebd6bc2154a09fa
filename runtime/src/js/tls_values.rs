//! The `crypto` objects of TLS options as the TLS filters take them (DER bytes), and a peer's
//! certificate as a `crypto.Certificate`: the JS side of `Host::certificate_pair`,
//! `Host::certificates` and `Host::certificate_value`.

use std::rc::Rc;

use boa_engine::class::Class;
use boa_engine::{Context, JsValue, js_string};

use super::crypto::{Certificate, material_of};
use crate::engine::host::CertificatePair;
use crate::tls_material::{self, Material};

/// `{ cert, key }`: `cert` a `crypto.Certificate` or `CertificateChain`, `key` a
/// `crypto.PrivateKey`, as Pipy checks them.
pub fn certificate_pair(v: &JsValue, ctx: &mut Context) -> Result<Option<CertificatePair>, String> {
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    let o = v.as_object().ok_or("certificate callback did not return an object")?;
    let mut get = |name| o.get(name, ctx).map_err(|e| super::describe(&e, ctx));
    let (cert, key) = (get(js_string!("cert"))?, get(js_string!("key"))?);
    let Some(Material::PrivateKey(key)) = material_of(&key) else {
        return Err("certificate.key requires a PrivateKey object".into());
    };
    let chain =
        certificates(&cert).map_err(|_| "certificate.cert requires a Certificate or a CertificateChain object")?;
    Ok(Some((chain, key.der().to_vec())))
}

/// The DER of a `crypto.Certificate`, or of each one of a `crypto.CertificateChain`.
pub fn certificates(v: &JsValue) -> Result<Vec<Vec<u8>>, String> {
    match material_of(v) {
        Some(Material::Certificate(c)) => Ok(vec![c.der().to_vec()]),
        Some(Material::CertificateChain(c)) => Ok(c.certs().iter().map(|c| c.der().to_vec()).collect()),
        _ => Err("expects an object of type crypto.Certificate".into()),
    }
}

pub fn certificate_value(der: &[u8], ctx: &mut Context) -> Result<JsValue, String> {
    let cert = Certificate::from_material(Rc::new(tls_material::Certificate::from_der(der.to_vec())))?;
    Certificate::from_data(cert, ctx).map(JsValue::from).map_err(|e| super::describe(&e, ctx))
}
