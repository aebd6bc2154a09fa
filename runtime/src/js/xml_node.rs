//! `XML.Node`: one element of a document, as Pipy's: `new XML.Node(name, attributes?, children?)`
//! with read-only fields `name` (a string), `attributes` (an object of strings, or `null`) and
//! `children` (an array of `XML.Node`s and strings, or `null`). A document is a node named
//! `''` whose only child is the root element.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace};

use super::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct XmlNode {
    /// `name`, `attributes` and `children`, as the accessors of [`FIELDS`] read them.
    fields: [JsValue; 3],
}

const FIELDS: [&str; 3] = ["name", "attributes", "children"];

/// A parsed element, before it becomes script objects.
#[derive(Debug, PartialEq)]
pub enum Item {
    Node { name: String, attributes: Option<Vec<(String, String)>>, children: Vec<Item> },
    Text(String),
}

impl XmlNode {
    /// A new node with its three fields.
    pub fn make(name: JsValue, attributes: JsValue, children: JsValue, ctx: &mut Context) -> JsResult<JsObject> {
        XmlNode::from_data(XmlNode { fields: [name, attributes, children] }, ctx)
    }

    /// A parsed item as script values: a node, or a string.
    pub fn to_js(item: &Item, ctx: &mut Context) -> JsResult<JsValue> {
        let (name, attributes, children) = match item {
            Item::Text(t) => return Ok(JsString::from(t.as_str()).into()),
            Item::Node { name, attributes, children } => (name, attributes, children),
        };
        let attrs = match attributes {
            None => JsValue::null(),
            Some(list) => {
                let o = JsObject::with_object_proto(ctx.intrinsics());
                for (k, v) in list {
                    o.set(JsString::from(k.as_str()), JsString::from(v.as_str()), true, ctx)?;
                }
                o.into()
            }
        };
        let kids = children.iter().map(|c| XmlNode::to_js(c, ctx)).collect::<JsResult<Vec<_>>>()?;
        let kids = JsArray::from_iter(kids, ctx).into();
        Ok(XmlNode::make(JsString::from(name.as_str()).into(), attrs, kids, ctx)?.into())
    }
}

impl Class for XmlNode {
    const NAME: &'static str = "Node";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<Self> {
        let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
        let name = arg(0);
        if !name.is_string() {
            return Err(type_error(format!("XML.Node() takes a name string, not {}", name.display())));
        }
        let object_or_null = |v: JsValue, what: &str| match v {
            v if v.is_null_or_undefined() => Ok(JsValue::null()),
            v if v.is_object() => Ok(v),
            v => Err(type_error(format!("XML.Node(): {what} must be an object, not {}", v.display()))),
        };
        Ok(XmlNode { fields: [name, object_or_null(arg(1), "attributes")?, object_or_null(arg(2), "children")?] })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        for (i, name) in FIELDS.into_iter().enumerate() {
            let get = NativeFunction::from_copy_closure(move |this, _, _| {
                let node = this.as_object().and_then(|o| o.downcast_ref::<XmlNode>().map(|n| n.fields[i].clone()));
                node.ok_or_else(|| type_error("not an XML.Node"))
            });
            class.accessor(JsString::from(name), Some(get.to_js_function(&realm)), None, Attribute::CONFIGURABLE);
        }
        Ok(())
    }
}
