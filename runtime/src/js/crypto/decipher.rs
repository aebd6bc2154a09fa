//! `crypto.Decipher(algorithm, { key, iv })`: `update(data | string)` and `final()`, each giving
//! the deciphered bytes so far (AES CBC/ECB/CTR, see `modes`).

use std::cell::RefCell;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace, js_string};

use super::modes::Crypter;
use super::{crypter, input, with_this};
use crate::js::data::Data;
use crate::js::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct Decipher {
    #[unsafe_ignore_trace]
    // Boxed: the AES key schedules are aligned beyond what Boa keeps in an object.
    crypter: RefCell<Box<Crypter>>,
}

impl Class for Decipher {
    const NAME: &'static str = "Decipher";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        Ok(Decipher { crypter: RefCell::new(Box::new(crypter(args, true, ctx)?)) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("update"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let bytes = input(&args[..args.len().min(1)], ctx)?;
                let out = with_this(this, |c: &Decipher| c.crypter.borrow_mut().update(&bytes))?;
                Data::to_js(out, ctx)
            }),
        );
        class.method(
            js_string!("final"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let out = with_this(this, |c: &Decipher| c.crypter.borrow_mut().finish())?;
                Data::to_js(out.map_err(type_error)?, ctx)
            }),
        );
        Ok(())
    }
}
