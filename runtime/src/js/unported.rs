//! Pipy names Weir does not have yet: each becomes a stand-in that throws
//! `<name> is a Pipy API Weir does not have yet`, so that a script using one fails at load
//! with that error at its line, not with Boa's `TypeError: not a callable function`.
//!
//! The lists below are Pipy's names (the globals of its src/worker.cpp, the members of
//! `algo` and `pipy`, the methods of the pipeline designer and of the legacy `pipy()`
//! configuration). A stand-in is installed only where the context has no such name once
//! everything else is registered, so adding a filter or a class removes its stand-in with no
//! edit here.
//!
//! A stand-in is a proxy over a function: calling it, constructing it or reading any of its
//! named properties throws (`http.File`, `pipy.inbound.forEach` fail as clearly as `crypto()`).
//! It carries its name under `Symbol.for('weir.unported')`, which tests/scripts/runtime-names.js
//! reads to leave stand-ins out of the names the runtime has.

use boa_engine::object::builtins::JsProxy;
use boa_engine::object::{FunctionObjectBuilder, JsObject};
use boa_engine::property::{PropertyDescriptor, PropertyKey};
use boa_engine::{Context, JsError, JsNativeError, JsResult, JsString, JsValue, NativeFunction, js_string};

use super::configuration::Configuration;
use super::designer::Designer;

/// Pipy's globals (src/worker.cpp).
const GLOBALS: &[&str] = &[
    "CString",
    "CStruct",
    "CUnion",
    "JSON",
    "YAML",
    "XML",
    "zlib",
    "protobuf",
    "IP",
    "IPMask",
    "IPEndpoint",
    "Netmask",
    "BGP",
    "DNS",
    "STUN",
    "Hessian",
    "RESP",
    "console",
    "os",
    "URL",
    "URLSearchParams",
    "Data",
    "Message",
    "MessageStart",
    "MessageEnd",
    "StreamEnd",
    "ListenerArray",
    "Swap",
    "Timeout",
    "logging",
    "stats",
    "http",
    "crypto",
    "algo",
    "bpf",
    "sqlite",
    "pipy",
    "print",
    "println",
    "pipeline",
];

/// Pipy's `algo` members (src/api/algo.cpp).
const ALGO: &[&str] = &[
    "Cache",
    "Quota",
    "SharedMap",
    "URLRouter",
    "LoadBalancer",
    "HashingLoadBalancer",
    "RoundRobinLoadBalancer",
    "LeastWorkLoadBalancer",
    "ResourcePool",
    "Percentile",
];

/// Pipy's `http` members (src/api/http.cpp).
const HTTP: &[&str] = &["Match", "Agent", "Directory", "File"];

/// Pipy's `pipy` members (src/api/pipy.cpp).
const PIPY: &[&str] = &[
    "argv",
    "exec",
    "exit",
    "fork",
    "import",
    "inbound",
    "listen",
    "load",
    "mount",
    "name",
    "now",
    "outbound",
    "patch",
    "performance",
    "pid",
    "restart",
    "since",
    "solve",
    "source",
    "thread",
    "tty",
    "unmount",
    "uuid",
    "version",
    "watch",
];

/// Pipy's pipeline designer methods, `$.x()` (src/api/pipeline-api.cpp).
const DESIGNER: &[&str] = &[
    "acceptHTTPTunnel",
    "acceptProxyProtocol",
    "acceptSOCKS",
    "acceptTLS",
    "compress",
    "compressHTTP",
    "connect",
    "connectHTTPTunnel",
    "connectProxyProtocol",
    "connectSOCKS",
    "connectTLS",
    "decodeBGP",
    "decodeDubbo",
    "decodeHTTPRequest",
    "decodeHTTPResponse",
    "decodeMultipart",
    "decodeNetlink",
    "decodeRESP",
    "decodeWebSocket",
    "decompress",
    "decompressHTTP",
    "deframe",
    "demux",
    "demuxFastCGI",
    "demuxHTTP",
    "demuxQueue",
    "detectProtocol",
    "dummy",
    "dump",
    "encodeBGP",
    "encodeDubbo",
    "encodeHTTPRequest",
    "encodeHTTPResponse",
    "encodeNetlink",
    "encodeRESP",
    "encodeWebSocket",
    "exec",
    "fork",
    "forkJoin",
    "forkRace",
    "handle",
    "handleData",
    "handleMessage",
    "handleMessageBody",
    "handleMessageEnd",
    "handleMessageStart",
    "handleStreamEnd",
    "handleStreamStart",
    "handleTLSClientHello",
    "insert",
    "loop",
    "mux",
    "muxFastCGI",
    "muxHTTP",
    "muxQueue",
    "onEnd",
    "onStart",
    "pipe",
    "pipeNext",
    "print",
    "read",
    "repeat",
    "replace",
    "replaceData",
    "replaceMessage",
    "replaceMessageBody",
    "replaceMessageEnd",
    "replaceMessageStart",
    "replaceStreamEnd",
    "replaceStreamStart",
    "serveHTTP",
    "split",
    "swap",
    "tee",
    "throttleConcurrency",
    "throttleDataRate",
    "throttleMessageRate",
    "to",
    "wait",
];

/// Pipy's legacy `pipy()` configuration methods (src/api/configuration.cpp).
const CONFIGURATION: &[&str] = &[
    "acceptHTTPTunnel",
    "acceptProxyProtocol",
    "acceptSOCKS",
    "acceptTLS",
    "admin",
    "branch",
    "branchMessage",
    "branchMessageStart",
    "chain",
    "compress",
    "compressHTTP",
    "connect",
    "connectHTTPTunnel",
    "connectProxyProtocol",
    "connectSOCKS",
    "connectTLS",
    "decodeBGP",
    "decodeDubbo",
    "decodeHTTPRequest",
    "decodeHTTPResponse",
    "decodeMultipart",
    "decodeNetlink",
    "decodeRESP",
    "decodeWebSocket",
    "decompress",
    "decompressHTTP",
    "deframe",
    "demux",
    "demuxFastCGI",
    "demuxHTTP",
    "demuxQueue",
    "depositMessage",
    "detectProtocol",
    "dummy",
    "dump",
    "encodeBGP",
    "encodeDubbo",
    "encodeHTTPRequest",
    "encodeHTTPResponse",
    "encodeNetlink",
    "encodeRESP",
    "encodeWebSocket",
    "exec",
    "exit",
    "export",
    "fork",
    "handleData",
    "handleMessage",
    "handleMessageBody",
    "handleMessageEnd",
    "handleMessageStart",
    "handleStreamEnd",
    "handleStreamStart",
    "handleTLSClientHello",
    "import",
    "insert",
    "link",
    "linkAsync",
    "listen",
    "loop",
    "mux",
    "muxFastCGI",
    "muxHTTP",
    "muxQueue",
    "onEnd",
    "onStart",
    "pack",
    "pipeline",
    "print",
    "produce",
    "read",
    "repeat",
    "replaceData",
    "replaceMessage",
    "replaceMessageBody",
    "replaceMessageEnd",
    "replaceMessageStart",
    "replaceStreamEnd",
    "replaceStreamStart",
    "replay",
    "serveHTTP",
    "split",
    "task",
    "tee",
    "throttleConcurrency",
    "throttleDataRate",
    "throttleMessageRate",
    "to",
    "use",
    "wait",
    "watch",
];

/// The registry key of the symbol a stand-in carries its name under.
pub const MARK: &str = "weir.unported";

/// Installs a stand-in for every Pipy name the context does not have. Runs last.
pub fn register(ctx: &mut Context) -> JsResult<()> {
    let global = ctx.global_object();
    fill(&global, GLOBALS, "", ctx)?;
    let holders = [("algo", ALGO), ("pipy", PIPY), ("http", HTTP)];
    for (name, names) in holders {
        if let Some(o) = global.get(JsString::from(name), ctx)?.as_object().filter(|o| !is_stand_in(o, ctx)) {
            fill(&o, names, &format!("{name}."), ctx)?;
        }
    }
    let designer = ctx.get_global_class::<Designer>().map(|c| c.prototype());
    if let Some(proto) = designer {
        fill(&proto, DESIGNER, "$.", ctx)?;
    }
    let configuration = ctx.get_global_class::<Configuration>().map(|c| c.prototype());
    if let Some(proto) = configuration {
        fill(&proto, CONFIGURATION, "pipy().", ctx)?;
    }
    Ok(())
}

fn fill(holder: &JsObject, names: &[&str], prefix: &str, ctx: &mut Context) -> JsResult<()> {
    for name in names {
        let key = JsString::from(*name);
        if !holder.has_property(key.clone(), ctx)? {
            let stand_in = stand_in(&format!("{prefix}{name}"), ctx)?;
            holder.define_property_or_throw(
                key,
                PropertyDescriptor::builder().value(stand_in).writable(true).enumerable(false).configurable(true),
                ctx,
            )?;
        }
    }
    Ok(())
}

fn mark(ctx: &mut Context) -> JsResult<PropertyKey> {
    let symbol = ctx.intrinsics().constructors().symbol().constructor();
    let symbol_for = symbol.get(js_string!("for"), ctx)?;
    let f = symbol_for.as_callable().ok_or_else(|| super::type_error("Symbol.for is missing"))?;
    f.call(&symbol.into(), &[JsString::from(MARK).into()], ctx)?.to_property_key(ctx)
}

fn is_stand_in(o: &JsObject, ctx: &mut Context) -> bool {
    mark(ctx).is_ok_and(|m| o.has_own_property(m, ctx).unwrap_or(false))
}

fn stand_in(name: &str, ctx: &mut Context) -> JsResult<JsObject> {
    let target =
        FunctionObjectBuilder::new(ctx.realm(), NativeFunction::from_fn_ptr(|_, _, _| Ok(JsValue::undefined())))
            .name(JsString::from(name))
            .constructor(true)
            .build();
    let mark = mark(ctx)?;
    target.define_property_or_throw(
        mark,
        PropertyDescriptor::builder().value(JsString::from(name)).writable(false).enumerable(false).configurable(false),
        ctx,
    )?;
    let proxy = JsProxy::builder(target.into())
        .apply(|_, args, ctx| Err(missing(args.first(), ctx)))
        .construct(|_, args, ctx| Err(missing(args.first(), ctx)))
        .get(get)
        .build(ctx)?;
    Ok(proxy.into())
}

/// Reads of symbols pass (the engine asks for `Symbol.toPrimitive` and the like); a named
/// member of a missing API is as missing as the API.
fn get(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let target = args.first().and_then(|t| t.as_object());
    let key = args.get(1).cloned().unwrap_or_default();
    match (target, key.is_symbol()) {
        (Some(t), true) => t.get(key.to_property_key(ctx)?, ctx),
        (target, _) => Err(missing(target.map(JsValue::from).as_ref(), ctx)),
    }
}

fn missing(target: Option<&JsValue>, ctx: &mut Context) -> JsError {
    let name = target
        .and_then(|t| t.as_object())
        .and_then(|t| mark(ctx).ok().and_then(|m| t.get(m, ctx).ok()))
        .and_then(|n| n.as_string().map(|s| s.to_std_string_escaped()))
        .unwrap_or_default();
    JsNativeError::error().with_message(format!("{name} is a Pipy API Weir does not have yet")).into()
}
