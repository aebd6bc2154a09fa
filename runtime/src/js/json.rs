//! PipyJS's additions to `JSON`: `JSON.decode(data)` and `JSON.encode(value)`, which read
//! from and write to `Data`.

use boa_engine::{Context, JsResult, Source};

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.eval(Source::from_bytes(
        r#"Object.defineProperties(JSON, {
            decode: { value: function decode(data, reviver) { return JSON.parse(data instanceof Data ? data.toString() : String(data), reviver) }, writable: true, configurable: true },
            encode: { value: function encode(value, replacer, space) { var s = JSON.stringify(value, replacer, space); return s === undefined ? undefined : new Data(s) }, writable: true, configurable: true },
        })"#,
    ))?;
    Ok(())
}
