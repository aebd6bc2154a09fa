//! `XML`: `parse(text)`/`decode(data)` make a document of `XML.Node`s, `stringify(doc, space?)`
//! /`encode(doc, space?)` write one back, as Pipy's.
//!
//! A document is a node named `''` whose only child is the root element; an element's
//! children are nodes and strings (its text, whitespace included), its `attributes` an object
//! or `null` when it has none. Comments, processing instructions and the declaration are
//! left out, as Pipy's expat handlers leave them. Malformed XML gives `null`, as in Pipy.
//!
//! Parsing goes through quick-xml: pure Rust, maintained, and it checks that tags nest.
//! Differences from Pipy's expat: a run of text (character data, references and CDATA
//! together) is one string, where expat may hand it in pieces (at each line and reference),
//! and attribute values are written escaped (Pipy writes them as they are).

use std::borrow::Cow;

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsObject, JsResult, JsString, JsValue, NativeFunction, js_string};
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::data::Data;
use super::type_error;
use super::xml_node::{Item, XmlNode};

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<XmlNode>()?;
    let global = ctx.global_object();
    let node = global.get(js_string!("Node"), ctx)?;
    global.delete_property_or_throw(js_string!("Node"), ctx)?;
    let xml = ObjectInitializer::new(ctx)
        .property(js_string!("Node"), node, Attribute::WRITABLE | Attribute::CONFIGURABLE)
        .function(NativeFunction::from_fn_ptr(parse), js_string!("parse"), 1)
        .function(NativeFunction::from_fn_ptr(stringify), js_string!("stringify"), 1)
        .function(NativeFunction::from_fn_ptr(decode), js_string!("decode"), 1)
        .function(NativeFunction::from_fn_ptr(encode), js_string!("encode"), 1)
        .build();
    ctx.register_global_property(js_string!("XML"), xml, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}

fn parse(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let arg = args.first().cloned().unwrap_or_default();
    let text = arg
        .as_string()
        .map(|s| s.to_std_string_escaped())
        .ok_or_else(|| type_error(format!("XML.parse() takes a string, not {}", arg.display())))?;
    document(&text, ctx)
}

fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let arg = args.first().cloned().unwrap_or_default();
    if arg.is_null_or_undefined() {
        return Ok(JsValue::null());
    }
    let bytes =
        Data::bytes_of(&arg).ok_or_else(|| type_error(format!("XML.decode() takes a Data, not {}", arg.display())))?;
    document(&String::from_utf8_lossy(&bytes), ctx)
}

fn document(text: &str, ctx: &mut Context) -> JsResult<JsValue> {
    match read(text) {
        Some(root) => XmlNode::to_js(&root, ctx),
        None => Ok(JsValue::null()),
    }
}

fn element(e: &BytesStart<'_>) -> Option<Item> {
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.ok()?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        attrs.push((key, a.unescape_value().ok()?.into_owned()));
    }
    let attributes = if attrs.is_empty() { None } else { Some(attrs) };
    Some(Item::Node { name, attributes, children: Vec::new() })
}

/// Appends `child` to the innermost open element; text joins text right before it.
fn append(stack: &mut [Item], child: Item) -> Option<()> {
    let Some(Item::Node { children, .. }) = stack.last_mut() else { return None };
    match (children.last_mut(), child) {
        (Some(Item::Text(t)), Item::Text(more)) => t.push_str(&more),
        (_, child) => children.push(child),
    }
    Some(())
}

/// The document node of `text`, or `None` when it is not well-formed.
pub fn read(text: &str) -> Option<Item> {
    let mut reader = Reader::from_str(text);
    let mut stack = vec![Item::Node { name: String::new(), attributes: Some(Vec::new()), children: Vec::new() }];
    let mut roots = 0;
    loop {
        let text = match reader.read_event().ok()? {
            Event::Start(e) => {
                roots += usize::from(stack.len() == 1);
                stack.push(element(&e)?);
                continue;
            }
            Event::Empty(e) => {
                roots += usize::from(stack.len() == 1);
                append(&mut stack, element(&e)?)?;
                continue;
            }
            Event::End(_) => {
                let node = stack.pop()?;
                append(&mut stack, node)?;
                continue;
            }
            Event::Text(t) => t.unescape().ok()?.into_owned(),
            Event::CData(c) => String::from_utf8_lossy(&c.into_inner()).into_owned(),
            Event::Eof => break,
            _ => continue,
        };
        // Outside the root element only whitespace may stand, and it is no one's child.
        if stack.len() == 1 {
            if !text.trim().is_empty() {
                return None;
            }
        } else {
            append(&mut stack, Item::Text(text))?;
        }
    }
    (stack.len() == 1 && roots == 1).then(|| stack.pop()).flatten()
}

fn space_arg(args: &[JsValue], ctx: &mut Context) -> JsResult<usize> {
    let n = match args.get(1) {
        Some(v) if !v.is_undefined() => v.to_i32(ctx)?,
        _ => 0,
    };
    Ok(n.clamp(0, 10) as usize)
}

fn node_arg(args: &[JsValue], what: &str) -> JsResult<Option<JsObject>> {
    match args.first().cloned().unwrap_or_default() {
        v if v.is_null_or_undefined() => Ok(None),
        v => match v.as_object().filter(|o| o.is::<XmlNode>()) {
            Some(o) => Ok(Some(o.clone())),
            None => Err(type_error(format!("XML.{what}() takes an XML.Node, not {}", v.display()))),
        },
    }
}

fn stringify(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let space = space_arg(args, ctx)?;
    let text = match node_arg(args, "stringify")? {
        Some(doc) => write_document(&doc, space, ctx)?,
        None => String::new(),
    };
    Ok(JsString::from(text).into())
}

fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let space = space_arg(args, ctx)?;
    match node_arg(args, "encode")? {
        Some(doc) => Data::to_js(write_document(&doc, space, ctx)?.into_bytes(), ctx),
        None => Ok(JsValue::null()),
    }
}

/// The node's field `key`.
fn field(node: &JsObject, key: &str, ctx: &mut Context) -> JsResult<JsValue> {
    node.get(JsString::from(key), ctx)
}

fn items(children: &JsValue, ctx: &mut Context) -> JsResult<Vec<JsValue>> {
    let Some(arr) = children.as_object().filter(|o| o.is_array()) else { return Ok(Vec::new()) };
    let arr = JsArray::from_object(arr.clone())?;
    (0..arr.length(ctx)?).map(|i| arr.get(i, ctx)).collect()
}

fn is_node(v: &JsValue) -> Option<JsObject> {
    v.as_object().filter(|o| o.is::<XmlNode>())
}

/// The document's only child written out; `''` when it has another number of children or
/// its child is not a node, as in Pipy.
fn write_document(doc: &JsObject, space: usize, ctx: &mut Context) -> JsResult<String> {
    let children = items(&field(doc, "children", ctx)?, ctx)?;
    let [root] = children.as_slice() else { return Ok(String::new()) };
    let Some(root) = is_node(root) else { return Ok(String::new()) };
    let mut out = String::new();
    write_node(&root, 0, space, &mut out, ctx)?;
    Ok(out)
}

/// Text with none of `<>&` as it is, else in CDATA sections (a `]]>` split over two).
fn write_text(text: &str, out: &mut String) {
    if !text.contains(['<', '>', '&']) {
        return out.push_str(text);
    }
    let mut rest = text;
    while !rest.is_empty() {
        let cut = rest.find("]]>").map_or(rest.len(), |i| i + 2);
        out.push_str("<![CDATA[");
        out.push_str(&rest[..cut]);
        out.push_str("]]>");
        rest = &rest[cut..];
    }
}

fn escape_attr(value: &str) -> Cow<'_, str> {
    if !value.contains(['&', '<', '"']) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(value.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;"))
}

fn write_node(node: &JsObject, level: usize, space: usize, out: &mut String, ctx: &mut Context) -> JsResult<()> {
    let name = field(node, "name", ctx)?;
    if name.is_null_or_undefined() {
        return Ok(());
    }
    let name = name.to_string(ctx)?.to_std_string_escaped();
    let pad = " ".repeat(space * level);
    let newline = if space > 0 { "\n" } else { "" };
    out.push_str(&pad);
    out.push('<');
    out.push_str(&name);
    if let Some(attrs) = field(node, "attributes", ctx)?.as_object() {
        for key in attrs.own_property_keys(ctx)? {
            let value = attrs.get(key.clone(), ctx)?.to_string(ctx)?.to_std_string_escaped();
            out.push_str(&format!(" {key}=\"{}\"", escape_attr(&value)));
        }
    }
    let children = items(&field(node, "children", ctx)?, ctx)?;
    if children.is_empty() {
        out.push_str("/>");
        out.push_str(newline);
        return Ok(());
    }
    out.push('>');
    match children.as_slice() {
        [only] if is_node(only).is_none() => write_text(&only.to_string(ctx)?.to_std_string_escaped(), out),
        _ => {
            out.push_str(newline);
            let inner = " ".repeat(space * (level + 1));
            for child in &children {
                match is_node(child) {
                    Some(n) => write_node(&n, level + 1, space, out, ctx)?,
                    None => {
                        out.push_str(&inner);
                        write_text(&child.to_string(ctx)?.to_std_string_escaped(), out);
                        out.push_str(newline);
                    }
                }
            }
            out.push_str(&pad);
        }
    }
    out.push_str(&format!("</{name}>{newline}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Item, read};

    use crate::js::eval_to_string as eval;

    fn node(name: &str, attributes: Option<&[(&str, &str)]>, children: Vec<Item>) -> Item {
        let attributes = attributes.map(|a| a.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        Item::Node { name: name.into(), attributes, children }
    }

    #[test]
    fn reads_elements_attributes_and_text() {
        let doc =
            read("<?xml version=\"1.0\"?>\n<!-- c --><a x=\"1 &amp; 2\"><b/>t &lt; u<![CDATA[<v>]]></a>\n").unwrap();
        let b = node("b", None, vec![]);
        let a = node("a", Some(&[("x", "1 & 2")]), vec![b, Item::Text("t < u<v>".into())]);
        assert_eq!(doc, node("", Some(&[]), vec![a]));
    }

    #[test]
    fn refuses_what_is_not_well_formed() {
        for bad in ["", "<a>", "<a></b>", "<a/><b/>", "x<a/>", "<a x=1/>", "<a>&nope;</a>"] {
            assert_eq!(read(bad), None, "{bad}");
        }
    }

    #[test]
    fn writes_as_pipy() {
        let src = "var d = XML.parse('<a k=\"v\"><b>hi</b><c/>t</a>'); \
            [XML.stringify(d), XML.stringify(d, 2), \
             XML.stringify(new XML.Node('', {}, [new XML.Node('x', null, ['a<b]]>c'])])), \
             d.children[0].name, d.children[0].attributes.k, d.children[0].children[1].attributes, \
             XML.parse('<a'), XML.encode(d).size].join('|')";
        assert_eq!(
            eval(src),
            "<a k=\"v\"><b>hi</b><c/>t</a>|<a k=\"v\">\n  <b>hi</b>\n  <c/>\n  t\n</a>\n|\
             <x><![CDATA[a<b]]]]><![CDATA[>c]]></x>|a|v|||27"
        );
    }
}
