//! `serveHTTP(handler, options?)`: an HTTP/1 server whose responses come from a function
//! `handler(request)` returning a Message (or a Promise of one), or from a fixed Message.

use boa_engine::{Context, JsResult, JsValue};

use super::Made;
use super::http_server::{HttpServer, Responder};
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output};
use crate::js;
use crate::options;

pub fn make(args: &[JsValue], ctx: &mut Context) -> JsResult<Made> {
    let responder = match args.first() {
        Some(v) if v.as_object().is_some_and(|o| o.is_callable()) => Responder::Function(v.as_object().unwrap()),
        Some(v) if v.is_object() => Responder::Message(v.clone()),
        _ => return Err(js::type_error("serveHTTP() takes a function or a Message")),
    };
    let buffer_size = options::buffer_size(args.get(1), ctx)?;
    let limit = options::buffer_limit(args.get(1), ctx)?;
    Ok(Made::Filter(Box::new(Spec { responder, buffer_size, limit })))
}

struct Spec {
    responder: Responder,
    buffer_size: usize,
    /// The most request body bytes collected for the handler.
    limit: usize,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "serveHTTP"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(ServeHttp(HttpServer::new(self.responder.clone(), env, self.buffer_size).with_limit(self.limit)))
    }
}

struct ServeHttp(HttpServer);

impl Filter for ServeHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        self.0.process(evt, out)
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        self.0.wake(out)
    }
}
