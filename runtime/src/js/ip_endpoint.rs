//! `IPEndpoint`: an address, a port and a protocol, as Pipy's: `new IPEndpoint('10.0.0.1:80')`,
//! `new IPEndpoint('[::1]:53', 'udp')`, `new IPEndpoint(ip, 80)` (`ip` a string or an `IP`).
//! `ip` (an `IP`), `port` and `protocol` (`'tcp'` or `'udp'`) are fields a script may
//! change, as in Pipy (what it sets is kept as it is).
//!
//! An address without a port has port 0; a bare IPv6 address is read whole (Pipy takes its
//! last group for the port).

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace};

use super::ip::Ip;
use super::netmask::parse_ip;
use super::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct IpEndpoint {
    /// `protocol`, `ip` and `port`, as the accessors of [`FIELDS`] read them.
    fields: [JsValue; 3],
}

const FIELDS: [&str; 3] = ["protocol", "ip", "port"];

/// `host:port` or `[v6]:port` split, or the whole text with port 0 when it is an address.
fn split(text: &str) -> Option<((bool, u128), u16)> {
    if let Some(ip) = parse_ip(text) {
        return Some((ip, 0));
    }
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (host, port) = rest.rsplit_once("]:")?;
            (parse_ip(host).filter(|(v6, _)| *v6)?, port)
        }
        None => {
            let (host, port) = text.rsplit_once(':')?;
            (parse_ip(host)?, port)
        }
    };
    Some((host, port.parse().ok()?))
}

fn address(value: &JsValue, has_port: bool, ctx: &mut Context) -> JsResult<(JsObject, u16)> {
    if let Some(obj) = value.as_object().filter(|o| o.is::<Ip>()) {
        return Ok((obj.clone(), 0));
    }
    let Some(text) = value.as_string().map(|s| s.to_std_string_escaped()) else {
        return Err(type_error(format!("IPEndpoint() takes a string or an IP, not {}", value.display())));
    };
    let found = if has_port { parse_ip(&text).map(|ip| (ip, 0)) } else { split(&text) };
    let ((v6, ip), port) = found.ok_or_else(|| type_error(format!("IPEndpoint(): invalid address {text:?}")))?;
    Ok((Ip::to_js(v6, ip, ctx)?, port))
}

impl Class for IpEndpoint {
    const NAME: &'static str = "IPEndpoint";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
        let has_port = arg(1).is_number();
        let (ip, mut port) = address(&arg(0), has_port, ctx)?;
        if has_port {
            let n = arg(1).as_number().unwrap_or_default();
            if !(0.0..=65535.0).contains(&n) {
                return Err(type_error(format!("IPEndpoint(): port number out of range: {n}")));
            }
            port = n as u16;
        }
        let protocol = arg(if has_port { 2 } else { 1 });
        let protocol = match protocol.as_string().map(|s| s.to_std_string_escaped()) {
            None if protocol.is_undefined() => "tcp".to_string(),
            Some(p) if p == "tcp" || p == "udp" => p,
            _ => {
                let got = protocol.display();
                return Err(type_error(format!("IPEndpoint(): protocol must be 'tcp' or 'udp', not {got}")));
            }
        };
        Ok(IpEndpoint { fields: [JsString::from(protocol).into(), ip.into(), port.into()] })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        for (i, name) in FIELDS.into_iter().enumerate() {
            let get = NativeFunction::from_copy_closure(move |this, _, _| {
                let e = this.as_object().and_then(|o| o.downcast_ref::<IpEndpoint>().map(|e| e.fields[i].clone()));
                e.ok_or_else(|| type_error("not an IPEndpoint"))
            });
            let set = NativeFunction::from_copy_closure(move |this, args, _| {
                let obj = this.as_object().ok_or_else(|| type_error("not an IPEndpoint"))?;
                let mut e = obj.downcast_mut::<IpEndpoint>().ok_or_else(|| type_error("not an IPEndpoint"))?;
                e.fields[i] = args.first().cloned().unwrap_or_default();
                Ok(JsValue::undefined())
            });
            let (get, set) = (Some(get.to_js_function(&realm)), Some(set.to_js_function(&realm)));
            class.accessor(JsString::from(name), get, set, Attribute::CONFIGURABLE);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::js::eval_to_string as eval;

    #[test]
    fn endpoints_from_text_and_ips() {
        let src = "[new IPEndpoint('10.0.0.1:80'), new IPEndpoint('[::1]:53', 'udp'), new IPEndpoint('::1'), \
            new IPEndpoint(new IP('1.2.3.4'), 8080), new IPEndpoint('5.6.7.8', 9, 'udp')] \
            .map(e => `${e.protocol} ${e.ip} ${e.port} ${e.ip instanceof IP}`).join('|') + \
            (() => { var e = new IPEndpoint('1.1.1.1:1'); e.port = 2; return ' ' + e.port })()";
        assert_eq!(
            eval(src),
            "tcp 10.0.0.1 80 true|udp ::1 53 true|tcp ::1 0 true|tcp 1.2.3.4 8080 true|udp 5.6.7.8 9 true 2"
        );
    }

    #[test]
    fn bad_endpoints_throw() {
        let src = "['new IPEndpoint(\"x:1\")', 'new IPEndpoint(\"1.2.3.4\", 70000)', 'new IPEndpoint(\"1.2.3.4\", \"sctp\")'] \
            .map(s => { try { eval(s) } catch (e) { return e.message } }).join('|')";
        assert_eq!(
            eval(src),
            "IPEndpoint(): invalid address \"x:1\"|IPEndpoint(): port number out of range: 70000|\
             IPEndpoint(): protocol must be 'tcp' or 'udp', not \"sctp\""
        );
    }
}
