//! `serveHTTP(handler, options?)`: an HTTP/1 or HTTP/2 (prior knowledge) server whose responses come from a function
//! `handler(request)` returning a Message (or a Promise of one), or from a fixed Message.

use boa_engine::JsResult;

use super::Made;
use super::http_server::Responder;
use super::http2::Server;
use crate::args::Args;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let responder = args.given(0, "a Message", |v, _| Ok(Some(v.clone()).filter(|v| v.is_object())))?;
    let responder = Responder::Script(responder);
    let mut options = args.options(1);
    let buffer_size = options.buffer_size()?;
    let limit = options.buffer_limit()?;
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
        Box::new(ServeHttp(Server::new(self.responder.clone(), env, self.buffer_size, self.limit)))
    }
}

struct ServeHttp(Server);

impl Filter for ServeHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        self.0.process(evt, out)
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        self.0.wake(out)
    }
}
