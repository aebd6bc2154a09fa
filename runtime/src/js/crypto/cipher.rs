//! `crypto.Cipher(algorithm, { key, iv })`: `update(data | string)` and `final()`, each giving
//! the enciphered bytes so far (AES CBC/ECB/CTR, see `modes`).

use std::cell::RefCell;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::modes::Crypter;
use super::{crypter, input, with_this};
use crate::js::data::Data;
use crate::js::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct Cipher {
    #[unsafe_ignore_trace]
    // Boxed: the AES key schedules are aligned beyond what Boa keeps in an object.
    crypter: RefCell<Box<Crypter>>,
}

impl Class for Cipher {
    const NAME: &'static str = "Cipher";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        Ok(Cipher { crypter: RefCell::new(Box::new(crypter(args, false, ctx)?)) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("update"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let bytes = input(&args[..args.len().min(1)], ctx)?;
                let out = with_this(this, |c: &Cipher| c.crypter.borrow_mut().update(&bytes))?;
                Data::to_js(out, ctx)
            }),
        );
        class.method(
            js_string!("final"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let out = with_this(this, |c: &Cipher| c.crypter.borrow_mut().finish())?;
                Data::to_js(out.map_err(type_error)?, ctx)
            }),
        );
        Ok(())
    }
}
