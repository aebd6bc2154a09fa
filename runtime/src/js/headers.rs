//! `head.headers` of a head from the HTTP decoders: a plain-looking object whose values are
//! read from the Rust head only when a script asks for them.
//!
//! Copying all of a head's headers into a JS object costs more than the rest of a callback,
//! and most callbacks read one or two of them. So each header name is an own, enumerable
//! accessor (one getter/setter pair per name, made once per thread) whose getter converts
//! that header's value; `Object.keys`, `for-in`, spreading and `JSON.stringify` see the
//! names in order, and reads are one native call. The first write turns every accessor
//! into a plain data property (with the value it had) and marks the object written; any
//! other change (a header added, deleted or redefined, the object frozen or re-parented)
//! changes its shape. So "untouched" is a flag and a shape compare, and an untouched
//! object can serve the next head with the same header names as it is.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::shape::Shape;
use boa_engine::property::PropertyDescriptor;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace, js_string};

use super::head::Source;
use super::{Captured, type_error};
use crate::codec::http1::Header;

#[derive(Trace, Finalize, JsData)]
pub struct HttpHeaders {
    #[unsafe_ignore_trace]
    source: Source,
    /// The accessors' names: the head's header names, lower-cased, first occurrence first,
    /// without `connection`.
    #[unsafe_ignore_trace]
    names: Vec<String>,
    #[unsafe_ignore_trace]
    written: Cell<bool>,
    /// Values read, by their header's index in `source`: a value the next head repeats
    /// (the host, the user agent) is not converted again.
    #[unsafe_ignore_trace]
    values: RefCell<Vec<(usize, JsString)>>,
    /// The object's shape as made.
    shape: Option<Shape>,
}

/// Accessor pairs made: header names are few, but they come from the network.
const ACCESSORS: usize = 1024;

thread_local! {
    static ACCESSOR: RefCell<HashMap<String, (JsObject, JsObject)>> = RefCell::new(HashMap::new());
}

/// Forgets the accessors (at worker teardown).
pub fn uninstall() {
    ACCESSOR.with(|a| a.borrow_mut().clear());
}

/// Registers the class behind `headers` objects, which scripts never name: its global
/// binding is removed again.
pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<HttpHeaders>()?;
    ctx.global_object().delete_property_or_throw(js_string!(HttpHeaders::NAME), ctx)?;
    Ok(())
}

impl Class for HttpHeaders {
    const NAME: &'static str = "HttpHeaders";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("headers objects are made by the HTTP decoders"))
    }

    fn init(_: &mut ClassBuilder<'_>) -> JsResult<()> {
        Ok(())
    }
}

fn is_connection(h: &Header) -> bool {
    h.name.eq_ignore_ascii_case("connection")
}

/// A `headers` object for `source`.
pub fn make(source: Source, ctx: &mut Context) -> JsResult<JsObject> {
    let mut names: Vec<String> = Vec::new();
    for h in source.headers().iter().filter(|h| !is_connection(h)) {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&h.name)) {
            names.push(h.name.to_ascii_lowercase());
        }
    }
    let data =
        HttpHeaders { source, names: Vec::new(), written: Cell::new(false), values: RefCell::default(), shape: None };
    // A class object has a shared shape: one made the same way has the same shape, which
    // keeps inline caches warm and lets a shape compare tell whether a script changed it.
    let obj = HttpHeaders::from_data(data, ctx)?;
    obj.set_prototype(Some(ctx.intrinsics().constructors().object().prototype()));
    for name in &names {
        let (get, set) = accessor(name, ctx);
        let desc = PropertyDescriptor::builder().get(get).set(set).enumerable(true).configurable(true);
        obj.insert_property(JsString::from(name.as_str()), desc);
    }
    let shape = obj.borrow().shape().clone();
    if let Some(mut d) = obj.downcast_mut::<HttpHeaders>() {
        d.names = names;
        d.shape = Some(shape);
    }
    Ok(obj)
}

/// The getter and setter of header `name`.
fn accessor(name: &str, ctx: &mut Context) -> (JsObject, JsObject) {
    if let Some(pair) = ACCESSOR.with(|a| a.borrow().get(name).cloned()) {
        return pair;
    }
    let get = NativeFunction::from_copy_closure_with_captures(
        |this, _, name: &Captured<String>, ctx| {
            let obj = this.as_object().ok_or_else(|| type_error("not a headers object"))?;
            let Some(d) = obj.downcast_ref::<HttpHeaders>() else { return Ok(JsValue::undefined()) };
            if is_list(&name.0) {
                return lookup(&d.source, &name.0, ctx);
            }
            let list = d.source.headers();
            let Some(i) = list.iter().rposition(|h| h.name.eq_ignore_ascii_case(&name.0)) else {
                return Ok(JsValue::undefined());
            };
            if let Some((_, s)) = d.values.borrow().iter().find(|(j, _)| *j == i) {
                return Ok(s.clone().into());
            }
            let s = JsString::from(list[i].value.as_str());
            d.values.borrow_mut().push((i, s.clone()));
            Ok(s.into())
        },
        Captured(name.to_string()),
    )
    .to_js_function(ctx.realm());
    let set = NativeFunction::from_copy_closure_with_captures(
        |this, args, name: &Captured<String>, ctx| {
            let obj = this.as_object().ok_or_else(|| type_error("not a headers object"))?;
            materialize(&obj, ctx)?;
            obj.set(JsString::from(name.0.as_str()), args.first().cloned().unwrap_or_default(), true, ctx)?;
            Ok(JsValue::undefined())
        },
        Captured(name.to_string()),
    )
    .to_js_function(ctx.realm());
    let pair: (JsObject, JsObject) = (get.into(), set.into());
    ACCESSOR.with(|a| {
        let mut a = a.borrow_mut();
        if a.len() < ACCESSORS {
            a.insert(name.to_string(), pair.clone());
        }
    });
    pair
}

/// Turns every accessor into a data property holding its value, and marks the object
/// written: from then on the object is the truth.
fn materialize(obj: &JsObject, ctx: &mut Context) -> JsResult<()> {
    let (source, names) = {
        let d = obj.downcast_ref::<HttpHeaders>().ok_or_else(|| type_error("not a headers object"))?;
        if d.written.replace(true) {
            return Ok(());
        }
        (d.source.clone(), d.names.clone())
    };
    for name in names {
        let key = JsString::from(name.as_str());
        // Only the accessors we made: a header the script redefined keeps its definition.
        let ours = obj.borrow().properties().get(&key.clone().into()).is_some_and(|p| p.is_accessor_descriptor());
        if ours {
            let value = lookup(&source, &name, ctx)?;
            let desc = PropertyDescriptor::builder().value(value).writable(true).enumerable(true).configurable(true);
            obj.insert_property(key, desc);
        }
    }
    Ok(())
}

/// Whether a script changed the headers behind `obj` (anything that is not a headers object
/// counts as changed).
pub fn written(obj: &JsObject) -> bool {
    let Some(d) = obj.downcast_ref::<HttpHeaders>() else { return true };
    let o = obj.borrow();
    d.written.get()
        || d.shape.as_ref().is_none_or(|s| s.to_addr_usize() != o.shape().to_addr_usize())
        || o.properties().index_property_keys().next().is_some()
}

/// Whether `obj` is as [`make`] made it and can stand for `source`, which has the same
/// header names: then it is pointed at `source`.
pub fn renew(obj: &JsObject, source: &Source, ctx: &mut Context) -> bool {
    if written(obj) || !obj.is_extensible(ctx).unwrap_or(false) {
        return false;
    }
    let Some(mut d) = obj.downcast_mut::<HttpHeaders>() else { return false };
    // A client usually sends the same names spelled the same way: compare bytes first.
    let (old, new) = (d.source.headers(), source.headers());
    let spelled_alike = old.len() == new.len() && old.iter().zip(new).all(|(a, b)| a.name == b.name);
    if !spelled_alike && !same_names(&d.names, new) {
        return false;
    }
    if spelled_alike {
        d.values.borrow_mut().retain(|(i, _)| old[*i].value == new[*i].value);
    } else {
        d.values.borrow_mut().clear();
    }
    d.source = source.clone();
    true
}

/// Whether `headers` have exactly `names` (lower-cased, first occurrence first), without
/// allocating: what a client sends on one connection rarely changes.
fn same_names(names: &[String], headers: &[Header]) -> bool {
    let mut seen = 0;
    for h in headers.iter().filter(|h| !is_connection(h)) {
        if names.get(seen).is_some_and(|n| n.eq_ignore_ascii_case(&h.name)) {
            seen += 1;
        } else if !names[..seen].iter().any(|n| n.eq_ignore_ascii_case(&h.name)) {
            return false;
        }
    }
    seen == names.len()
}

/// Headers Pipy shows as arrays of all their values.
fn is_list(name: &str) -> bool {
    name == "cookie" || name == "set-cookie"
}

/// One header as Pipy shows it: `cookie`/`set-cookie` as arrays, the last of other repeats.
fn lookup(source: &Source, name: &str, ctx: &mut Context) -> JsResult<JsValue> {
    let list = source.headers();
    if is_list(name) {
        let values: Vec<JsValue> = list
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| JsString::from(h.value.as_str()).into())
            .collect();
        if values.is_empty() {
            return Ok(JsValue::undefined());
        }
        return Ok(boa_engine::object::builtins::JsArray::from_iter(values, ctx).into());
    }
    Ok(list
        .iter()
        .rev()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| JsString::from(h.value.as_str()).into())
        .unwrap_or_default())
}
