//! `IP`: one IPv4 or IPv6 address, as Pipy's: `new IP('10.0.0.1')`, `new IP('::1')` or
//! `new IP([10, 0, 0, 1])` (more than 4 bytes: 16 of IPv6), with `version`, `decompose()`,
//! `toBytes()`, `toString()`, and `IP.isV4(s)`/`IP.isV6(s)`.
//!
//! Parsing and printing are `Netmask`'s (an address is a block of width 0 there).

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::netmask::{Block, ip_from_bytes, parse_ip};
use super::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct Ip {
    /// Boxed: Boa keeps object data at an alignment of 8, a `u128` wants 16.
    #[unsafe_ignore_trace]
    pub addr: Box<Block>,
}

impl Ip {
    /// A new `IP` object of the address.
    pub fn to_js(v6: bool, ip: u128, ctx: &mut Context) -> JsResult<JsObject> {
        Ip::from_data(Ip { addr: Box::new(Block { v6, ip, bits: 0 }) }, ctx)
    }

    /// A string or an array of bytes as an address; a TypeError naming `what` otherwise.
    pub fn parse_arg(value: &JsValue, what: &str, ctx: &mut Context) -> JsResult<(bool, u128)> {
        if let Some(s) = value.as_string() {
            let s = s.to_std_string_escaped();
            return parse_ip(&s).ok_or_else(|| type_error(format!("{what}: invalid IP address notation: {s:?}")));
        }
        match value.as_object().filter(|o| o.is_array()) {
            Some(arr) => ip_from_bytes(&arr, ctx),
            None => Err(type_error(format!("{what} takes a string or an array of bytes, not {}", value.display()))),
        }
    }
}

fn addr_of(this: &JsValue) -> JsResult<Block> {
    this.as_object().and_then(|o| o.downcast_ref::<Ip>().map(|i| *i.addr)).ok_or_else(|| type_error("not an IP"))
}

fn numbers(values: impl IntoIterator<Item = u32>, ctx: &mut Context) -> JsValue {
    JsArray::from_iter(values.into_iter().map(JsValue::from), ctx).into()
}

impl Class for Ip {
    const NAME: &'static str = "IP";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let (v6, ip) = Ip::parse_arg(&args.first().cloned().unwrap_or_default(), "IP()", ctx)?;
        Ok(Ip { addr: Box::new(Block { v6, ip, bits: 0 }) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let version = NativeFunction::from_fn_ptr(|this, _, _| Ok(if addr_of(this)?.v6 { 6 } else { 4 }.into()));
        class.accessor(js_string!("version"), Some(version.to_js_function(&realm)), None, Attribute::CONFIGURABLE);
        class.method(
            js_string!("decompose"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| Ok(numbers(addr_of(this)?.decompose(), ctx))),
        );
        class.method(
            js_string!("toBytes"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                Ok(numbers(addr_of(this)?.bytes().into_iter().map(u32::from), ctx))
            }),
        );
        class.method(
            js_string!("toString"),
            0,
            NativeFunction::from_fn_ptr(|this, _, _| {
                let a = addr_of(this)?;
                Ok(JsString::from(a.text(a.ip)).into())
            }),
        );
        let is = |v6: bool| {
            NativeFunction::from_copy_closure(move |_, args, _| {
                let s = super::arg_str(args, 0).ok_or_else(|| type_error("IP.isV4()/isV6() take a string"))?;
                Ok(parse_ip(&s).is_some_and(|(six, _)| six == v6).into())
            })
        };
        class.static_method(js_string!("isV4"), 1, is(false));
        class.static_method(js_string!("isV6"), 1, is(true));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::js::eval_to_string as eval;

    #[test]
    fn addresses_from_text_and_bytes() {
        let src = "var a = new IP('192.168.0.10'), b = new IP('2001:db8:0:0:0:0:0:1'), c = new IP([10, 1, 2, 3]); \
            [a.version, a, a.decompose().join('.'), a.toBytes().join(','), b.version, b, b.decompose().join(':'), \
             b.toBytes().length, c, new IP([0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1])].join(' ')";
        assert_eq!(
            eval(src),
            "4 192.168.0.10 192.168.0.10 192,168,0,10 6 2001:db8::1 8193:3512:0:0:0:0:0:1 16 10.1.2.3 ::1"
        );
    }

    #[test]
    fn checks_and_errors() {
        let src = "[IP.isV4('1.2.3.4'), IP.isV4('::1'), IP.isV6('::1'), IP.isV6('x'), \
            (() => { try { new IP('1.2.3') } catch (e) { return e.message } })(), \
            (() => { try { new IP(5) } catch (e) { return e.message } })()].join('|')";
        assert_eq!(
            eval(src),
            "true|false|true|false|IP(): invalid IP address notation: \"1.2.3\"|IP() takes a string or an array of bytes, not 5"
        );
    }
}
