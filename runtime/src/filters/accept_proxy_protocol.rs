//! `acceptProxyProtocol(fn).to(sub)`: reads the PROXY protocol header (version 1 or 2) a
//! proxy in front sent, and calls `fn({ version, command, protocol, sourceAddress,
//! sourcePort, targetAddress, targetPort })`. Truthy: every byte after the header goes
//! through `sub`, which shares this context and whose output is this filter's. Falsy, or a
//! header that is missing or malformed: the stream ends.

use std::rc::Rc;

use boa_engine::{JsResult, JsString};
use bytes::{Buf, BytesMut};

use super::Made;
use crate::args::Args;
use crate::codec::proxy_protocol::{Info, Parsed, parse};
use crate::engine::host::runtime_error;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Layout, Output, Pass, Sub, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let f = args.function(0, "a function")?;
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| Box::new(Spec { f, sub }))))
}

struct Spec {
    f: Callback,
    sub: Rc<Layout>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "acceptProxyProtocol"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(AcceptProxyProtocol {
            f: self.f.clone(),
            sub: self.sub.clone(),
            env,
            stage: Stage::Header(BytesMut::new()),
        })
    }
}

enum Stage {
    /// The header's bytes so far.
    Header(BytesMut),
    Accepted(Sub),
    Closed,
}

struct AcceptProxyProtocol {
    f: Callback,
    sub: Rc<Layout>,
    env: FilterEnv,
    stage: Stage,
}

impl AcceptProxyProtocol {
    fn peer(&self) -> String {
        self.env.context.inbound.as_ref().map_or_else(|| "?".into(), |i| i.remote.to_string())
    }

    fn header(&mut self, mut buf: BytesMut, out: &mut Output<'_>) {
        let (info, len) = match parse(&buf) {
            Parsed::More => return self.stage = Stage::Header(buf),
            Parsed::Header { info, len } => (info, len),
            Parsed::Invalid(why) => {
                tracing::warn!(target: "pipeline", "acceptProxyProtocol: {why} from {}: closing", self.peer());
                return self.close(Event::end(), out);
            }
        };
        buf.advance(len);
        let host = host();
        match info_value(&info).and_then(|arg| host.call(&self.env.context, &self.f, &[arg])) {
            Ok(v) if v.to_boolean() => {
                let sub = Sub::start(self.sub.clone(), &self.env, out);
                if !buf.is_empty() {
                    sub.input(Event::Data(buf.freeze()), out);
                }
                self.stage = Stage::Accepted(sub);
            }
            Ok(_) => {
                tracing::debug!(target: "pipeline", "acceptProxyProtocol: refused {}", self.peer());
                self.close(Event::end(), out);
            }
            Err(e) => {
                tracing::error!(target: "pipeline", "acceptProxyProtocol: {e}");
                self.close(runtime_error(e), out);
            }
        }
    }

    fn close(&mut self, end: Event, out: &mut Output<'_>) {
        self.stage = Stage::Closed;
        out.emit(end);
    }

    fn accepted(&self) -> Option<&Sub> {
        match &self.stage {
            Stage::Accepted(sub) => Some(sub),
            _ => None,
        }
    }
}

/// The object `fn` is given; absent fields are left out.
fn info_value(info: &Info) -> Result<Value, String> {
    let text = |s: &Option<String>| s.as_deref().map(|s| Value::from(JsString::from(s)));
    let fields = [
        ("version", Some(Value::from(info.version))),
        ("command", text(&info.command)),
        ("protocol", text(&info.protocol)),
        ("sourceAddress", text(&info.source_address)),
        ("sourcePort", info.source_port.map(Value::from)),
        ("targetAddress", text(&info.target_address)),
        ("targetPort", info.target_port.map(Value::from)),
    ];
    let present: Vec<(&str, Value)> = fields.into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
    host().object(&present)
}

impl Filter for AcceptProxyProtocol {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match &mut self.stage {
            Stage::Accepted(sub) => sub.input(evt, out),
            Stage::Closed => {}
            Stage::Header(buf) => match evt {
                Event::Data(b) => {
                    let mut buf = std::mem::take(buf);
                    buf.extend_from_slice(&b);
                    self.header(buf, out);
                }
                // A client gone before its header was whole.
                Event::StreamEnd(_) => self.close(evt, out),
                _ => {}
            },
        }
    }

    /// After the header, the bytes go where `sub` sends them.
    fn pass(&self) -> Pass {
        Sub::pass(self.accepted())
    }

    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        Sub::passed(self.accepted(), n, out);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, Record, StubHost};

    type Seen = Rc<RefCell<Vec<String>>>;

    /// `acceptProxyProtocol(fn).to(sub)`, `fn` answering `verdict`, `sub` recording.
    fn run(verdict: bool, input: &[&[u8]], end: bool) -> (Vec<String>, Vec<String>, Vec<String>) {
        let stub = StubHost::install();
        stub.returns.borrow_mut().push_back(Value::from(verdict));
        let seen = Seen::default();
        let sub = stub::layout(vec![Box::new(Record("sub", seen.clone()))]);
        let spec = Spec { f: StubHost::callback(), sub };
        let mut events: Vec<Event> = input.iter().map(|b| Event::Data(Bytes::copy_from_slice(b))).collect();
        if end {
            events.push(Event::end());
        }
        let out = stub::run(vec![Box::new(spec)], events);
        let seen = seen.borrow().clone();
        let log = stub.log.borrow().clone();
        (out, seen, log)
    }

    #[test]
    fn a_header_split_across_reads_is_given_to_fn_and_the_rest_goes_through_sub() {
        let (out, seen, log) = run(true, &[b"PROXY TCP4 1.2", b".3.4 5.6.7.8 1 2\r\nhel", b"lo"], true);
        assert_eq!(out, ["Data hel", "Data lo", "StreamEnd"]);
        assert_eq!(seen, ["sub: Data hel", "sub: Data lo", "sub: StreamEnd"]);
        let fields = "object version,protocol,sourceAddress,sourcePort,targetAddress,targetPort";
        assert_eq!(log, [fields, "call/1"]);
    }

    #[test]
    fn version_2_local_gives_fn_the_command_and_no_addresses() {
        let (_, _, log) = run(true, &[b"\r\n\r\n\0\r\nQUIT\n\x20\x00\0\0"], false);
        assert_eq!(log, ["object version,command,protocol", "call/1"]);
    }

    #[test]
    fn refused_or_malformed_headers_end_the_stream_and_sub_never_starts() {
        let (out, seen, log) = run(false, &[b"PROXY UNKNOWN\r\nhello"], false);
        assert_eq!((out, seen, log.len()), (vec!["StreamEnd".to_string()], vec![], 2));
        let (out, seen, log) = run(true, &[b"GET / HTTP/1.1\r\n", b"more"], false);
        assert_eq!((out, seen, log), (vec!["StreamEnd".to_string()], vec![], vec![]));
    }

    #[test]
    fn a_client_gone_mid_header_ends_the_stream() {
        let (out, seen, log) = run(true, &[b"PROXY TCP4"], true);
        assert_eq!((out, seen, log), (vec!["StreamEnd".to_string()], vec![], vec![]));
    }
}
