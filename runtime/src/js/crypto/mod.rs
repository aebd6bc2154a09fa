//! The `crypto` namespace, as in Pipy: keys, certificates, digests, signatures, ciphers, JWK
//! and JWT, one class per file. Keys and certificates are kept as DER (`tls_material`), so a
//! TLS filter can take them from its options.

mod certificate;
mod certificate_chain;
mod private_key;

use boa_engine::class::Class;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsResult, JsString, JsValue, js_string};

use super::data::Data;
use super::type_error;
use crate::tls_material::Material;

pub use certificate::Certificate;
pub use certificate_chain::CertificateChain;
pub use private_key::PrivateKey;

/// Makes the classes and puts them under a global `crypto`, not as globals of their own.
pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<Certificate>()?;
    ctx.register_global_class::<CertificateChain>()?;
    ctx.register_global_class::<PrivateKey>()?;
    let names = [Certificate::NAME, CertificateChain::NAME, PrivateKey::NAME];
    let global = ctx.global_object();
    let mut members = Vec::new();
    for name in names {
        members.push((JsString::from(name), global.get(JsString::from(name), ctx)?));
        global.delete_property_or_throw(JsString::from(name), ctx)?;
    }
    let mut crypto = ObjectInitializer::new(ctx);
    for (name, ctor) in members {
        crypto.property(name, ctor, Attribute::WRITABLE | Attribute::CONFIGURABLE);
    }
    let crypto = crypto.build();
    ctx.register_global_property(js_string!("crypto"), crypto, Attribute::WRITABLE | Attribute::CONFIGURABLE)
}

/// The key or certificates a `crypto` object holds, for a filter's options.
pub fn material_of(v: &JsValue) -> Option<Material> {
    let o = v.as_object()?;
    if let Some(c) = o.downcast_ref::<Certificate>() {
        return Some(Material::Certificate(c.material()));
    }
    if let Some(c) = o.downcast_ref::<CertificateChain>() {
        return Some(Material::CertificateChain(c.material()));
    }
    o.downcast_ref::<PrivateKey>().map(|k| Material::PrivateKey(k.material()))
}

/// The PEM text a constructor was given: a string or a Data, not empty (as Pipy checks).
fn pem_arg(args: &[JsValue], class: &str) -> JsResult<Vec<u8>> {
    let v = args.first().cloned().unwrap_or_default();
    let bytes = if let Some(s) = v.as_string() {
        s.to_std_string_escaped().into_bytes()
    } else if let Some(b) = Data::bytes_of(&v) {
        b.to_vec()
    } else {
        return Err(type_error(format!("{class}: argument #1 expected to be a string or a Data object")));
    };
    if bytes.is_empty() {
        return Err(type_error(format!("{class}: Data size is zero")));
    }
    Ok(bytes)
}

/// Runs `f` on `this` as a `T`, or a TypeError naming the class.
fn with_this<T: Class, R>(this: &JsValue, f: impl FnOnce(&T) -> R) -> JsResult<R> {
    let o = this.as_object();
    let t = o.as_ref().and_then(|o| o.downcast_ref::<T>());
    t.map(|t| f(&t)).ok_or_else(|| type_error(format!("not a crypto.{}", T::NAME)))
}
