//! `crypto.Sign(digest)`: `update(data | string, encoding?)`, then
//! `sign(privateKey, encoding?, options?)`: a Data, or a string in `encoding`.
//!
//! The message is kept until `sign`, since ring signs a message rather than a digest; the
//! signature is what Pipy's digest-then-sign makes (ECDSA signatures in DER).

use std::cell::RefCell;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::digest::Digest;
use super::keys::{self, EcdsaForm};
use super::private_key::PrivateKey;
use super::{algorithm, arg, input, output, with_this};
use crate::js::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct Sign {
    #[unsafe_ignore_trace]
    digest: Digest,
    #[unsafe_ignore_trace]
    message: RefCell<Vec<u8>>,
}

impl Class for Sign {
    const NAME: &'static str = "Sign";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let digest = Digest::named(&algorithm(args, "Sign")?).map_err(type_error)?;
        Ok(Sign { digest, message: RefCell::default() })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("update"),
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let bytes = input(args, ctx)?;
                with_this(this, |s: &Sign| s.message.borrow_mut().extend_from_slice(&bytes))?;
                Ok(JsValue::undefined())
            }),
        );
        class.method(
            js_string!("sign"),
            3,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let key = arg(args, 0).as_object().and_then(|o| o.downcast_ref::<PrivateKey>().map(|k| k.material()));
                let key = key.ok_or_else(|| type_error("sign: argument #1 expected to be a PrivateKey object"))?;
                let signed =
                    with_this(this, |s: &Sign| keys::sign(&key, s.digest, EcdsaForm::Der, &s.message.borrow()))?;
                output(signed.map_err(type_error)?, &arg(args, 1), ctx)
            }),
        );
        Ok(())
    }
}
