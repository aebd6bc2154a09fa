//! PipyJS's additions to `JSON`: `JSON.decode(data, reviver?, { maxStringSize }?)` and
//! `JSON.encode(value)`, which read from and write to `Data`. A string value of more than
//! `maxStringSize` bytes decodes to a `CString` (the reviver sees it so), as in Pipy.

use boa_engine::{Context, JsResult, Source};

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.eval(Source::from_bytes(
        r#"Object.defineProperties(JSON, {
            decode: { value: function decode(data, reviver, options) {
                var text = data instanceof Data ? data.toString() : String(data);
                var max = options && options.maxStringSize;
                if (typeof max !== 'number' || max < 0) return JSON.parse(text, reviver);
                return JSON.parse(text, function (k, v) {
                    if (typeof v === 'string' && v.length > max / 3 && new Data(v).size > max) v = new CString(v);
                    return typeof reviver === 'function' ? reviver.call(this, k, v) : v;
                });
            }, writable: true, configurable: true },
            encode: { value: function encode(value, replacer, space) { var s = JSON.stringify(value, replacer, space); return s === undefined ? undefined : new Data(s) }, writable: true, configurable: true },
        })"#,
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::eval_to_string;

    #[test]
    fn strings_past_max_string_size_decode_to_cstrings() {
        let src = r#"var v = JSON.decode(new Data('{"a":"short","b":"ééé","c":["long enough"]}'), null, { maxStringSize: 5 });
            [v.a instanceof CString, v.b instanceof CString, v.b.size, v.c[0] instanceof CString, JSON.stringify(v),
             JSON.decode(new Data('"long enough"')) instanceof CString].join()"#;
        assert_eq!(eval_to_string(src), r#"false,true,6,true,{"a":"short","b":"ééé","c":["long enough"]},false"#);
    }
}
