//! The `crypto` namespace, as in Pipy: keys, certificates, digests, signatures, ciphers, JWK
//! and JWT, one class per file. Keys and certificates are kept as DER (`tls_material`), so a
//! TLS filter can take them from its options.

mod certificate;
mod certificate_chain;
mod cipher;
mod decipher;
mod digest;
mod hash;
mod hmac;
mod jwk;
mod jwt;
mod keys;
mod modes;
mod private_key;
mod public_key;
mod sign;
mod verify;

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

/// Registers class `T` as a global for a moment, then moves its constructor into `members`.
fn class<T: Class>(ctx: &mut Context, members: &mut Vec<(JsString, JsValue)>) -> JsResult<()> {
    ctx.register_global_class::<T>()?;
    let global = ctx.global_object();
    let name = JsString::from(T::NAME);
    members.push((name.clone(), global.get(name.clone(), ctx)?));
    global.delete_property_or_throw(name, ctx)?;
    Ok(())
}

/// Makes the classes and puts them under a global `crypto`, not as globals of their own.
pub fn register(ctx: &mut Context) -> JsResult<()> {
    let mut members = Vec::new();
    class::<public_key::PublicKey>(ctx, &mut members)?;
    class::<PrivateKey>(ctx, &mut members)?;
    class::<Certificate>(ctx, &mut members)?;
    class::<CertificateChain>(ctx, &mut members)?;
    class::<cipher::Cipher>(ctx, &mut members)?;
    class::<decipher::Decipher>(ctx, &mut members)?;
    class::<hash::Hash>(ctx, &mut members)?;
    class::<hmac::Hmac>(ctx, &mut members)?;
    class::<sign::Sign>(ctx, &mut members)?;
    class::<verify::Verify>(ctx, &mut members)?;
    class::<jwt::Jwt>(ctx, &mut members)?;
    class::<jwk::Jwk>(ctx, &mut members)?;
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

/// The bytes `update(data)` / `update(string, encoding)` was given.
fn input(args: &[JsValue], ctx: &mut Context) -> JsResult<Vec<u8>> {
    let v = args.first().cloned().unwrap_or_default();
    if !v.is_string() && Data::bytes_of(&v).is_none() {
        return Err(type_error("argument #1 expected to be a Data object or a string"));
    }
    let encoding = args.get(1).and_then(|e| e.as_string()).map(|e| e.to_std_string_escaped());
    super::data::encode(&v, encoding.as_deref(), ctx)
}

/// A result as a Data, or as a string in `encoding` (`hex`, `base64`, `base64url`) if given.
fn output(bytes: Vec<u8>, encoding: &JsValue, ctx: &mut Context) -> JsResult<JsValue> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let Some(encoding) = encoding.as_string() else {
        return Data::to_js(bytes, ctx);
    };
    let text = match encoding.to_std_string_escaped().as_str() {
        "hex" => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        "base64" => STANDARD.encode(&bytes),
        "base64url" => URL_SAFE_NO_PAD.encode(&bytes),
        _ => return Err(type_error("unknown encoding")),
    };
    Ok(JsString::from(text).into())
}

fn arg(args: &[JsValue], i: usize) -> JsValue {
    args.get(i).cloned().unwrap_or_default()
}

fn algorithm(args: &[JsValue], class: &str) -> JsResult<String> {
    arg(args, 0)
        .as_string()
        .map(|s| s.to_std_string_escaped())
        .ok_or_else(|| type_error(format!("{class}: argument #1 expected to be a string")))
}

/// Argument `i`, a string (its UTF-8) or a Data.
fn data_arg(args: &[JsValue], i: usize, class: &str) -> JsResult<Vec<u8>> {
    let v = arg(args, i);
    if let Some(s) = v.as_string() {
        return Ok(s.to_std_string_escaped().into_bytes());
    }
    Data::bytes_of(&v)
        .map(|b| b.to_vec())
        .ok_or_else(|| type_error(format!("{class}: argument #{} expected to be a Data object or a string", i + 1)))
}

/// The crypter a `Cipher` or `Decipher` constructor asks for: `(algorithm, { key, iv })`.
fn crypter(args: &[JsValue], decrypt: bool, ctx: &mut Context) -> JsResult<modes::Crypter> {
    let class = if decrypt { "Decipher" } else { "Cipher" };
    let name = algorithm(args, class)?;
    let options = arg(args, 1);
    let options = options.as_object().ok_or_else(|| type_error(format!("{class}: options cannot be null")))?;
    let key = options.get(js_string!("key"), ctx)?;
    if key.is_null_or_undefined() {
        return Err(type_error(format!("{class}: options.key is required")));
    }
    let key = data_arg(&[key], 0, class)?;
    let iv = options.get(js_string!("iv"), ctx)?;
    let iv = if iv.is_null_or_undefined() { Vec::new() } else { data_arg(&[iv], 0, class)? };
    modes::Crypter::new(&name, &key, &iv, decrypt).map_err(|e| type_error(format!("{class}: {e}")))
}
