//! `connectProxyProtocol(info).to(sub)`: starts `sub` (sharing this context; its output is
//! this filter's) with a PROXY protocol header for `info` (`{ version, command, protocol,
//! sourceAddress, sourcePort, targetAddress, targetPort }`, or a function returning it,
//! called at the first event), then sends every event after it. `version: 2` writes the
//! binary header, anything else the version 1 line; missing fields as Pipy (see
//! [`encode`]).

use std::rc::Rc;

use boa_engine::JsResult;
use bytes::Bytes;

use super::Made;
use crate::args::{Args, Options};
use crate::codec::proxy_protocol::{Info, encode};
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Layout, Output, Pass, Sub, Value, host};

/// The fields of `info`, in the order they are read.
const STRINGS: [&str; 4] = ["command", "protocol", "sourceAddress", "targetAddress"];
const NUMBERS: [&str; 3] = ["version", "sourcePort", "targetPort"];

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let info = args.given(0, "an object with source and target addresses", |v, args| match v.is_object() {
        true => fixed(&mut args.options(0)).map(Some),
        false => Ok(None),
    })?;
    Ok(Made::Joint(Box::new(move |sub: Rc<Layout>| Box::new(Spec { info, sub }))))
}

fn fixed(o: &mut Options<'_>) -> JsResult<Info> {
    let [command, protocol, source_address, target_address] = STRINGS.map(|k| o.string(k));
    let [version, source_port, target_port] = NUMBERS.map(|k| o.number(k));
    Ok(Info {
        version: version?.map_or(1, |v| v as u8),
        command: command?,
        protocol: protocol?,
        source_address: source_address?,
        source_port: source_port?.map(|p| p as u16),
        target_address: target_address?,
        target_port: target_port?.map(|p| p as u16),
    })
}

/// `info` as a function returned it: fields of the wrong type count as absent, as in Pipy.
fn returned(v: Value) -> Result<Info, String> {
    if !v.is_object() {
        return Err("connectProxyProtocol: an object containing source/target addresses is expected".into());
    }
    let host = host();
    let [command, protocol, source_address, target_address] =
        STRINGS.map(|k| host.field(&v, k).as_string().map(|s| s.to_std_string_escaped()));
    let [version, source_port, target_port] = NUMBERS.map(|k| host.field(&v, k).as_number());
    Ok(Info {
        version: version.map_or(1, |v| v as u8),
        command,
        protocol,
        source_address,
        source_port: source_port.map(|p| p as u16),
        target_address,
        target_port: target_port.map(|p| p as u16),
    })
}

struct Spec {
    info: Given<Info>,
    sub: Rc<Layout>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "connectProxyProtocol"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(ConnectProxyProtocol { info: self.info.clone(), sub: self.sub.clone(), env, stage: Stage::Idle })
    }
}

enum Stage {
    Idle,
    Connected(Sub),
    Failed,
}

struct ConnectProxyProtocol {
    info: Given<Info>,
    sub: Rc<Layout>,
    env: FilterEnv,
    stage: Stage,
}

impl ConnectProxyProtocol {
    fn connected(&self) -> Option<&Sub> {
        match &self.stage {
            Stage::Connected(sub) => Some(sub),
            _ => None,
        }
    }
}

impl Filter for ConnectProxyProtocol {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if let Stage::Idle = self.stage {
            match self.info.get(&self.env.context, &[], returned) {
                Ok(info) => {
                    let sub = Sub::start(self.sub.clone(), &self.env, out);
                    sub.input(Event::Data(Bytes::from(encode(&info))), out);
                    self.stage = Stage::Connected(sub);
                }
                Err(e) => {
                    tracing::error!(target: "pipeline", "{e}");
                    self.stage = Stage::Failed;
                    return out.emit(runtime_error(e));
                }
            }
        }
        if let Stage::Connected(sub) = &self.stage {
            sub.input(evt, out);
        }
    }

    /// After the header, bytes go where `sub` sends them.
    fn pass(&self) -> Pass {
        Sub::pass(self.connected())
    }

    fn passed(&mut self, n: u64, out: &mut Output<'_>) {
        Sub::passed(self.connected(), n, out);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use boa_engine::JsString;

    use super::*;
    use crate::engine::Callback;
    use crate::engine::host::stub::{self, Record, StubHost};

    type Seen = Rc<RefCell<Vec<String>>>;

    fn run(info: Given<Info>, stub: &StubHost) -> (Vec<String>, Vec<String>, Vec<String>) {
        let seen = Seen::default();
        let sub = stub::layout(vec![Box::new(Record("sub", seen.clone()))]);
        let input = vec![Event::Data(Bytes::from_static(b"hello")), Event::end()];
        let out = stub::run(vec![Box::new(Spec { info, sub })], input);
        let seen = seen.borrow().clone();
        (out, seen, stub.log.borrow().clone())
    }

    #[test]
    fn a_fixed_info_sends_its_version_1_line_before_the_first_event() {
        let stub = StubHost::install();
        let info = Info {
            protocol: Some("TCP4".into()),
            source_address: Some("192.0.2.7".into()),
            source_port: Some(4242),
            ..Info::default()
        };
        let (out, seen, log) = run(Given::Fixed(info), &stub);
        let header = "Data PROXY TCP4 192.0.2.7 0.0.0.0 4242 0\r\n";
        assert_eq!(seen, [format!("sub: {header}"), "sub: Data hello".into(), "sub: StreamEnd".into()]);
        assert_eq!(out, [header, "Data hello", "StreamEnd"]);
        assert!(log.is_empty(), "{log:?}");
    }

    #[test]
    fn a_function_is_asked_once_and_its_fields_read() {
        let stub = StubHost::install();
        let text = |s: &str| Value::from(JsString::from(s));
        // The call's result, then the fields in the order `returned` reads them.
        let answers = [Value::from(Callback::with_null_proto()), text("PROXY"), text("TCP6"), text("::1"), text("::2")];
        let answers = answers.into_iter().chain([Value::from(2), Value::from(1), Value::from(2)]);
        stub.returns.borrow_mut().extend(answers);
        let (out, seen, log) = run(Given::Dynamic(StubHost::callback()), &stub);
        assert_eq!(log[0], "call/0");
        assert_eq!(log.len(), 8, "{log:?}");
        let mut header = b"\r\n\r\n\0\r\nQUIT\n\x21\x21\0\x24".to_vec();
        header.extend_from_slice(&[0; 15]);
        header.push(1);
        header.extend_from_slice(&[0; 15]);
        header.extend_from_slice(&[2, 0, 1, 0, 2]);
        let header = format!("Data {}", String::from_utf8_lossy(&header));
        assert_eq!(seen[0], format!("sub: {header}"));
        assert_eq!(out, [header, "Data hello".into(), "StreamEnd".into()]);
    }

    #[test]
    fn a_function_returning_no_object_ends_the_stream_with_its_error() {
        let stub = StubHost::install();
        let (out, seen, _) = run(Given::Dynamic(StubHost::callback()), &stub);
        assert_eq!(out, ["StreamEnd error"]);
        assert!(seen.is_empty());
    }
}
