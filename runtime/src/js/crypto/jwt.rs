//! `crypto.JWT(token)`: a JSON Web Token decoded (`isValid`, `header`, `payload`), and
//! `verify(key)` with a secret (a string or a Data, for `HS*`), a PEM key, a `crypto.JWK` or a
//! `crypto.PublicKey` (for `RS*` and `ES*`). An unusable token is not valid and verifies false.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::digest::Digest;
use super::jwk::Jwk;
use super::keys::{self, EcdsaForm};
use super::public_key::PublicKey;
use super::{arg, with_this};
use crate::js::data::Data;
use crate::js::type_error;
use crate::tls_material;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Hs(Digest),
    Rs(Digest),
    Es(Digest),
}

fn alg_named(name: &str) -> Option<Alg> {
    let digest = match name.get(2..)? {
        "256" => Digest::Sha256,
        "384" => Digest::Sha384,
        "512" => Digest::Sha512,
        _ => return None,
    };
    match &name[..2] {
        "HS" => Some(Alg::Hs(digest)),
        "RS" => Some(Alg::Rs(digest)),
        "ES" => Some(Alg::Es(digest)),
        _ => None,
    }
}

#[derive(Trace, Finalize, JsData)]
pub struct Jwt {
    header: JsValue,
    payload: JsValue,
    #[unsafe_ignore_trace]
    signed: Option<Signed>,
}

/// What a well-formed token's signature covers and is.
struct Signed {
    alg: Alg,
    /// `header.payload`, as written in the token.
    input: String,
    signature: Vec<u8>,
}

fn base64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// The text parsed as JSON, if it is a JSON object.
fn json_object(bytes: &[u8], ctx: &mut Context) -> Option<JsValue> {
    let text = std::str::from_utf8(bytes).ok()?;
    let json = ctx.global_object().get(js_string!("JSON"), ctx).ok()?;
    let parse = json.as_object()?.get(js_string!("parse"), ctx).ok()?;
    let v = parse.as_callable()?.call(&json, &[JsString::from(text).into()], ctx).ok()?;
    v.is_object().then_some(v)
}

impl Jwt {
    fn decode(token: &str, ctx: &mut Context) -> Jwt {
        let mut jwt = Jwt { header: JsValue::undefined(), payload: JsValue::undefined(), signed: None };
        let parts: Vec<&str> = token.split('.').collect();
        let [h, p, s] = parts[..] else { return jwt };
        let (Some(hb), Some(pb), Some(signature)) = (base64url(h), base64url(p), base64url(s)) else { return jwt };
        let (Some(header), Some(payload)) = (json_object(&hb, ctx), json_object(&pb, ctx)) else { return jwt };
        jwt.header = header.clone();
        jwt.payload = payload;
        let alg = header.as_object().and_then(|o| o.get(js_string!("alg"), ctx).ok());
        let alg = alg.and_then(|a| a.as_string().map(|a| a.to_std_string_escaped()));
        if let Some(alg) = alg.as_deref().and_then(alg_named) {
            jwt.signed = Some(Signed { alg, input: format!("{h}.{p}"), signature });
        }
        jwt
    }
}

/// Whether `signed` verifies with the key the script gave.
fn verify(signed: &Signed, key: &JsValue) -> Result<bool, String> {
    let message = signed.input.as_bytes();
    let object = key.as_object();
    let spki = if let Some(jwk) = object.as_ref().and_then(|o| o.downcast_ref::<Jwk>()) {
        jwk.spki().to_vec()
    } else if let Some(pk) = object.as_ref().and_then(|o| o.downcast_ref::<PublicKey>()) {
        pk.spki().to_vec()
    } else {
        let bytes = match (key.as_string(), Data::bytes_of(key)) {
            (Some(s), _) => s.to_std_string_escaped().into_bytes(),
            (_, Some(b)) => b.to_vec(),
            _ => return Err("argument #1 expected to be a Data object or a string or a public key object".into()),
        };
        if let Alg::Hs(digest) = signed.alg {
            let mut mac = digest.hmac(&bytes);
            mac.update(message);
            // Compared in full whatever differs first, so timing tells nothing of the secret.
            let got = mac.finish();
            let diff = got.iter().zip(&signed.signature).fold(0, |d, (a, b)| d | (a ^ b));
            return Ok(got.len() == signed.signature.len() && diff == 0);
        }
        match PublicKey::from_pem(&bytes) {
            Ok(spki) => spki,
            Err(_) => keys::public_of(&tls_material::PrivateKey::from_pem(&bytes)?)?,
        }
    };
    match signed.alg {
        Alg::Hs(_) => Ok(false),
        Alg::Rs(d) => keys::verify(&spki, d, EcdsaForm::Der, message, &signed.signature),
        Alg::Es(d) => keys::verify(&spki, d, EcdsaForm::Fixed, message, &signed.signature),
    }
}

impl Class for Jwt {
    const NAME: &'static str = "JWT";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let token = arg(args, 0);
        let token = token.as_string().ok_or_else(|| type_error("JWT: argument #1 expected to be a string"))?;
        Ok(Jwt::decode(&token.to_std_string_escaped(), ctx))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let getter = |f: fn(&Jwt) -> JsValue| {
            NativeFunction::from_copy_closure(move |this, _, _| with_this(this, f)).to_js_function(&realm)
        };
        let attr = Attribute::CONFIGURABLE;
        class.accessor(js_string!("isValid"), Some(getter(|j| j.signed.is_some().into())), None, attr);
        class.accessor(js_string!("header"), Some(getter(|j| j.header.clone())), None, attr);
        class.accessor(js_string!("payload"), Some(getter(|j| j.payload.clone())), None, attr);
        class.method(
            js_string!("verify"),
            1,
            NativeFunction::from_fn_ptr(|this, args, _| {
                let key = arg(args, 0);
                let result = with_this(this, |j: &Jwt| j.signed.as_ref().map(|s| verify(s, &key)))?;
                Ok(result.transpose().map_err(type_error)?.unwrap_or(false).into())
            }),
        );
        Ok(())
    }
}
