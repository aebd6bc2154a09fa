//! `crypto.Verify(digest)`: `update(data | string, encoding?)`, then
//! `verify(publicKey, signature, encoding?, options?)`: whether the signature (a Data, or a
//! string in `encoding`) is good. ECDSA signatures are DER, as `openssl dgst` makes them.

use std::cell::RefCell;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::digest::Digest;
use super::keys::{self, EcdsaForm};
use super::public_key::PublicKey;
use super::{algorithm, arg, input, with_this};
use crate::js::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct Verify {
    #[unsafe_ignore_trace]
    digest: Digest,
    #[unsafe_ignore_trace]
    message: RefCell<Vec<u8>>,
}

impl Class for Verify {
    const NAME: &'static str = "Verify";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let digest = Digest::named(&algorithm(args, "Verify")?).map_err(type_error)?;
        Ok(Verify { digest, message: RefCell::default() })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("update"),
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let bytes = input(args, ctx)?;
                with_this(this, |v: &Verify| v.message.borrow_mut().extend_from_slice(&bytes))?;
                Ok(JsValue::undefined())
            }),
        );
        class.method(
            js_string!("verify"),
            4,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let key =
                    arg(args, 0).as_object().and_then(|o| o.downcast_ref::<PublicKey>().map(|k| k.spki().to_vec()));
                let key = key.ok_or_else(|| type_error("verify: argument #1 expected to be a PublicKey object"))?;
                let signature = input(&args[1.min(args.len())..], ctx)?;
                let ok = with_this(this, |v: &Verify| {
                    keys::verify(&key, v.digest, EcdsaForm::Der, &v.message.borrow(), &signature)
                })?;
                Ok(ok.map_err(type_error)?.into())
            }),
        );
        Ok(())
    }
}
