//! `crypto.JWK(json)`: a public key from a JSON Web Key (`kty` `RSA` with `n`, `e`; `EC` with
//! `crv` `P-256`/`P-384`, `x`, `y`), for `JWT.verify`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::{arg, with_this};
use crate::codec::der;
use crate::codec::x509::{KeyKind, spki_der};
use crate::js::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct Jwk {
    #[unsafe_ignore_trace]
    spki: Vec<u8>,
}

impl Jwk {
    pub(crate) fn spki(&self) -> &[u8] {
        &self.spki
    }
}

/// A base64url member of the key, decoded.
fn member(json: &JsObject, name: &str, ctx: &mut Context) -> JsResult<Vec<u8>> {
    let v = json.get(JsString::from(name), ctx)?;
    let s = v.as_string().ok_or_else(|| type_error(format!("JWK: missing \"{name}\"")))?;
    let text = s.to_std_string_escaped();
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).map_err(|_| type_error(format!("JWK: invalid \"{name}\"")))
}

fn spki_of(json: &JsObject, ctx: &mut Context) -> JsResult<Vec<u8>> {
    let kty = json.get(js_string!("kty"), ctx)?;
    let kty = kty.as_string().map(|s| s.to_std_string_escaped()).ok_or_else(|| type_error("JWK: missing \"kty\""))?;
    match kty.as_str() {
        "RSA" => {
            let (n, e) = (member(json, "n", ctx)?, member(json, "e", ctx)?);
            let key = der::item(der::SEQUENCE, &[der::unsigned_item(&n), der::unsigned_item(&e)].concat());
            Ok(spki_der(KeyKind::Rsa, &key))
        }
        "EC" => {
            let crv = json.get(js_string!("crv"), ctx)?;
            let crv =
                crv.as_string().map(|s| s.to_std_string_escaped()).ok_or_else(|| type_error("JWK: missing \"crv\""))?;
            let (kind, size) = match crv.as_str() {
                "P-256" => (KeyKind::P256, 32),
                "P-384" => (KeyKind::P384, 48),
                _ => return Err(type_error("JWK: unknown \"crv\"")),
            };
            let (x, y) = (member(json, "x", ctx)?, member(json, "y", ctx)?);
            if x.len() != size || y.len() != size {
                return Err(type_error("JWK: \"x\" and \"y\" do not fit the curve"));
            }
            Ok(spki_der(kind, &[&[4u8][..], &x, &y].concat()))
        }
        _ => Err(type_error("JWK: unknown \"kty\"")),
    }
}

impl Class for Jwk {
    const NAME: &'static str = "JWK";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let json = arg(args, 0);
        let json = json.as_object().ok_or_else(|| type_error("JWK: argument #1 expected to be an object"))?;
        Ok(Jwk { spki: spki_of(&json.clone(), ctx)? })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        // A JWK that was made holds a key: Pipy's constructor throws otherwise.
        let valid = NativeFunction::from_fn_ptr(|this, _, _| Ok(with_this(this, |_: &Jwk| true)?.into()));
        class.accessor(js_string!("isValid"), Some(valid.to_js_function(&realm)), None, Attribute::CONFIGURABLE);
        Ok(())
    }
}
