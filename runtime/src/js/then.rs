//! PipyJS's `promise.then(value)`: a non-function argument makes the derived promise settle
//! with that value (`new Timeout(5).wait().then(new StreamEnd)` is a promise of a
//! `StreamEnd`). Standard JS would ignore the argument and pass the original value through.
//! Functions, `undefined` and `null` keep their standard meaning.

use boa_engine::{Context, JsResult, Source};

const PATCH: &str = r#"(() => {
  const original = Promise.prototype.then;
  const wrap = v => (v === undefined || v === null || typeof v === 'function') ? v : () => v;
  Object.defineProperty(Promise.prototype, 'then', {
    value: function then(onFulfilled, onRejected) {
      return original.call(this, wrap(onFulfilled), wrap(onRejected));
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
})()"#;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.eval(Source::from_bytes(PATCH))?;
    Ok(())
}
