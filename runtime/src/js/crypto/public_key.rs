//! `crypto.PublicKey(pem | privateKey)`: a public key from `PUBLIC KEY` PEM, or the public
//! half of a `crypto.PrivateKey`; held as its SubjectPublicKeyInfo DER.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};
use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::PemObject;

use super::private_key::PrivateKey;
use super::{arg, keys, pem_arg, with_this};
use crate::codec::x509;
use crate::js::data::Data;
use crate::js::type_error;
use crate::tls_material::to_pem;

#[derive(Trace, Finalize, JsData)]
pub struct PublicKey {
    #[unsafe_ignore_trace]
    spki: Vec<u8>,
}

impl PublicKey {
    pub(crate) fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// A public key from PEM text; an error says what is wrong.
    pub(crate) fn from_pem(pem: &[u8]) -> Result<Vec<u8>, String> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem).map_err(|e| format!("invalid public key PEM: {e:?}"))?;
        x509::spki(&der)?;
        Ok(der.to_vec())
    }
}

impl Class for PublicKey {
    const NAME: &'static str = "PublicKey";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let private = arg(args, 0).as_object().and_then(|o| o.downcast_ref::<PrivateKey>().map(|k| k.material()));
        let spki = match private {
            Some(key) => keys::public_of(&key),
            None => PublicKey::from_pem(&pem_arg(args, "PublicKey")?),
        };
        Ok(PublicKey { spki: spki.map_err(|e| type_error(format!("PublicKey: {e}")))? })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("toPEM"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let pem = with_this(this, |k: &PublicKey| to_pem("PUBLIC KEY", &k.spki))?;
                Data::to_js(pem.into_bytes(), ctx)
            }),
        );
        Ok(())
    }
}
