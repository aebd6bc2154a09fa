//! `crypto.Certificate(pem)`: one X.509 certificate from PEM, with its `issuer` and `subject`
//! (OpenSSL's long attribute names to values), `subjectAltNames` (the DNS names), and
//! `notBefore`/`notAfter` (milliseconds since 1970), as Pipy shows them.

use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::{pem_arg, with_this};
use crate::codec::x509::{self, CertInfo};
use crate::js::data::Data;
use crate::js::type_error;
use crate::tls_material;

#[derive(Trace, Finalize, JsData)]
pub struct Certificate {
    #[unsafe_ignore_trace]
    cert: Rc<tls_material::Certificate>,
    #[unsafe_ignore_trace]
    info: CertInfo,
}

impl Certificate {
    pub(crate) fn material(&self) -> Rc<tls_material::Certificate> {
        self.cert.clone()
    }

    /// A certificate the script did not make (a TLS peer's, which the handshake checked
    /// as far as it was asked to; its fields are read as a script's would be).
    pub(crate) fn from_material(cert: Rc<tls_material::Certificate>) -> Result<Self, String> {
        let info = x509::certificate(cert.der()).map_err(|e| format!("Certificate: {e}"))?;
        Ok(Certificate { cert, info })
    }
}

impl Class for Certificate {
    const NAME: &'static str = "Certificate";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let pem = pem_arg(args, "Certificate")?;
        let cert = tls_material::Certificate::from_pem(&pem).map_err(type_error)?;
        let info = x509::certificate(cert.der()).map_err(|e| type_error(format!("Certificate: {e}")))?;
        Ok(Certificate { cert: Rc::new(cert), info })
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
        let realm = class.context().realm().clone();
        let getter = |f: fn(&CertInfo, &mut Context) -> JsResult<JsValue>| {
            NativeFunction::from_copy_closure(move |this, _, ctx| {
                let info = with_this(this, |c: &Certificate| c.info.clone())?;
                f(&info, ctx)
            })
            .to_js_function(&realm)
        };
        let attr = Attribute::CONFIGURABLE;
        class.accessor(js_string!("issuer"), Some(getter(|i, ctx| names(&i.issuer, ctx))), None, attr);
        class.accessor(js_string!("subject"), Some(getter(|i, ctx| names(&i.subject, ctx))), None, attr);
        let alt = getter(|i, ctx| {
            let names = i.dns_names.iter().map(|n| JsValue::from(JsString::from(n.as_str())));
            Ok(JsArray::from_iter(names, ctx).into())
        });
        class.accessor(js_string!("subjectAltNames"), Some(alt), None, attr);
        class.accessor(js_string!("notBefore"), Some(getter(|i, _| Ok(i.not_before.into()))), None, attr);
        class.accessor(js_string!("notAfter"), Some(getter(|i, _| Ok(i.not_after.into()))), None, attr);
        Ok(())
    }
}

/// A name as an object of attribute names to values; a repeated attribute keeps its last.
fn names(attrs: &[(String, String)], ctx: &mut Context) -> JsResult<JsValue> {
    let o = JsObject::with_object_proto(ctx.intrinsics());
    for (k, v) in attrs {
        o.set(JsString::from(k.as_str()), JsString::from(v.as_str()), false, ctx)?;
    }
    Ok(o.into())
}
