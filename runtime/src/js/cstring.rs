//! `CString`: bytes held as a string's text without turning them into a JS string, as Pipy's
//! (what its `JSON.decode` gives for strings past `maxStringSize`, what Hessian reads and
//! writes as a string). `new CString()`, `new CString(string)`, `new CString(data)`; `size`
//! and `data` (a copy of the bytes); `toString()` is the text, invalid UTF-8 replaced.
//!
//! Weir's own: `toJSON()` returns the text, so `JSON.stringify`/`JSON.encode` write a
//! CString as the JSON string Pipy's encoder writes for it (Boa's JSON knows no host class).

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::data::Data;
use super::type_error;

#[derive(Debug, Default, Trace, Finalize, JsData)]
pub struct CString {
    #[unsafe_ignore_trace]
    pub bytes: Vec<u8>,
}

impl CString {
    /// The bytes of a JS `CString`, or `None` when `value` is not one.
    pub fn bytes_of(value: &JsValue) -> Option<Vec<u8>> {
        value.as_object()?.downcast_ref::<CString>().map(|c| c.bytes.clone())
    }

    fn text_of(this: &JsValue) -> JsResult<JsValue> {
        let bytes = CString::bytes_of(this).ok_or_else(|| type_error("this is not a CString"))?;
        Ok(JsString::from(String::from_utf8_lossy(&bytes).as_ref()).into())
    }
}

impl Class for CString {
    const NAME: &'static str = "CString";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let bytes = match args.first() {
            None => Vec::new(),
            Some(v) if v.is_string() => v.as_string().unwrap().to_std_string_escaped().into_bytes(),
            Some(v) => match Data::bytes_of(v) {
                Some(b) => b.to_vec(),
                None => return Err(type_error("CString: argument #1 expects a string or a Data object")),
            },
        };
        Ok(CString { bytes })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let size = NativeFunction::from_fn_ptr(|this, _, _| {
            let bytes = CString::bytes_of(this).ok_or_else(|| type_error("this is not a CString"))?;
            Ok((bytes.len() as u32).into())
        })
        .to_js_function(&realm);
        let data = NativeFunction::from_fn_ptr(|this, _, ctx| {
            let bytes = CString::bytes_of(this).ok_or_else(|| type_error("this is not a CString"))?;
            Data::to_js(bytes, ctx)
        })
        .to_js_function(&realm);
        class.accessor(js_string!("size"), Some(size), None, Attribute::CONFIGURABLE | Attribute::ENUMERABLE);
        class.accessor(js_string!("data"), Some(data), None, Attribute::CONFIGURABLE | Attribute::ENUMERABLE);
        class.method(js_string!("toString"), 0, NativeFunction::from_fn_ptr(|this, _, _| CString::text_of(this)));
        class.method(js_string!("toJSON"), 0, NativeFunction::from_fn_ptr(|this, _, _| CString::text_of(this)));
        Ok(())
    }
}

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<CString>()
}

#[cfg(test)]
mod tests {
    use super::super::eval_to_string;

    #[test]
    fn holds_a_string_or_data_as_bytes() {
        let src = "var a = new CString('h\u{e9}llo'), b = new CString(new Data([104, 105])), c = new CString();
            [a.size, a.toString(), String(a.data.size), b.size, `${b}`, c.size, c.toString() === ''].join()";
        assert_eq!(eval_to_string(src), "6,h\u{e9}llo,6,2,hi,0,true");
    }

    #[test]
    fn is_written_to_json_as_its_text_and_rejects_other_arguments() {
        let src = "var s = JSON.stringify({ k: new CString('a\"b') });
            try { new CString(1); s += ' no error' } catch (e) { s += ' ' + e.message } s";
        assert_eq!(eval_to_string(src), r#"{"k":"a\"b"} CString: argument #1 expects a string or a Data object"#);
    }
}
