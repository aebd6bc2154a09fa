//! `crypto.CertificateChain(pem)`: every certificate in PEM text, leaf first.

use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, Trace};

use super::pem_arg;
use crate::js::type_error;
use crate::tls_material;

#[derive(Trace, Finalize, JsData)]
pub struct CertificateChain {
    #[unsafe_ignore_trace]
    chain: Rc<tls_material::CertificateChain>,
}

impl CertificateChain {
    pub(crate) fn material(&self) -> Rc<tls_material::CertificateChain> {
        self.chain.clone()
    }
}

impl Class for CertificateChain {
    const NAME: &'static str = "CertificateChain";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let pem = pem_arg(args, "CertificateChain")?;
        let chain = tls_material::CertificateChain::from_pem(&pem).map_err(type_error)?;
        Ok(CertificateChain { chain: Rc::new(chain) })
    }

    fn init(_: &mut ClassBuilder<'_>) -> JsResult<()> {
        Ok(())
    }
}
