//! `handleTLSClientHello(fn)`: calls `fn({ serverNames, protocolNames })` once the client's
//! TLS hello at the start of the stream is whole, and passes every event on unchanged, in
//! front of whatever reads TLS next (a `connect` that tunnels it, or `acceptTLS`). A stream
//! that does not start with a hello is passed on with no call.

use boa_engine::{JsResult, JsString};
use bytes::BytesMut;

use super::Made;
use crate::args::Args;
use crate::codec::tls_hello::{Scan, scan};
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Output, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let f = args.function(0, "a function")?;
    Ok(Made::Filter(Box::new(Spec { f })))
}

struct Spec {
    f: Callback,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "handleTLSClientHello"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(HandleTlsClientHello { f: self.f.clone(), env, start: Some(BytesMut::new()) })
    }
}

struct HandleTlsClientHello {
    f: Callback,
    env: FilterEnv,
    /// The stream's first bytes, until the hello is whole or known not to be there.
    start: Option<BytesMut>,
}

impl HandleTlsClientHello {
    fn tell(&self, names: Option<Vec<String>>, protocols: Option<Vec<String>>) -> Result<(), String> {
        let host = host();
        let list = |names: Option<Vec<String>>| match names {
            None => Ok(Value::undefined()),
            Some(n) => host.array(&n.iter().map(|s| Value::from(JsString::from(s.as_str()))).collect::<Vec<_>>()),
        };
        let hello = host.object(&[("serverNames", list(names)?), ("protocolNames", list(protocols)?)])?;
        host.call(&self.env.context, &self.f, &[hello]).map(drop)
    }
}

impl Filter for HandleTlsClientHello {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if let (Some(start), Event::Data(b)) = (&mut self.start, &evt) {
            start.extend_from_slice(b);
            match scan(start) {
                Scan::More => {}
                Scan::NotHello => self.start = None,
                Scan::Hello(hello) => {
                    self.start = None;
                    if let Err(e) = self.tell(hello.server_names, hello.protocol_names) {
                        tracing::error!(target: "tls", "handleTLSClientHello: {e}");
                    }
                }
            }
        }
        out.emit(evt);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    #[test]
    fn a_hello_split_across_reads_is_told_once_and_every_byte_goes_on() {
        let stub = StubHost::install();
        // A hello with no extensions, in two pieces.
        let mut record = vec![22, 3, 1, 0, 42, 1, 0, 0, 38, 3, 3];
        record.extend_from_slice(&[7; 32]);
        record.extend_from_slice(&[0, 0, 0, 0]);
        let (a, b) = record.split_at(7);
        let input = [a, b, b"after"].iter().map(|p| Event::Data(Bytes::copy_from_slice(p))).collect();
        let out = stub::run(vec![Box::new(Spec { f: StubHost::callback() })], input);
        assert_eq!(out.len(), 3);
        assert_eq!(*stub.log.borrow(), ["object serverNames,protocolNames", "call/1"]);
    }
}
