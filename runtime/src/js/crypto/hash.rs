//! `crypto.Hash(algorithm)`: `update(data | string, encoding?)`, then `digest(encoding?)`.

use std::cell::RefCell;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::digest::{Digest, Stream};
use super::{algorithm, arg, input, output, with_this};
use crate::js::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct Hash {
    #[unsafe_ignore_trace]
    stream: RefCell<Box<dyn Stream>>,
}

impl Class for Hash {
    const NAME: &'static str = "Hash";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let digest = Digest::named(&algorithm(args, "Hash")?).map_err(type_error)?;
        Ok(Hash { stream: RefCell::new(digest.hasher()) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("update"),
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let bytes = input(args, ctx)?;
                with_this(this, |h: &Hash| h.stream.borrow_mut().update(&bytes))?;
                Ok(JsValue::undefined())
            }),
        );
        class.method(
            js_string!("digest"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let bytes = with_this(this, |h: &Hash| h.stream.borrow_mut().finish())?;
                output(bytes, &arg(args, 0), ctx)
            }),
        );
        Ok(())
    }
}
