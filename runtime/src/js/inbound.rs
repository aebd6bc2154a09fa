//! The inbound object given to a listener pipeline's `onStart`, with its `socket`.

use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::data::Data;
use super::type_error;
use crate::engine::Inbound as InboundInfo;

#[derive(Trace, Finalize, JsData)]
pub struct Inbound {
    #[unsafe_ignore_trace]
    info: Rc<InboundInfo>,
}

#[derive(Trace, Finalize, JsData)]
pub struct Socket {
    #[unsafe_ignore_trace]
    info: Rc<InboundInfo>,
}

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<Inbound>()?;
    ctx.register_global_class::<Socket>()
}

pub fn to_js(info: &Rc<InboundInfo>, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(Inbound::from_data(Inbound { info: info.clone() }, ctx)?.into())
}

fn info_of<T: Class>(this: &JsValue, get: fn(&T) -> Rc<InboundInfo>) -> JsResult<Rc<InboundInfo>> {
    let obj = this.as_object().ok_or_else(|| type_error("not an inbound"))?;
    let data = obj.downcast_ref::<T>().ok_or_else(|| type_error("not an inbound"))?;
    Ok(get(&data))
}

fn getter(class: &mut ClassBuilder<'_>, name: JsString, read: fn(&Rc<InboundInfo>, &mut Context) -> JsResult<JsValue>) {
    let realm = class.context().realm().clone();
    let f = NativeFunction::from_copy_closure(move |this, _, ctx| {
        let info = info_of::<Inbound>(this, |i| i.info.clone())?;
        read(&info, ctx)
    });
    class.accessor(name, Some(f.to_js_function(&realm)), None, Attribute::CONFIGURABLE);
}

impl Class for Inbound {
    const NAME: &'static str = "Inbound";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("inbound objects are made by listeners"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        getter(class, js_string!("id"), |i, _| Ok((i.id as f64).into()));
        getter(class, js_string!("localAddress"), |i, _| Ok(JsString::from(i.local().ip().to_string()).into()));
        getter(class, js_string!("localPort"), |i, _| Ok(i.local().port().into()));
        getter(class, js_string!("remoteAddress"), |i, _| Ok(JsString::from(i.remote.ip().to_string()).into()));
        getter(class, js_string!("remotePort"), |i, _| Ok(i.remote.port().into()));
        // Pipy answers these on `transparent` listeners only, and for IPv4: here on any
        // listener, IPv6 too; '' and 0 where the kernel has no original destination.
        getter(class, js_string!("destinationAddress"), |i, _| {
            let ip = i.original_destination().map(|a| a.ip().to_string()).unwrap_or_default();
            Ok(JsString::from(ip).into())
        });
        getter(class, js_string!("destinationPort"), |i, _| {
            Ok(i.original_destination().map_or(0, |a| a.port()).into())
        });
        getter(class, js_string!("socket"), |i, ctx| Ok(Socket::from_data(Socket { info: i.clone() }, ctx)?.into()));
        Ok(())
    }
}

impl Class for Socket {
    const NAME: &'static str = "Socket";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("socket objects are made by listeners"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(js_string!("getRawOption"), 3, NativeFunction::from_fn_ptr(get_raw_option));
        class.method(js_string!("setRawOption"), 3, NativeFunction::from_fn_ptr(set_raw_option));
        Ok(())
    }
}

fn fd_and_opt(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<(i32, i32, i32)> {
    let info = info_of::<Socket>(this, |s| s.info.clone())?;
    let fd = info.fd().ok_or_else(|| type_error("socket is gone"))?;
    let level = args.first().unwrap_or(&JsValue::undefined()).to_i32(ctx)?;
    let opt = args.get(1).unwrap_or(&JsValue::undefined()).to_i32(ctx)?;
    Ok((fd, level, opt))
}

/// `getsockopt` into a 256-byte buffer; appends what the kernel returned to `data` and
/// returns 0, or returns the errno and leaves `data` alone.
fn get_raw_option(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (fd, level, opt) = fd_and_opt(this, args, ctx)?;
    let out = args.get(2).cloned().unwrap_or_default();
    Data::with_mut(&out, "getRawOption's third argument", |_| ())?;
    let mut buf = [0u8; 256];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: buf outlives the call and len holds its size.
    let r = unsafe { libc::getsockopt(fd, level, opt, buf.as_mut_ptr().cast(), &mut len) };
    if r != 0 {
        return Ok(std::io::Error::last_os_error().raw_os_error().unwrap_or(0).into());
    }
    Data::with_mut(&out, "data", |d| d.extend_from_slice(&buf[..len as usize]))?;
    Ok(0.into())
}

fn set_raw_option(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (fd, level, opt) = fd_and_opt(this, args, ctx)?;
    let bytes = Data::bytes_of(args.get(2).unwrap_or(&JsValue::undefined()))
        .ok_or_else(|| type_error("setRawOption's third argument must be a Data object"))?;
    // SAFETY: bytes outlives the call; its length is passed with it.
    let r = unsafe { libc::setsockopt(fd, level, opt, bytes.as_ptr().cast(), bytes.len() as libc::socklen_t) };
    if r != 0 {
        return Ok(std::io::Error::last_os_error().raw_os_error().unwrap_or(0).into());
    }
    Ok(0.into())
}
