//! The configuration-time port of the filters: [`Args`], the arguments a script gave one
//! filter method, read as that filter needs them.
//!
//! `engine::Host` is what a filter asks of the script at traffic time; `Args` is what its
//! `make` asks at configuration time. Each filter keeps its `make` in its own file and reads
//! its arguments here: positional values, options objects with Pipy's parsing (durations,
//! sizes, callbacks), [`Given`] values ("a value, or a function returning one"), and, through
//! a [`Builder`] that the pipeline designer implements, sub-pipelines and script objects.
//! Every error names the filter (and the option) it is about.

use std::rc::Rc;
use std::time::Duration;

use boa_engine::{Context as JsContext, JsError, JsNativeError, JsObject, JsResult, JsString, JsValue};

use crate::engine::quota::Bucket;
use crate::engine::sub::{Registry, SubRef};
use crate::engine::{Callback, Given};
use crate::options;
use crate::tls_material::Material;

/// What a filter's `make` needs from the designer that calls it, beyond plain values.
pub trait Builder {
    /// A sub-pipeline argument: a pipeline name, a template, or a builder function.
    fn sub(&self, v: &JsValue, ctx: &mut JsContext) -> JsResult<SubRef>;

    /// The registry in which names returned by a function at traffic time are looked up.
    fn registry(&self) -> Option<Rc<Registry>>;

    /// Whether `v` stands for events (an event, a message, or an array of them); why not.
    fn check_events(&self, v: &JsValue, ctx: &mut JsContext) -> Result<(), String>;

    /// The token bucket of an `algo.Quota` object.
    fn quota(&self, v: &JsValue) -> Option<Rc<Bucket>>;

    /// The key or certificates of a `crypto.PrivateKey`, `Certificate` or `CertificateChain`.
    fn material(&self, v: &JsValue) -> Option<Material>;
}

/// The arguments of one call of a filter method, e.g. `connect('host:port', { ... })`.
pub struct Args<'a> {
    name: &'static str,
    values: &'a [JsValue],
    ctx: &'a mut JsContext,
    builder: &'a dyn Builder,
}

impl<'a> Args<'a> {
    pub fn new(name: &'static str, values: &'a [JsValue], ctx: &'a mut JsContext, builder: &'a dyn Builder) -> Self {
        Args { name, values, ctx, builder }
    }

    /// The filter method's name in the API, as the script called it.
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Argument `i` as given (`undefined` when absent).
    pub fn value(&self, i: usize) -> JsValue {
        self.values.get(i).cloned().unwrap_or_default()
    }

    /// All the arguments as given.
    pub fn values(&self) -> &'a [JsValue] {
        self.values
    }

    /// Whether argument `i` is missing or `undefined`.
    pub fn is_absent(&self, i: usize) -> bool {
        self.values.get(i).is_none_or(|v| v.is_undefined())
    }

    pub fn is_function(&self, i: usize) -> bool {
        self.values.get(i).is_some_and(is_callable)
    }

    /// A TypeError naming this filter: `connect(): ...`.
    pub fn error(&self, message: impl std::fmt::Display) -> JsError {
        JsNativeError::typ().with_message(format!("{}(): {message}", self.name)).into()
    }

    /// A TypeError saying what the filter takes: `connect() takes a target ...`.
    pub fn takes(&self, what: &str) -> JsError {
        JsNativeError::typ().with_message(format!("{}() takes {what}", self.name)).into()
    }

    /// Argument `i`, which must be a function: `what` says what the filter takes, for the
    /// error (`"a function"`).
    pub fn function(&self, i: usize, what: &str) -> JsResult<Callback> {
        self.optional_function(i, what)?.ok_or_else(|| self.takes(what))
    }

    /// Argument `i` as a function, `None` when it is missing, `undefined` or `null`.
    pub fn optional_function(&self, i: usize, what: &str) -> JsResult<Option<Callback>> {
        match self.values.get(i) {
            None => Ok(None),
            Some(v) if v.is_null_or_undefined() => Ok(None),
            Some(v) => callable(v).map(Some).ok_or_else(|| self.takes(what)),
        }
    }

    /// Argument `i` converted to a string as JavaScript does; `None` when absent.
    pub fn optional_string(&mut self, i: usize) -> JsResult<Option<String>> {
        if self.is_absent(i) {
            return Ok(None);
        }
        Ok(Some(self.values[i].to_string(self.ctx)?.to_std_string_escaped()))
    }

    /// A size: a number of bytes or a string with a binary suffix (`'16k'`, `'1m'`).
    pub fn size(&mut self, v: &JsValue) -> JsResult<usize> {
        options::size(v, self.ctx).map_err(|e| self.error(message_of(&e)))
    }

    /// Argument `i`, a value of the filter's own kind read by `fixed`, or a function called
    /// at traffic time for one. `what` says what the filter takes, for the error when the
    /// argument is neither a function nor a string or object `fixed` accepts.
    pub fn given<T>(
        &mut self,
        i: usize,
        what: &str,
        fixed: impl FnOnce(&JsValue, &mut Args<'a>) -> JsResult<Option<T>>,
    ) -> JsResult<Given<T>> {
        let v = self.value(i);
        if let Some(f) = callable(&v) {
            return Ok(Given::Dynamic(f));
        }
        match fixed(&v, self)? {
            Some(t) => Ok(Given::Fixed(t)),
            None => Err(self.takes(&format!("{what} or a function returning one"))),
        }
    }

    /// Argument `i` as a string, or a function returning one: `'host:port'` targets.
    pub fn given_text(&mut self, i: usize, what: &str) -> JsResult<Given<String>> {
        self.given(i, what, |v, args| match v.is_string() {
            true => Ok(Some(v.to_string(args.ctx)?.to_std_string_escaped())),
            false => Ok(None),
        })
    }

    /// A sub-pipeline argument: a pipeline name, a template, or a builder function.
    pub fn sub(&mut self, v: &JsValue) -> JsResult<SubRef> {
        self.builder.sub(v, self.ctx)
    }

    /// Where pipeline names a function returns at traffic time are looked up.
    pub fn registry(&self) -> Option<Rc<Registry>> {
        self.builder.registry()
    }

    /// Checks that `v` stands for events, so a bad replacement fails at start, not later.
    pub fn check_events(&mut self, v: &JsValue) -> JsResult<()> {
        self.builder.check_events(v, self.ctx).map_err(|e| self.error(e))
    }

    /// The token bucket of an `algo.Quota` argument.
    pub fn quota(&self, v: &JsValue) -> Option<Rc<Bucket>> {
        self.builder.quota(v)
    }

    /// The key or certificates of a `crypto.*` argument (TLS options).
    pub fn material(&self, v: &JsValue) -> Option<Material> {
        self.builder.material(v)
    }

    /// The own enumerable string-keyed entries of argument `i`, an object (`pipe`'s map).
    pub fn entries(&mut self, i: usize) -> JsResult<Vec<(String, JsValue)>> {
        let o = self.value(i).as_object().ok_or_else(|| self.error(format!("argument {} must be an object", i + 1)))?;
        let mut entries = Vec::new();
        for key in o.own_property_keys(self.ctx)? {
            if matches!(key, boa_engine::property::PropertyKey::Symbol(_)) {
                continue;
            }
            let v = o.get(key.clone(), self.ctx)?;
            entries.push((key.to_string(), v));
        }
        Ok(entries)
    }

    /// The script engine itself, for the makers that live in the JS layer (legacy `chain`,
    /// which loads modules); filters read their arguments through the methods above.
    pub fn js_context(&mut self) -> &mut JsContext {
        self.ctx
    }

    /// Argument `i` read as an options object (absent or not an object: no options).
    pub fn options(&mut self, i: usize) -> Options<'_> {
        let object = self.values.get(i).and_then(|v| v.as_object());
        Options { filter: self.name, object, ctx: self.ctx }
    }
}

/// An options object, `{ idleTimeout: '5s', bufferSize: '16k', onState: fn }`. Options that
/// are missing, `undefined` or `null` are absent.
pub struct Options<'o> {
    filter: &'static str,
    object: Option<JsObject>,
    ctx: &'o mut JsContext,
}

impl Options<'_> {
    /// The option's value, `None` when absent.
    pub fn value(&mut self, key: &str) -> JsResult<Option<JsValue>> {
        let Some(o) = &self.object else { return Ok(None) };
        let v = o.get(JsString::from(key), self.ctx)?;
        Ok(Some(v).filter(|v| !v.is_null_or_undefined()))
    }

    fn error(&self, key: &str, e: impl std::fmt::Display) -> JsError {
        JsNativeError::typ().with_message(format!("{}(): option {key}: {e}", self.filter)).into()
    }

    pub fn number(&mut self, key: &str) -> JsResult<Option<f64>> {
        let Some(v) = self.value(key)? else { return Ok(None) };
        v.to_number(self.ctx).map(Some)
    }

    /// A count: negative numbers and NaN are 0.
    pub fn count(&mut self, key: &str) -> JsResult<Option<usize>> {
        Ok(self.number(key)?.map(|n| if n > 0.0 { n as usize } else { 0 }))
    }

    pub fn string(&mut self, key: &str) -> JsResult<Option<String>> {
        let Some(v) = self.value(key)? else { return Ok(None) };
        Ok(Some(v.to_string(self.ctx)?.to_std_string_escaped()))
    }

    /// A number of seconds or a string with a unit (`'5s'`, `'100ms'`, `'2m'`).
    pub fn duration(&mut self, key: &str) -> JsResult<Option<Duration>> {
        let Some(v) = self.value(key)? else { return Ok(None) };
        options::duration(&v, self.ctx).map(Some).map_err(|e| self.error(key, message_of(&e)))
    }

    /// A duration where 0 means "never": `None` inside for 0, outer `None` when absent.
    pub fn timeout(&mut self, key: &str) -> JsResult<Option<Option<Duration>>> {
        Ok(self.duration(key)?.map(|d| Some(d).filter(|d| !d.is_zero())))
    }

    /// A size: a number of bytes or a string with a binary suffix (`'16k'`, `'1m'`).
    pub fn size(&mut self, key: &str) -> JsResult<Option<usize>> {
        let Some(v) = self.value(key)? else { return Ok(None) };
        options::size(&v, self.ctx).map(Some).map_err(|e| self.error(key, message_of(&e)))
    }

    pub fn function(&mut self, key: &str) -> JsResult<Option<Callback>> {
        let Some(v) = self.value(key)? else { return Ok(None) };
        callable(&v).map(Some).ok_or_else(|| self.error(key, format!("a function is expected, got {}", v.display())))
    }

    /// A string, or a function returning one at traffic time (`connect`'s `bind`).
    pub fn given_text(&mut self, key: &str) -> JsResult<Option<Given<String>>> {
        let Some(v) = self.value(key)? else { return Ok(None) };
        if let Some(f) = callable(&v) {
            return Ok(Some(Given::Dynamic(f)));
        }
        Ok(Some(Given::Fixed(v.to_string(self.ctx)?.to_std_string_escaped())))
    }

    /// `bufferSize`: 0 (the filter's default) when absent.
    pub fn buffer_size(&mut self) -> JsResult<usize> {
        Ok(self.size("bufferSize")?.unwrap_or(0))
    }

    /// `bufferLimit` of the filters that hold a whole message: [`options::MESSAGE_LIMIT`]
    /// when absent or 0.
    pub fn buffer_limit(&mut self) -> JsResult<usize> {
        Ok(self.size("bufferLimit")?.filter(|n| *n > 0).unwrap_or(options::MESSAGE_LIMIT))
    }
}

/// The message of an error of ours, without the `TypeError:` that `Display` adds.
fn message_of(e: &JsError) -> String {
    e.as_native().map_or_else(|| e.to_string(), |n| n.message().to_string())
}

fn is_callable(v: &JsValue) -> bool {
    v.as_object().is_some_and(|o| o.is_callable())
}

fn callable(v: &JsValue) -> Option<Callback> {
    v.as_object().filter(|o| o.is_callable())
}

/// What a designer without pipelines answers: filter tests that read arguments with no
/// script around them.
#[cfg(test)]
pub mod stub {
    use super::*;

    pub struct NoBuilder;

    impl Builder for NoBuilder {
        fn sub(&self, _: &JsValue, _: &mut JsContext) -> JsResult<SubRef> {
            Err(JsNativeError::typ().with_message("no sub-pipelines here").into())
        }
        fn registry(&self) -> Option<Rc<Registry>> {
            None
        }
        fn check_events(&self, _: &JsValue, _: &mut JsContext) -> Result<(), String> {
            Ok(())
        }
        fn quota(&self, _: &JsValue) -> Option<Rc<Bucket>> {
            None
        }
        fn material(&self, _: &JsValue) -> Option<Material> {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stub::NoBuilder;
    use super::*;
    use boa_engine::js_string;
    use boa_engine::object::ObjectInitializer;

    fn message(e: JsError) -> String {
        e.as_native().map(|n| n.message().to_string()).unwrap_or_default()
    }

    #[test]
    fn errors_name_the_filter_and_the_option() {
        let mut ctx = JsContext::default();
        let o = ObjectInitializer::new(&mut ctx)
            .property(js_string!("idleTimeout"), js_string!("soon"), Default::default())
            .build();
        let values = [JsValue::from(js_string!("x")), o.into()];
        let mut args = Args::new("connect", &values, &mut ctx, &NoBuilder);
        assert_eq!(message(args.function(0, "a function").unwrap_err()), "connect() takes a function");
        let e = args.options(1).duration("idleTimeout").unwrap_err();
        assert_eq!(message(e), "connect(): option idleTimeout: invalid duration: soon");
        assert_eq!(args.options(1).duration("connectTimeout").unwrap(), None);
        assert_eq!(args.options(5).buffer_limit().unwrap(), options::MESSAGE_LIMIT);
    }

    #[test]
    fn sizes_take_numbers_and_binary_suffixes() {
        let mut ctx = JsContext::default();
        let options = |src: &str, ctx: &mut JsContext| {
            let o = ctx.eval(boa_engine::Source::from_bytes(&format!("({{ bufferSize: {src} }})"))).unwrap();
            let values = [o];
            let mut args = Args::new("encodeHTTPRequest", &values, ctx, &NoBuilder);
            args.options(0).buffer_size().map_err(message)
        };
        assert_eq!(options("16384", &mut ctx), Ok(16384));
        assert_eq!(options("'0.002k'", &mut ctx), Ok(2));
        assert_eq!(options("'1m'", &mut ctx), Ok(1 << 20));
        assert_eq!(options("undefined", &mut ctx), Ok(0));
        assert_eq!(
            options("'lots'", &mut ctx),
            Err("encodeHTTPRequest(): option bufferSize: invalid size: lots".into())
        );
        assert!(options("'-1k'", &mut ctx).is_err());
    }

    #[test]
    fn given_takes_a_function_or_what_the_filter_reads() {
        let mut ctx = JsContext::default();
        let f = ctx.eval(boa_engine::Source::from_bytes("() => 'a:1'")).unwrap();
        let values = [f, JsValue::from(js_string!("b:2")), JsValue::from(3)];
        let mut args = Args::new("connect", &values, &mut ctx, &NoBuilder);
        assert!(!args.given_text(0, "a target").unwrap().is_fixed());
        assert!(matches!(args.given_text(1, "a target").unwrap(), Given::Fixed(t) if t == "b:2"));
        let e = args.given_text(2, "a target 'host:port'").err().unwrap();
        assert_eq!(message(e), "connect() takes a target 'host:port' or a function returning one");
    }
}
