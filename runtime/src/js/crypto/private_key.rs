//! `crypto.PrivateKey(pem)`: an RSA, ECDSA or Ed25519 private key from PEM (PKCS#8, or the
//! traditional `RSA PRIVATE KEY` / `EC PRIVATE KEY` forms).

use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::{pem_arg, with_this};
use crate::js::data::Data;
use crate::js::type_error;
use crate::tls_material;

#[derive(Trace, Finalize, JsData)]
pub struct PrivateKey {
    #[unsafe_ignore_trace]
    key: Rc<tls_material::PrivateKey>,
}

impl PrivateKey {
    pub(crate) fn material(&self) -> Rc<tls_material::PrivateKey> {
        self.key.clone()
    }
}

impl Class for PrivateKey {
    const NAME: &'static str = "PrivateKey";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let pem = pem_arg(args, "PrivateKey")?;
        let key = tls_material::PrivateKey::from_pem(&pem).map_err(type_error)?;
        Ok(PrivateKey { key: Rc::new(key) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("toPEM"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let pem = with_this(this, |k: &PrivateKey| k.key.pem())?;
                Data::to_js(pem.into_bytes(), ctx)
            }),
        );
        Ok(())
    }
}
