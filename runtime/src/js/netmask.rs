//! `Netmask`: an IPv4 or IPv6 address block in CIDR notation, as Pipy's (its `IPMask`).
//!
//! `new Netmask('10.0.0.1/24')` or `new Netmask(24, [10, 0, 0, 1])` (16 bytes for IPv6).
//! Without `/n` the mask width is 0, as in Pipy. Addresses are kept as integers (`u128`
//! for both versions) so that base, mask, broadcast, first and last are one expression each.

use std::cell::Cell;
use std::net::{Ipv4Addr, Ipv6Addr};

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct Netmask {
    /// Boxed: Boa keeps object data at an alignment of 8, a `u128` wants 16.
    #[unsafe_ignore_trace]
    block: Box<Block>,
    /// The host part `next()` hands out next, from 1 up, as Pipy's 64-bit counter.
    #[unsafe_ignore_trace]
    next: Cell<u64>,
}

/// An address and its mask width; `v6` says which version the integers are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Block {
    pub v6: bool,
    pub ip: u128,
    pub bits: u32,
}

impl Block {
    /// Parses `a.b.c.d/n`, `x:y::z/n` or an address without `/n` (width 0).
    pub fn parse(cidr: &str) -> Result<Block, String> {
        let (addr, bits) = match cidr.split_once('/') {
            Some((a, n)) => (a, n.trim().parse::<u32>().map_err(|_| "invalid CIDR notation".to_string())?),
            None => (cidr, 0),
        };
        let block = match parse_ip(addr) {
            Some((v6, ip)) => Block { v6, ip, bits },
            None => return Err("invalid CIDR notation".into()),
        };
        if bits > block.width() {
            let v = if block.v6 { 6 } else { 4 };
            return Err(format!("IPv{v} CIDR mask out of range"));
        }
        Ok(block)
    }

    fn width(&self) -> u32 {
        if self.v6 { 128 } else { 32 }
    }

    fn all(&self) -> u128 {
        if self.v6 { u128::MAX } else { u32::MAX as u128 }
    }

    pub fn mask(&self) -> u128 {
        let host = self.width() - self.bits;
        if host >= 128 { 0 } else { self.all() & !((1u128 << host) - 1) }
    }

    pub fn hostmask(&self) -> u128 {
        self.all() & !self.mask()
    }

    pub fn base(&self) -> u128 {
        self.ip & self.mask()
    }

    pub fn broadcast(&self) -> u128 {
        self.base() | self.hostmask()
    }

    /// Pipy's first: the base, plus one when the block has host bits.
    pub fn first(&self) -> u128 {
        self.base() | (self.hostmask() & 1)
    }

    /// Pipy's last: the broadcast address without its lowest host bit.
    pub fn last(&self) -> u128 {
        let h = self.hostmask();
        self.base() | (h & h.wrapping_sub(1))
    }

    pub fn size(&self) -> f64 {
        2f64.powi((self.width() - self.bits) as i32)
    }

    pub fn contains(&self, addr: &str) -> bool {
        matches!(parse_ip(addr), Some((v6, ip)) if v6 == self.v6 && ip & self.mask() == self.base())
    }

    pub fn text(&self, ip: u128) -> String {
        if self.v6 { v6_text(ip) } else { Ipv4Addr::from(ip as u32).to_string() }
    }

    /// The address as numbers: 4 bytes, or 8 16-bit groups for IPv6.
    pub fn decompose(&self) -> Vec<u32> {
        if self.v6 {
            Ipv6Addr::from(self.ip).segments().iter().map(|&g| g as u32).collect()
        } else {
            self.bytes().into_iter().map(u32::from).collect()
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        if self.v6 { self.ip.to_be_bytes().to_vec() } else { (self.ip as u32).to_be_bytes().to_vec() }
    }
}

/// An IPv4 or IPv6 address: whether it is IPv6, and its bits.
pub fn parse_ip(s: &str) -> Option<(bool, u128)> {
    if let Ok(a) = s.parse::<Ipv4Addr>() {
        return Some((false, u32::from(a) as u128));
    }
    s.parse::<Ipv6Addr>().ok().map(|a| (true, u128::from(a)))
}

/// RFC 5952 text: lower case, the first longest run of two or more zero groups as `::`.
/// Unlike Rust's `Ipv6Addr` display, IPv4-mapped addresses stay in hex, as Pipy writes them.
fn v6_text(ip: u128) -> String {
    let groups = Ipv6Addr::from(ip).segments();
    let (mut best, mut run) = ((0, 0), (0, 0));
    for (i, &g) in groups.iter().enumerate() {
        run = if g == 0 { (if run.1 == 0 { i } else { run.0 }, run.1 + 1) } else { (0, 0) };
        if run.1 > best.1 {
            best = run;
        }
    }
    let hex = |gs: &[u16]| gs.iter().map(|g| format!("{g:x}")).collect::<Vec<_>>().join(":");
    if best.1 < 2 {
        return hex(&groups);
    }
    format!("{}::{}", hex(&groups[..best.0]), hex(&groups[best.0 + best.1..]))
}

/// Defines `Netmask` and `IPMask`, Pipy's two names of one class.
pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<Netmask>()?;
    let class = ctx.global_object().get(js_string!("Netmask"), ctx)?;
    ctx.register_global_property(js_string!("IPMask"), class, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

impl Netmask {
    /// The next address of the block, or `''` when every host address was handed out.
    fn next_address(&self) -> String {
        let b = &self.block;
        // Pipy hands out at most the low 64 bits of an IPv6 block.
        let room = if b.v6 { b.hostmask() & u64::MAX as u128 } else { b.hostmask() };
        let n = self.next.get();
        if n as u128 >= room {
            return String::new();
        }
        self.next.set(n + 1);
        b.text(b.base() | n as u128)
    }
}

/// One field of a block, as an accessor reads it.
type Part<T> = fn(&Block) -> T;

fn block_of(this: &JsValue) -> JsResult<Block> {
    this.as_object()
        .and_then(|o| o.downcast_ref::<Netmask>().map(|n| *n.block))
        .ok_or_else(|| type_error("not a Netmask"))
}

fn numbers(values: Vec<u32>, ctx: &mut Context) -> JsValue {
    JsArray::from_iter(values.into_iter().map(JsValue::from), ctx).into()
}

impl Class for Netmask {
    const NAME: &'static str = "Netmask";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let first = args.first().cloned().unwrap_or_default();
        let block = if let Some(s) = first.as_string() {
            Block::parse(&s.to_std_string_escaped()).map_err(type_error)?
        } else if let Some(bits) = first.as_number() {
            from_bytes(bits, args.get(1), ctx)?
        } else {
            return Err(type_error("Netmask() takes a CIDR string, or a mask width and an array of bytes"));
        };
        Ok(Netmask { block: Box::new(block), next: Cell::new(1) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let text = |f: fn(&Block) -> u128| {
            NativeFunction::from_copy_closure(move |this, _, _| {
                let b = block_of(this)?;
                Ok(JsString::from(b.text(f(&b))).into())
            })
            .to_js_function(&realm)
        };
        let texts: [(&str, Part<u128>); 7] = [
            ("ip", |b| b.ip),
            ("base", Block::base),
            ("mask", Block::mask),
            ("hostmask", Block::hostmask),
            ("broadcast", Block::broadcast),
            ("first", Block::first),
            ("last", Block::last),
        ];
        for (name, f) in texts {
            class.accessor(JsString::from(name), Some(text(f)), None, Attribute::CONFIGURABLE);
        }
        let number = |f: fn(&Block) -> f64| {
            NativeFunction::from_copy_closure(move |this, _, _| Ok(f(&block_of(this)?).into())).to_js_function(&realm)
        };
        let numbers_of: [(&str, Part<f64>); 3] =
            [("version", |b| if b.v6 { 6.0 } else { 4.0 }), ("bitmask", |b| b.bits as f64), ("size", Block::size)];
        for (name, f) in numbers_of {
            class.accessor(JsString::from(name), Some(number(f)), None, Attribute::CONFIGURABLE);
        }
        methods(class);
        Ok(())
    }
}

fn methods(class: &mut ClassBuilder<'_>) {
    class.method(
        js_string!("decompose"),
        0,
        NativeFunction::from_fn_ptr(|this, _, ctx| Ok(numbers(block_of(this)?.decompose(), ctx))),
    );
    class.method(
        js_string!("toBytes"),
        0,
        NativeFunction::from_fn_ptr(|this, _, ctx| {
            Ok(numbers(block_of(this)?.bytes().into_iter().map(u32::from).collect(), ctx))
        }),
    );
    class.method(
        js_string!("contains"),
        1,
        NativeFunction::from_fn_ptr(|this, args, _| {
            let addr = super::arg_str(args, 0).ok_or_else(|| type_error("contains() takes an address string"))?;
            Ok(block_of(this)?.contains(&addr).into())
        }),
    );
    class.method(
        js_string!("next"),
        0,
        NativeFunction::from_fn_ptr(|this, _, _| {
            let obj = this.as_object().ok_or_else(|| type_error("not a Netmask"))?;
            let n = obj.downcast_ref::<Netmask>().ok_or_else(|| type_error("not a Netmask"))?;
            Ok(JsString::from(n.next_address()).into())
        }),
    );
    class.method(
        js_string!("toString"),
        0,
        NativeFunction::from_fn_ptr(|this, _, _| {
            let b = block_of(this)?;
            Ok(JsString::from(format!("{}/{}", b.text(b.ip), b.bits)).into())
        }),
    );
}

/// An address from an array of bytes: 4 make an IPv4 one, more an IPv6 one (16 read, a
/// missing one 0), as Pipy reads them.
pub fn ip_from_bytes(arr: &JsObject, ctx: &mut Context) -> JsResult<(bool, u128)> {
    let arr = JsArray::from_object(arr.clone())?;
    let v6 = arr.length(ctx)? > 4;
    let mut ip = 0u128;
    for i in 0..if v6 { 16 } else { 4 } {
        ip = (ip << 8) | (arr.get(i, ctx)?.to_i32(ctx)? as u8) as u128;
    }
    Ok((v6, ip))
}

/// `new Netmask(bits, bytes)`: 4 bytes make an IPv4 block, more an IPv6 one (16 read).
fn from_bytes(bits: f64, bytes: Option<&JsValue>, ctx: &mut Context) -> JsResult<Block> {
    let arr = bytes
        .and_then(|v| v.as_object())
        .filter(|o| o.is_array())
        .ok_or_else(|| type_error("Netmask(bits, bytes) takes an array of bytes"))?;
    let (v6, ip) = ip_from_bytes(&arr, ctx)?;
    let block = Block { v6, ip, bits: 0 };
    if !(0.0..=block.width() as f64).contains(&bits) {
        return Err(type_error(format!("IPv{} CIDR mask out of range", if v6 { 6 } else { 4 })));
    }
    Ok(Block { bits: bits as u32, ..block })
}

#[cfg(test)]
mod tests {
    use crate::js::eval_to_string as eval;

    /// The fields of Pipy's documentation example, `new Netmask('10.0.0.1/24')`.
    #[test]
    fn an_ipv4_block_has_pipys_fields() {
        let src = "var m = new Netmask('10.0.0.1/24'); \
            [m.version, m.ip, m.bitmask, m.base, m.mask, m.hostmask, m.broadcast, m.size, m.first, m.last].join(' ')";
        assert_eq!(eval(src), "4 10.0.0.1 24 10.0.0.0 255.255.255.0 0.0.0.255 10.0.0.255 256 10.0.0.1 10.0.0.254");
    }

    #[test]
    fn contains_decompose_and_bytes() {
        let src = "var m = new Netmask('192.168.1.7/16'); \
            [m.contains('192.168.200.1'), m.contains('192.169.0.1'), m.contains('::1'), m.contains('x'), \
             m.decompose().join('.'), m.toBytes().join(','), String(m)].join(' ')";
        assert_eq!(eval(src), "true false false false 192.168.1.7 192,168,1,7 192.168.1.7/16");
    }

    #[test]
    fn next_hands_out_host_addresses_then_an_empty_string() {
        let src = "var m = new Netmask('10.1.2.0/30'); [m.next(), m.next(), JSON.stringify(m.next())].join(' ')";
        assert_eq!(eval(src), "10.1.2.1 10.1.2.2 \"\"");
        assert_eq!(eval("JSON.stringify(new Netmask('10.1.2.3/32').next())"), "\"\"");
    }

    #[test]
    fn an_ipv6_block_prints_compressed() {
        let src = "var m = new Netmask('2001:db8:0:0:1::5/64'); \
            [m.version, m.ip, m.base, m.mask, m.broadcast, m.first, m.last, m.size, m.contains('2001:db8::ffff'), \
             m.decompose().length, m.toBytes().length, m.next()].join(' ')";
        assert_eq!(
            eval(src),
            "6 2001:db8::1:0:0:5 2001:db8:: ffff:ffff:ffff:ffff:: 2001:db8::ffff:ffff:ffff:ffff 2001:db8::1 \
             2001:db8::ffff:ffff:ffff:fffe 18446744073709552000 true 8 16 2001:db8::1"
        );
    }

    #[test]
    fn a_block_from_bytes_and_errors() {
        assert_eq!(eval("new Netmask(8, [10, 20, 30, 40]).base"), "10.0.0.0");
        assert_eq!(eval("new Netmask('10.0.0.1').bitmask + ' ' + new Netmask('10.0.0.1').size"), "0 4294967296");
        let e = "try { new Netmask('10.0.0.1/33') } catch (e) { e.message }";
        assert_eq!(eval(e), "IPv4 CIDR mask out of range");
        assert_eq!(eval("try { new Netmask('nope/8') } catch (e) { e.message }"), "invalid CIDR notation");
    }
}
