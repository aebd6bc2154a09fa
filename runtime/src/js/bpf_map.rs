//! `bpf.Program`: the programs in the kernel (`list()`).
//! `bpf.Map`: the maps in the kernel (`list()`) and a map opened by id (`open(id, keyType,
//! valueType)`), for maps another process or object made. The map objects themselves are
//! `js::bpf`'s, the same as `bpf.object()` gives.

use std::sync::Arc;

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsError, JsNativeError, JsObject, JsResult, JsString, JsValue, NativeFunction, js_string};

use super::{cstruct, type_error};
use crate::bpf::MapHandle;

/// `bpf.Map.list()`: `{ name, id, type, flags, maxEntries, keySize, valueSize }` of every map.
fn list(_: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let mut out = Vec::new();
    for (id, d) in MapHandle::list() {
        let info = ObjectInitializer::new(ctx)
            .property(js_string!("name"), JsString::from(d.name.as_str()), Attribute::all())
            .property(js_string!("id"), id, Attribute::all())
            .property(js_string!("type"), d.map_type, Attribute::all())
            .property(js_string!("flags"), d.flags, Attribute::all())
            .property(js_string!("maxEntries"), d.max_entries, Attribute::all())
            .property(js_string!("keySize"), d.key_size, Attribute::all())
            .property(js_string!("valueSize"), d.value_size, Attribute::all())
            .build();
        out.push(info.into());
    }
    Ok(JsArray::from_iter(out, ctx).into())
}

/// `bpf.Map.open(id, keyType?, valueType?)`: keys and values are read and written with the
/// given `CStruct`s, or as Data without them.
fn open(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = args.first().cloned().unwrap_or_default().to_u32(ctx)?;
    let layout = |i: usize| match args.get(i) {
        None => Ok(None),
        Some(v) if v.is_null_or_undefined() => Ok(None),
        Some(v) => cstruct::layout_of(v)
            .map(Some)
            .ok_or_else(|| type_error("bpf.Map.open: keyType and valueType must be CStruct or CUnion")),
    };
    let (key, value) = (layout(1)?, layout(2)?);
    let m =
        MapHandle::open(id, key, value).map_err(|e| JsError::from(JsNativeError::error().with_message(e.message)))?;
    super::bpf::map_object(Arc::new(m), ctx)
}

pub fn namespace(ctx: &mut Context) -> JsObject {
    ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(list), js_string!("list"), 0)
        .function(NativeFunction::from_fn_ptr(open), js_string!("open"), 3)
        .build()
}

/// `bpf.Program.list()`: `{ name, id, type }` of every program in the kernel.
fn program_list(_: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let mut out = Vec::new();
    for (id, prog_type, name) in crate::bpf::programs_loaded() {
        let info = ObjectInitializer::new(ctx)
            .property(js_string!("name"), JsString::from(name.as_str()), Attribute::all())
            .property(js_string!("id"), id, Attribute::all())
            .property(js_string!("type"), prog_type, Attribute::all())
            .build();
        out.push(info.into());
    }
    Ok(JsArray::from_iter(out, ctx).into())
}

pub fn program_namespace(ctx: &mut Context) -> JsObject {
    ObjectInitializer::new(ctx).function(NativeFunction::from_fn_ptr(program_list), js_string!("list"), 0).build()
}
