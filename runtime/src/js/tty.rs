//! `pipy.tty`: `raw` reads and sets whether the terminal on stdin is in raw mode (no line
//! buffering, no echo, no signals from keys), as Pipy's. Leaving raw mode puts back the
//! settings found when it was entered. Without a terminal on stdin setting it does nothing.

use std::sync::Mutex;

use boa_engine::object::{FunctionObjectBuilder, JsObject, ObjectInitializer};
use boa_engine::property::PropertyDescriptor;
use boa_engine::{Context, JsResult, JsValue, NativeFunction, js_string};

/// The settings before raw mode, while in it.
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

fn set_raw(raw: bool) {
    let mut saved = SAVED.lock().unwrap_or_else(|e| e.into_inner());
    match (raw, saved.take()) {
        (true, None) => {
            // SAFETY: termios is plain data that tcgetattr fills; fd 0 is only read.
            let mut t: libc::termios = unsafe { std::mem::zeroed() };
            if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
                return;
            }
            let before = t;
            // SAFETY: cfmakeraw edits the struct it is given.
            unsafe { libc::cfmakeraw(&mut t) };
            if unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) } == 0 {
                *saved = Some(before);
            }
        }
        (false, Some(before)) => {
            // SAFETY: puts back settings tcgetattr gave.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &before) };
        }
        (_, kept) => *saved = kept,
    }
}

fn is_raw() -> bool {
    SAVED.lock().unwrap_or_else(|e| e.into_inner()).is_some()
}

pub fn make(ctx: &mut Context) -> JsResult<JsObject> {
    let tty = ObjectInitializer::new(ctx).build();
    let get = FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(|_, _, _| Ok(is_raw().into())))
        .name(js_string!("raw"))
        .build();
    let set = NativeFunction::from_fn_ptr(|_, args, _| {
        set_raw(args.first().is_some_and(JsValue::to_boolean));
        Ok(JsValue::undefined())
    });
    let set = FunctionObjectBuilder::new(ctx.realm(), set).name(js_string!("raw")).length(1).build();
    let desc = PropertyDescriptor::builder().get(get).set(set).enumerable(true).configurable(true);
    tty.define_property_or_throw(js_string!("raw"), desc, ctx)?;
    Ok(tty)
}
