//! The target of `connect`, `connectSOCKS` and a UDP `connect`: `'host:port'`, or a function
//! returning one, asked when the connection opens.

use std::rc::Rc;

use boa_engine::{Context, JsResult, JsValue};

use crate::engine::{Callback, Context as PipelineContext, host};
use crate::js;

#[derive(Clone)]
pub enum Target {
    Fixed(String),
    Dynamic(Callback),
}

impl Target {
    /// The first argument of `filter()`.
    pub fn from_args(args: &[JsValue], filter: &str, ctx: &mut Context) -> JsResult<Target> {
        match args.first() {
            Some(v) if v.as_object().is_some_and(|o| o.is_callable()) => {
                Ok(Target::Dynamic(v.as_object().expect("checked callable").clone()))
            }
            Some(v) if v.is_string() => Ok(Target::Fixed(v.to_string(ctx)?.to_std_string_escaped())),
            _ => Err(js::type_error(format!("{filter}() takes a target 'host:port' or a function returning one"))),
        }
    }

    /// The `'host:port'` to connect to now.
    pub fn resolve(&self, context: &Rc<PipelineContext>) -> Result<String, String> {
        match self {
            Target::Fixed(t) => Ok(t.clone()),
            Target::Dynamic(f) => {
                let host = host();
                host.call(context, f, &[]).and_then(|v| host.to_text(&v))
            }
        }
    }
}
