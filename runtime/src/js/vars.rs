//! `var $name`: per-context variables.
//!
//! Pipy stores the value of every `$name` in the current pipeline context, so two
//! connections never see each other's values. Boa has one value per variable, so before
//! the script runs, [`prepare`] turns each `var $name` declaration into a plain reference
//! and defines `$name` as a global accessor whose getter and setter use the current
//! context's slot. The script text keeps its length and line structure, so error positions
//! still point at the user's source.
//!
//! Modules (`js::modules`) go through the same pass: in a module's strict code the bare
//! `$name` resolves to the global accessor, so each module's `$` values are per context too.
//!
//! Unlike Pipy, a `$name` declared inside a function, or in another module, shares the slot
//! of a same-named one declared elsewhere (a documented deviation).

use std::cell::RefCell;

use boa_engine::property::PropertyDescriptor;
use boa_engine::{Context, JsObject, JsResult, JsString, JsValue};

use super::{current, function};

thread_local! {
    static SLOTS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The source with `var` removed before `$name` declarations, and the `$` names used.
pub fn prepare(source: &str) -> (String, Vec<String>) {
    let bytes = source.as_bytes();
    let mut out = bytes.to_vec();
    let mut names: Vec<String> = Vec::new();
    let mut i = 0;
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$';
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'"' | b'\'' | b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != c {
                    if bytes[i] == b'\\' {
                        i += 1;
                    } else if c == b'`' && bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
                        // Identifiers inside `${...}` count; scan them without nesting strings.
                        i += 2;
                        let start = i;
                        while i < bytes.len() && bytes[i] != b'}' {
                            i += 1;
                        }
                        collect(&source[start..i.min(bytes.len())], &mut names);
                    }
                    i += 1;
                }
                i += 1;
            }
            _ if is_ident(c) => {
                let start = i;
                while i < bytes.len() && is_ident(bytes[i]) {
                    i += 1;
                }
                let word = &source[start..i];
                let after_dot =
                    start > 0 && bytes[..start].iter().rev().find(|b| !b.is_ascii_whitespace()) == Some(&b'.');
                if word == "var" {
                    let mut j = i;
                    while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if j > i && bytes.get(j) == Some(&b'$') && bytes.get(j + 1).is_some_and(|b| is_ident(*b)) {
                        out[start..i].fill(b' ');
                    }
                } else if word.len() > 1 && word.starts_with('$') && !after_dot && !names.iter().any(|n| n == word) {
                    names.push(word.to_string());
                }
            }
            _ => i += 1,
        }
    }
    (String::from_utf8(out).unwrap_or_else(|_| source.to_string()), names)
}

fn collect(expr: &str, names: &mut Vec<String>) {
    for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')) {
        if word.len() > 1 && word.starts_with('$') && !names.iter().any(|n| n == word) {
            names.push(word.to_string());
        }
    }
}

/// The context slot of `name`; the same name always gets the same slot on a worker.
pub fn slot(name: &str) -> usize {
    SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        match s.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                s.push(name.to_string());
                s.len() - 1
            }
        }
    })
}

/// Defines the global accessors for `names`, except those already defined (by another
/// module, or a legacy context variable of the same name).
pub fn define(names: &[String], ctx: &mut Context) -> JsResult<()> {
    let global = ctx.global_object();
    for name in names {
        define_on(&global, name, name, ctx)?;
    }
    Ok(())
}

/// Defines `name` on `obj` (the global object, or a legacy module's scope object) as an
/// accessor of the slot named `key`, unless `obj` has `name` already.
pub fn define_on(obj: &JsObject, name: &str, key: &str, ctx: &mut Context) -> JsResult<()> {
    if obj.has_own_property(JsString::from(name), ctx)? {
        return Ok(());
    }
    let i = slot(key);
    let get = function(ctx, i, |i, _, _, _| Ok(current().map(|c| c.get(*i)).unwrap_or_default()));
    let set = function(ctx, i, |i, _, args, _| {
        if let Some(c) = current() {
            c.set(*i, args.first().cloned().unwrap_or_default());
        }
        Ok(JsValue::undefined())
    });
    let desc = PropertyDescriptor::builder().get(get).set(set).enumerable(false).configurable(false);
    obj.define_property_or_throw(JsString::from(name), desc, ctx)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::prepare;

    #[test]
    fn strips_var_before_dollar_names_only() {
        let (s, names) = prepare("var $a, $b = 1\nvar x = '$c' // $d\nlet y = `${$e}`; o.$f; $=>$.x()");
        assert_eq!(s, "    $a, $b = 1\nvar x = '$c' // $d\nlet y = `${$e}`; o.$f; $=>$.x()");
        assert_eq!(names, ["$a", "$b", "$e"]);
    }
}
