//! `demuxHTTP(options?).to(sub)`: an HTTP/1 or HTTP/2 (prior knowledge) server on a byte stream; each request goes
//! into its own sub-pipeline (with a copy of the context) whose first output message is
//! the response.

use std::rc::Rc;

use boa_engine::JsResult;

use super::Made;
use super::http_server::Responder;
use super::http2::Server;
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
        let responder = Responder::Pipeline(self.sub.clone());
        Box::new(DemuxHttp(Server::new(responder, env, self.buffer_size, crate::options::MESSAGE_LIMIT)))
    }
}

struct DemuxHttp(Server);

impl Filter for DemuxHttp {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        self.0.process(evt, out)
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        self.0.wake(out)
    }
}
