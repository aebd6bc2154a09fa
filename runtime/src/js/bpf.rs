//! The `bpf` namespace: BPF object files, their programs and maps, and cgroup attachments.
//! The kernel side lives in `crate::bpf`; this file converts between it and script values.

use std::path::Path;
use std::sync::Arc;

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsBigInt, JsError, JsNativeError, JsResult, JsString, JsValue, NativeFunction, js_string};

use super::cstruct;
use super::data::Data;
use super::{arg_str, function, type_error};
use crate::bpf::{self, MapHandle, Object};
use crate::codec::c_layout::Layout;

fn error(e: bpf::Error) -> JsError {
    JsNativeError::error().with_message(e.message).into()
}

/// A program or attach type given as a `BPF_*` name or as its number; absent means 0.
fn type_arg(v: Option<&JsValue>, by_name: fn(&str) -> Option<u32>, what: &str, ctx: &mut Context) -> JsResult<u32> {
    match v {
        None => Ok(0),
        Some(v) if v.is_undefined() => Ok(0),
        Some(v) => match v.as_string() {
            Some(s) => {
                let s = s.to_std_string_escaped();
                by_name(&s).ok_or_else(|| type_error(format!("unknown {what}: {s}")))
            }
            None => v.to_u32(ctx),
        },
    }
}

const READ_ONLY: Attribute = Attribute::ENUMERABLE;

fn object(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let bytes = args
        .first()
        .and_then(Data::bytes_of)
        .ok_or_else(|| type_error("bpf.object: argument must be a Data object (e.g. pipy.load('x.o'))"))?;
    let obj = bpf::open(&bytes).map_err(error)?;

    let mut programs = Vec::new();
    for p in &obj.programs {
        programs.push(program_object(&obj, &p.name, ctx));
    }
    let mut maps = Vec::new();
    for m in &obj.maps {
        maps.push(map_object(m.clone(), ctx)?);
    }
    let programs = JsArray::from_iter(programs, ctx);
    let maps = JsArray::from_iter(maps, ctx);
    Ok(ObjectInitializer::new(ctx)
        .property(js_string!("programs"), programs, READ_ONLY)
        .property(js_string!("maps"), maps, READ_ONLY)
        .build()
        .into())
}

type ProgramRef = (Arc<Object>, String);

fn program_object(obj: &Arc<Object>, name: &str, ctx: &mut Context) -> JsValue {
    let state = || (obj.clone(), name.to_string());
    let fd = function(ctx, state(), |(o, n): &ProgramRef, _, _, _| Ok(o.loaded(n).map_or(0, |l| l.fd).into()));
    let id = function(ctx, state(), |(o, n): &ProgramRef, _, _, _| Ok(o.loaded(n).map_or(0, |l| l.id).into()));
    let load = function(ctx, state(), |(o, n): &ProgramRef, this, args, ctx| {
        let prog_type = type_arg(args.first(), bpf::prog_type_by_name, "bpf_prog_type", ctx)?;
        let attach_type = type_arg(args.get(1), bpf::attach_type_by_name, "bpf_attach_type", ctx)?;
        o.load(n, prog_type, attach_type).map_err(error)?;
        Ok(this.clone())
    });
    let size = obj.programs.iter().find(|p| p.name == name).map_or(0, |p| p.size);
    ObjectInitializer::new(ctx)
        .property(js_string!("name"), JsString::from(name), READ_ONLY)
        .property(js_string!("size"), size, READ_ONLY)
        .accessor(js_string!("fd"), Some(fd), None, READ_ONLY)
        .accessor(js_string!("id"), Some(id), None, READ_ONLY)
        .property(js_string!("load"), load, Attribute::empty())
        .build()
        .into()
}

type MapRef = Arc<MapHandle>;

fn map_of(r: &MapRef) -> &MapHandle {
    r
}

/// Bytes for a key or value: a `Data` as is, anything else encoded with the map's layout.
/// The key a map method was given, as the map's bytes; `None` for a null or undefined one
/// (each method then does nothing).
fn key_arg(m: &MapHandle, args: &[JsValue], what: &str, ctx: &mut Context) -> JsResult<Option<Vec<u8>>> {
    match args.first() {
        Some(k) if !k.is_null_or_undefined() => encode(k, m.def.key.as_ref(), what, ctx).map(Some),
        _ => Ok(None),
    }
}

fn encode(v: &JsValue, layout: Option<&Arc<Layout>>, what: &str, ctx: &mut Context) -> JsResult<Vec<u8>> {
    if let Some(b) = Data::bytes_of(v) {
        return Ok(b.to_vec());
    }
    match layout {
        Some(l) => cstruct::encode(l, v, ctx),
        None => Err(type_error(format!("{what} must be a Data object: the map has no BTF layout for it"))),
    }
}

fn decode(bytes: Vec<u8>, layout: Option<&Arc<Layout>>, ctx: &mut Context) -> JsResult<JsValue> {
    match layout {
        Some(l) => cstruct::decode(l, &bytes, ctx),
        None => Data::to_js(bytes, ctx),
    }
}

/// A value as the script sees it; a per-CPU map's is an array with each possible CPU's value,
/// in CPU order.
fn decode_value(m: &MapHandle, bytes: Vec<u8>, ctx: &mut Context) -> JsResult<JsValue> {
    let layout = m.def.value.as_ref();
    if m.cpus().is_none() {
        return decode(bytes, layout, ctx);
    }
    let mut out = Vec::new();
    for v in m.split_per_cpu(&bytes) {
        out.push(decode(v.to_vec(), layout, ctx)?);
    }
    Ok(JsArray::from_iter(out, ctx).into())
}

/// Bytes for a value. A per-CPU map takes an array with a value for each possible CPU, or
/// one value that every CPU gets.
fn encode_value(m: &MapHandle, v: &JsValue, ctx: &mut Context) -> JsResult<Vec<u8>> {
    const WHAT: &str = "Map.update: value";
    let layout = m.def.value.as_ref();
    let Some(cpus) = m.cpus() else {
        return encode(v, layout, WHAT, ctx);
    };
    let values = match v.as_object().filter(|o| o.is_array()) {
        Some(a) => {
            let a = JsArray::from_object(a.clone())?;
            let len = a.length(ctx)?;
            if len as usize != cpus {
                let msg = format!("{WHAT}: a per-CPU map takes {cpus} values, one per possible CPU, not {len}");
                return Err(type_error(msg));
            }
            let mut values = Vec::new();
            for i in 0..len {
                let e = a.get(i, ctx)?;
                values.push(encode(&e, layout, WHAT, ctx)?);
            }
            values
        }
        None => vec![encode(v, layout, WHAT, ctx)?; cpus],
    };
    Ok(m.join_per_cpu(&values))
}

pub(super) fn map_object(m: Arc<MapHandle>, ctx: &mut Context) -> JsResult<JsValue> {
    let state = || m.clone();
    let key_type = m.def.key.clone().map(|l| cstruct::to_js(l, ctx)).transpose()?.unwrap_or_else(JsValue::null);
    let value_type = m.def.value.clone().map(|l| cstruct::to_js(l, ctx)).transpose()?.unwrap_or_else(JsValue::null);

    let update = function(ctx, state(), map_update);
    let lookup = function(ctx, state(), map_lookup);
    let delete = function(ctx, state(), map_delete);
    let lookup_and_delete = function(ctx, state(), map_lookup_and_delete);
    let keys = function(ctx, state(), map_keys);
    let entries = function(ctx, state(), map_entries);
    // Pipy creates an object's maps when a program using them loads, or on `create()`; here
    // the object's opening created them all, so `create()` only returns the map.
    let create = function(ctx, (), |_, this, _, _| Ok(this.clone()));

    Ok(ObjectInitializer::new(ctx)
        .property(js_string!("name"), JsString::from(m.def.name.as_str()), READ_ONLY)
        .property(js_string!("fd"), m.fd(), READ_ONLY)
        .property(js_string!("id"), m.id, READ_ONLY)
        .property(js_string!("type"), m.def.map_type, READ_ONLY)
        .property(js_string!("flags"), m.def.flags, READ_ONLY)
        .property(js_string!("maxEntries"), m.def.max_entries, READ_ONLY)
        .property(js_string!("keySize"), m.def.key_size, READ_ONLY)
        .property(js_string!("valueSize"), m.def.value_size, READ_ONLY)
        .property(js_string!("keyType"), key_type, READ_ONLY)
        .property(js_string!("valueType"), value_type, READ_ONLY)
        .property(js_string!("update"), update, Attribute::empty())
        .property(js_string!("lookup"), lookup, Attribute::empty())
        .property(js_string!("delete"), delete, Attribute::empty())
        .property(js_string!("lookupAndDelete"), lookup_and_delete, Attribute::empty())
        .property(js_string!("keys"), keys, Attribute::empty())
        .property(js_string!("entries"), entries, Attribute::empty())
        .property(js_string!("create"), create, Attribute::empty())
        .build()
        .into())
}

/// Map.update(key, value): a null or undefined key or value does nothing.
fn map_update(r: &MapRef, _: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let m = map_of(r);
    let (k, v) = (args.first().cloned().unwrap_or_default(), args.get(1).cloned().unwrap_or_default());
    if k.is_null_or_undefined() || v.is_null_or_undefined() {
        return Ok(JsValue::undefined());
    }
    let k = encode(&k, m.def.key.as_ref(), "Map.update: key", ctx)?;
    let v = encode_value(m, &v, ctx)?;
    m.update(&k, &v).map_err(error)?;
    Ok(JsValue::undefined())
}

/// Map.lookup(key): the value; an absent key throws ENOENT.
fn map_lookup(r: &MapRef, _: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let m = map_of(r);
    let Some(k) = key_arg(m, args, "Map.lookup: key", ctx)? else { return Ok(JsValue::null()) };
    match m.lookup(&k).map_err(error)? {
        Some(v) => decode_value(m, v, ctx),
        None => {
            let enoent = std::io::Error::from_raw_os_error(libc::ENOENT);
            Err(error(bpf::Error::sys("Map.lookup", "BPF_MAP_LOOKUP_ELEM", &enoent)))
        }
    }
}

/// Map.lookupAndDelete(key) (Weir's): the value, taken out of the map in one syscall, or
/// null when there is none (no exception: a missing key is the expected case for a script
/// that asks each connection).
fn map_lookup_and_delete(r: &MapRef, _: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let m = map_of(r);
    let Some(k) = key_arg(m, args, "Map.lookupAndDelete: key", ctx)? else { return Ok(JsValue::null()) };
    match m.lookup_and_delete(&k).map_err(error)? {
        Some(v) => decode_value(m, v, ctx),
        None => Ok(JsValue::null()),
    }
}

/// Map.delete(key).
fn map_delete(r: &MapRef, _: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let m = map_of(r);
    let Some(k) = key_arg(m, args, "Map.delete: key", ctx)? else { return Ok(JsValue::undefined()) };
    m.delete(&k).map_err(error)?;
    Ok(JsValue::undefined())
}

/// Map.keys(): every key, decoded.
fn map_keys(r: &MapRef, _: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let m = map_of(r);
    let mut out = Vec::new();
    for k in m.keys().map_err(error)? {
        out.push(decode(k, m.def.key.as_ref(), ctx)?);
    }
    Ok(JsArray::from_iter(out, ctx).into())
}

/// Map.entries(): [key, value] pairs, decoded.
fn map_entries(r: &MapRef, _: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let m = map_of(r);
    let mut out = Vec::new();
    for k in m.keys().map_err(error)? {
        // Entries can vanish between listing and reading (LRU eviction, programs deleting).
        let Some(v) = m.lookup(&k).map_err(error)? else {
            continue;
        };
        let pair = [decode(k, m.def.key.as_ref(), ctx)?, decode_value(m, v, ctx)?];
        out.push(JsArray::from_iter(pair, ctx).into());
    }
    Ok(JsArray::from_iter(out, ctx).into())
}

/// The arguments of `bpf.attach`/`bpf.detach`: (type, program fd) and a target that is a
/// cgroup path, a target fd, or absent (Weir's own network namespace), as in Pipy.
fn attach_args(call: &str, args: &[JsValue], ctx: &mut Context) -> JsResult<(u32, i32, Option<String>, Option<i32>)> {
    let attach_type = type_arg(args.first(), bpf::attach_type_by_name, "bpf_attach_type", ctx)?;
    let fd = args.get(1).cloned().unwrap_or_default().to_i32(ctx)?;
    match args.get(2) {
        None => Ok((attach_type, fd, None, None)),
        Some(v) if v.is_string() => Ok((attach_type, fd, arg_str(args, 2), None)),
        Some(v) if v.is_number() => Ok((attach_type, fd, None, Some(v.to_i32(ctx)?))),
        Some(_) => Err(type_error(format!("{call}: target must be a cgroup path or an fd"))),
    }
}

fn target<'a>(path: &'a Option<String>, fd: Option<i32>) -> bpf::Target<'a> {
    match (path, fd) {
        (Some(p), _) => bpf::Target::Cgroup(Path::new(p)),
        (None, Some(fd)) => bpf::Target::Fd(fd),
        (None, None) => bpf::Target::OwnNetns,
    }
}

fn attach(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (t, fd, path, target_fd) = attach_args("bpf.attach", args, ctx)?;
    bpf::attach(t, fd, target(&path, target_fd)).map_err(error)?;
    Ok(JsValue::undefined())
}

fn detach(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (t, fd, path, target_fd) = attach_args("bpf.detach", args, ctx)?;
    bpf::detach(t, fd, target(&path, target_fd)).map_err(error)?;
    Ok(JsValue::undefined())
}

/// `bpf.pin(path, fd)`: pins a program, map or link on a bpffs. Pins outlive the process;
/// removing them is the script's (`os.rm`), as in Pipy.
fn pin(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = arg_str(args, 0).ok_or_else(|| type_error("bpf.pin: pathname must be a string"))?;
    let fd = args.get(1).cloned().unwrap_or_default().to_i32(ctx)?;
    bpf::pin(Path::new(&path), fd).map_err(error)?;
    Ok(JsValue::undefined())
}

/// `bpf.get(path)`: an fd for what is pinned at `path`, open for the life of the process.
fn get(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let path = arg_str(args, 0).ok_or_else(|| type_error("bpf.get: pathname must be a string"))?;
    Ok(bpf::get(Path::new(&path)).map_err(error)?.into())
}

fn cgroup(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let id = arg_str(args, 0).and_then(|p| bpf::cgroup::cgroup_id(Path::new(&p))).unwrap_or(0);
    Ok(JsBigInt::from(id).into())
}

/// `bpf.attached(attachType, cgroupPath)`: ids of the programs attached to that cgroup for
/// that attach type, in the order they run.
fn attached(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let attach_type = type_arg(args.first(), bpf::attach_type_by_name, "bpf_attach_type", ctx)?;
    let path = arg_str(args, 1).ok_or_else(|| type_error("bpf.attached: cgroupPath must be a string"))?;
    let ids = bpf::cgroup::attached(attach_type, Path::new(&path))
        .map_err(|e| JsNativeError::error().with_message(format!("bpf.attached: cannot query {path}: {e}")))?;
    Ok(JsArray::from_iter(ids.into_iter().map(JsValue::from), ctx).into())
}

/// From asm-generic/socket.h (the libc crate does not have it).
const SO_NETNS_COOKIE: libc::c_int = 71;

/// `bpf.netnsCookie()`: what `bpf_get_netns_cookie()` returns for sockets of the network
/// namespace Weir runs in, read with SO_NETNS_COOKIE from a socket made for the purpose.
fn netns_cookie(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let failed = |what: &str, e: std::io::Error| {
        JsNativeError::error()
            .with_message(format!("bpf.netnsCookie: {what} failed: {e} (SO_NETNS_COOKIE needs Linux 5.14)"))
    };
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).map_err(|e| failed("socket", e))?;
    let mut cookie: u64 = 0;
    let mut len = size_of::<u64>() as libc::socklen_t;
    // SAFETY: `cookie` outlives the call and `len` holds its size.
    let r = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&sock),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(failed("getsockopt", std::io::Error::last_os_error()).into());
    }
    Ok(JsBigInt::from(cookie).into())
}

/// `bpf.pidNamespace()`: the device and inode of Weir's PID namespace, which
/// `bpf_get_ns_current_pid_tgid()` takes to tell a program the ids `pipy.pid` is one of.
fn pid_namespace(_: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    use std::os::unix::fs::MetadataExt;
    // Follows the link to the namespace itself, whichever /proc is mounted.
    let m = std::fs::metadata("/proc/self/ns/pid")
        .map_err(|e| JsNativeError::error().with_message(format!("bpf.pidNamespace: /proc/self/ns/pid: {e}")))?;
    Ok(ObjectInitializer::new(ctx)
        .property(js_string!("dev"), m.dev() as f64, READ_ONLY)
        .property(js_string!("ino"), m.ino() as f64, READ_ONLY)
        .build()
        .into())
}

pub fn register(ctx: &mut Context) -> JsResult<()> {
    let map = super::bpf_map::namespace(ctx);
    let program = super::bpf_map::program_namespace(ctx);
    let ns = ObjectInitializer::new(ctx)
        .property(js_string!("Map"), map, Attribute::WRITABLE | Attribute::CONFIGURABLE)
        .property(js_string!("Program"), program, Attribute::WRITABLE | Attribute::CONFIGURABLE)
        .function(NativeFunction::from_fn_ptr(object), js_string!("object"), 1)
        .function(NativeFunction::from_fn_ptr(pin), js_string!("pin"), 2)
        .function(NativeFunction::from_fn_ptr(get), js_string!("get"), 1)
        .function(NativeFunction::from_fn_ptr(attach), js_string!("attach"), 3)
        .function(NativeFunction::from_fn_ptr(detach), js_string!("detach"), 3)
        .function(NativeFunction::from_fn_ptr(cgroup), js_string!("cgroup"), 1)
        .function(NativeFunction::from_fn_ptr(netns_cookie), js_string!("netnsCookie"), 0)
        .function(NativeFunction::from_fn_ptr(pid_namespace), js_string!("pidNamespace"), 0)
        .function(NativeFunction::from_fn_ptr(attached), js_string!("attached"), 2)
        .build();
    ctx.register_global_property(js_string!("bpf"), ns, Attribute::WRITABLE | Attribute::CONFIGURABLE)
}
