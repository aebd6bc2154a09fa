//! `crypto.Certificate(pem)`: one X.509 certificate from PEM.

use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::{pem_arg, with_this};
use crate::js::data::Data;
use crate::js::type_error;
use crate::tls_material;

#[derive(Trace, Finalize, JsData)]
pub struct Certificate {
    #[unsafe_ignore_trace]
    cert: Rc<tls_material::Certificate>,
}

impl Certificate {
    pub(crate) fn material(&self) -> Rc<tls_material::Certificate> {
        self.cert.clone()
    }

    /// A certificate the script did not make (a TLS peer's).
    pub(crate) fn from_material(cert: Rc<tls_material::Certificate>) -> Self {
        Certificate { cert }
    }
}

impl Class for Certificate {
    const NAME: &'static str = "Certificate";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let pem = pem_arg(args, "Certificate")?;
        let cert = tls_material::Certificate::from_pem(&pem).map_err(type_error)?;
        Ok(Certificate { cert: Rc::new(cert) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("toPEM"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let pem = with_this(this, |c: &Certificate| c.cert.pem())?;
                Data::to_js(pem.into_bytes(), ctx)
            }),
        );
        Ok(())
    }
}
