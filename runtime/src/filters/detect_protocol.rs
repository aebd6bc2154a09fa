//! `detectProtocol(fn, { timeout })`: watches the first bytes of the stream and calls
//! `fn(protocol)` once, with `'HTTP'` (an HTTP/1 request line), `'HTTP2'` (the HTTP/2
//! preface), `'TLS'` (a ClientHello record) or `''` when it is none of them or `timeout`
//! passed first. What `fn` returns, unless null or undefined, is output as events before
//! the event that decided. Every event passes on unchanged.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use boa_engine::{JsResult, JsString};
use tokio::task::AbortHandle;

use super::Made;
use crate::args::Args;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Output, Pass, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let f = args.function(0, "a function")?;
    let timeout = args.options(1).duration("timeout")?.filter(|t| !t.is_zero());
    Ok(Made::Filter(Box::new(Spec { f, timeout })))
}

struct Spec {
    f: Callback,
    timeout: Option<Duration>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "detectProtocol"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(DetectProtocol {
            f: self.f.clone(),
            timeout: self.timeout,
            env,
            detector: Detector::default(),
            decided: false,
            timer: None,
            expired: Rc::new(Cell::new(false)),
        })
    }
}

const METHODS: [&[u8]; 9] =
    [b"GET ", b"HEAD ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"CONNECT ", b"OPTIONS ", b"TRACE "];
const VERSIONS: [&[u8]; 2] = [b"HTTP/1.0\r\n", b"HTTP/1.1\r\n"];
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The three detectors over the bytes seen so far. Each says yes, no, or not yet; the
/// first yes wins, and three noes make `''`.
#[derive(Default)]
struct Detector {
    /// Bytes of the request line seen: the method, then the version after the target.
    method: Vec<u8>,
    version: Option<Vec<u8>>,
    in_target: bool,
    http_no: bool,
    preface: usize,
    http2_no: bool,
    tls: Vec<u8>,
    tls_no: bool,
}

/// Whether `seen` is one of `words` (`Some(true)`), could still become one (`None`), or
/// cannot (`Some(false)`).
fn word(seen: &[u8], words: &[&[u8]]) -> Option<bool> {
    if words.contains(&seen) {
        Some(true)
    } else if words.iter().any(|w| w.starts_with(seen)) {
        None
    } else {
        Some(false)
    }
}

impl Detector {
    fn http(&mut self, c: u8) -> Option<&'static str> {
        if let Some(v) = &mut self.version {
            v.push(c);
            let found = word(v, &VERSIONS);
            return self.verdict_http(found, "HTTP");
        }
        if self.in_target {
            self.version = (c == b' ').then(Vec::new);
            return None;
        }
        self.method.push(c);
        let found = word(&self.method, &METHODS);
        self.in_target = found == Some(true);
        self.verdict_http(found.filter(|f| !f), "")
    }

    fn verdict_http(&mut self, found: Option<bool>, yes: &'static str) -> Option<&'static str> {
        match found? {
            true => Some(yes),
            false => {
                self.http_no = true;
                None
            }
        }
    }

    fn http2(&mut self, c: u8) -> Option<&'static str> {
        if HTTP2_PREFACE[self.preface] != c {
            self.http2_no = true;
            return None;
        }
        self.preface += 1;
        (self.preface == HTTP2_PREFACE.len()).then_some("HTTP2")
    }

    /// A TLS handshake record (22), version 3.x, holding a ClientHello (1) that fits in it.
    fn tls(&mut self, c: u8) -> Option<&'static str> {
        let b = &mut self.tls;
        b.push(c);
        let ok = match b.len() {
            1 => c == 22,
            2 => c == 3,
            3 => c <= 4,
            6 => c == 1,
            9 => {
                let hello = u32::from_be_bytes([0, b[6], b[7], b[8]]);
                hello <= u32::from(u16::from_be_bytes([b[3], b[4]])) + 4
            }
            11 => return Some("TLS"),
            _ => true,
        };
        self.tls_no |= !ok;
        None
    }

    /// The protocol once decided: feeds `bytes` until one detector says yes or all no.
    fn feed(&mut self, bytes: &[u8]) -> Option<&'static str> {
        for &c in bytes {
            let found = [
                (!self.http_no).then(|| self.http(c)).flatten(),
                (!self.http2_no).then(|| self.http2(c)).flatten(),
                (!self.tls_no).then(|| self.tls(c)).flatten(),
            ];
            if let Some(p) = found.into_iter().flatten().next() {
                return Some(p);
            }
            if self.http_no && self.http2_no && self.tls_no {
                return Some("");
            }
        }
        None
    }
}

struct DetectProtocol {
    f: Callback,
    timeout: Option<Duration>,
    env: FilterEnv,
    detector: Detector,
    decided: bool,
    timer: Option<AbortHandle>,
    expired: Rc<Cell<bool>>,
}

impl DetectProtocol {
    fn decide(&mut self, protocol: &'static str, out: &mut Output<'_>) {
        self.decided = true;
        self.detector = Detector::default();
        if let Some(t) = self.timer.take() {
            t.abort();
        }
        let host = host();
        let events = host
            .call(&self.env.context, &self.f, &[Value::from(JsString::from(protocol))])
            // As Pipy, what is not an object (`p => $proto = p` returns the string) is no
            // events and is no error either.
            .and_then(|v| if !v.is_object() { Ok(Vec::new()) } else { host.to_events(&v) });
        match events {
            Ok(events) => events.into_iter().for_each(|e| out.emit(e)),
            Err(e) => tracing::error!(target: "pipeline", "detectProtocol: {e}"),
        }
    }

    fn start_timer(&mut self, timeout: Duration) {
        let (env, expired) = (self.env.clone(), self.expired.clone());
        let task = tokio::task::spawn_local(async move {
            tokio::time::sleep(timeout).await;
            expired.set(true);
            env.wake();
        });
        self.timer = Some(task.abort_handle());
    }
}

impl Drop for DetectProtocol {
    fn drop(&mut self) {
        if let Some(t) = self.timer.take() {
            t.abort();
        }
    }
}

impl Filter for DetectProtocol {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if !self.decided {
            if let (Some(t), None) = (self.timeout, &self.timer) {
                self.start_timer(t);
            }
            if let Event::Data(b) = &evt
                && let Some(protocol) = self.detector.feed(b)
            {
                self.decide(protocol, out);
            }
        }
        out.emit(evt);
    }

    fn pass(&self) -> Pass {
        if self.decided { Pass::Through(u64::MAX) } else { Pass::No }
    }

    fn wake(&mut self, out: &mut Output<'_>) {
        if !self.decided && self.expired.get() {
            self.decide("", out);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    fn detect(chunks: &[&[u8]]) -> Option<&'static str> {
        let mut d = Detector::default();
        chunks.iter().find_map(|c| d.feed(c))
    }

    #[test]
    fn http_http2_and_tls_are_told_apart_also_across_reads() {
        assert_eq!(detect(&[b"GET /a/b HTTP/1.1\r\nHost: x\r\n"]), Some("HTTP"));
        assert_eq!(detect(&[b"OPT", b"IONS * HT", b"TP/1.0\r", b"\n"]), Some("HTTP"));
        assert_eq!(detect(&[HTTP2_PREFACE]), Some("HTTP2"));
        let hello = [22, 3, 1, 0, 0xc8, 1, 0, 0, 0xc4, 3, 3, 0, 0];
        assert_eq!(detect(&[&hello[..4], &hello[4..]]), Some("TLS"));
        assert_eq!(detect(&[b"GET / HTTP/1.1"]), None);
    }

    #[test]
    fn anything_else_is_the_empty_string_as_soon_as_all_three_say_no() {
        assert_eq!(detect(&[b"SSH-2.0-OpenSSH\r\n"]), Some(""));
        assert_eq!(detect(&[b"GET / HTTP/2\r\n"]), Some(""));
        assert_eq!(detect(&[&[22, 3, 9]]), Some(""));
    }

    #[test]
    fn fn_is_called_once_and_what_it_returns_goes_first() {
        let stub = StubHost::install();
        // An object (the stub turns it into the queued events); a string would be no events.
        stub.returns.borrow_mut().push_back(Value::from(boa_engine::JsObject::with_null_proto()));
        stub.events.borrow_mut().push_back(vec![Event::Data(Bytes::from_static(b"hi "))]);
        let spec = Spec { f: StubHost::callback(), timeout: None };
        let input = [&b"GET / HT"[..], b"TP/1.1\r\n", b"rest"].map(|b| Event::Data(Bytes::from_static(b)));
        let out = stub::run(vec![Box::new(spec)], input.into());
        assert_eq!(out, ["Data GET / HT", "Data hi ", "Data TP/1.1\r\n", "Data rest"]);
        assert_eq!(*stub.log.borrow(), ["call/1"]);
    }
}
