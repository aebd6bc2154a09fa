//! The engine's [`Host`] for Boa: how pipelines and filters reach the script.

use std::rc::Rc;

use crate::engine::{Callback, Context, Event, Head, Host, Inbound, Value, host::Settled};

/// The worker's Boa context, reached through the thread-local slot `js::install` fills.
pub struct JsHost;

const BUSY: &str = "re-entrant call into JS";

impl Host for JsHost {
    fn call(&self, context: &Rc<Context>, f: &Callback, args: &[Value]) -> Result<Value, String> {
        super::call(context, f, args)
    }

    fn is_promise(&self, v: &Value) -> bool {
        super::promise::is_promise(v)
    }

    fn on_settled(&self, promise: &Value, context: &Rc<Context>, done: Settled) {
        super::promise::on_settled(promise, context, done)
    }

    fn to_events(&self, v: &Value) -> Result<Vec<Event>, String> {
        super::events::to_events(v)
    }

    fn to_list(&self, v: &Value) -> Option<Vec<Value>> {
        let arr = boa_engine::object::builtins::JsArray::from_object(v.as_object().filter(|o| o.is_array())?).ok()?;
        super::with_js(|ctx| {
            let len = arr.length(ctx).unwrap_or(0);
            (0..len).map(|i| arr.get(i, ctx).unwrap_or_default()).collect()
        })
    }

    fn head_value(&self, head: &Head) -> Result<Value, String> {
        super::with_js(|ctx| super::message::head_to_js(head, ctx).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn event_value(&self, evt: &Event) -> Result<Value, String> {
        super::with_js(|ctx| super::events::to_value(evt, ctx).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn head_of(&self, event: &Value) -> Option<Head> {
        super::message::event_head(event)
    }

    fn message_value(&self, head: &Head, body: &[u8], tail: Value) -> Result<Value, String> {
        super::with_js(|ctx| super::message::collected(head, body, tail, ctx).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn to_text(&self, v: &Value) -> Result<String, String> {
        super::with_js(|ctx| v.to_string(ctx).map(|s| s.to_std_string_escaped()).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn inbound_value(&self, inbound: &Rc<Inbound>) -> Result<Value, String> {
        super::with_js(|ctx| super::inbound::to_js(inbound, ctx).map_err(|e| super::describe(&e, ctx)))
            .unwrap_or_else(|| Err(BUSY.into()))
    }

    fn when_free(&self, f: Box<dyn FnOnce()>) {
        super::call_when_free(f)
    }
}
