//! `demuxHTTP(options?).to(sub)`: an HTTP/1 server on a byte stream; each request goes
//! into its own sub-pipeline (with a copy of the context) whose first output message is
//! the response.

use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use super::http_server::{HttpServer, Responder};
use crate::args::Args;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Layout, Output};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let buffer_size = args.options(0).buffer_size()?;
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| Box::new(Spec { sub, buffer_size }))))
}

struct Spec {
    sub: Rc<Layout>,
    buffer_size: usize,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "demuxHTTP"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(DemuxHttp(HttpServer::new(Responder::Pipeline(self.sub.clone()), env, self.buffer_size)))
    }
}

struct DemuxHttp(HttpServer);

impl Filter for DemuxHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        self.0.process(evt, out)
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        self.0.wake(out)
    }
}
