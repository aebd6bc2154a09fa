//! `crypto.Hmac(algorithm, key)`: `update(data | string, encoding?)`, then `digest(encoding?)`.

use std::cell::RefCell;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::digest::{Digest, Stream};
use super::{algorithm, arg, input, output, with_this};
use crate::js::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct Hmac {
    #[unsafe_ignore_trace]
    stream: RefCell<Box<dyn Stream>>,
}

impl Class for Hmac {
    const NAME: &'static str = "Hmac";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let digest = Digest::named(&algorithm(args, "Hmac")?).map_err(type_error)?;
        let key = super::data_arg(args, 1, "Hmac")?;
        Ok(Hmac { stream: RefCell::new(digest.hmac(&key)) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("update"),
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let bytes = input(args, ctx)?;
                with_this(this, |h: &Hmac| h.stream.borrow_mut().update(&bytes))?;
                Ok(JsValue::undefined())
            }),
        );
        class.method(
            js_string!("digest"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let bytes = with_this(this, |h: &Hmac| h.stream.borrow_mut().finish())?;
                output(bytes, &arg(args, 0), ctx)
            }),
        );
        Ok(())
    }
}
