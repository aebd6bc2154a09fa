//! `deframe({ state: fn, ... })`: a byte-level state machine written in the script. The
//! first key is the first state. In a state, each byte of `Data` goes to its function, which
//! returns the next state's name, or an array `[...events, next, size?, buffer?]`: the events
//! are output, and with a `size` the next `size` bytes are read before `next`'s function is
//! called once, with them as a `Data` (`buffer` a `Data`), as an array of numbers (`buffer`
//! an array), or, with no `buffer`, passed on as they are (the function then gets -1).
//! A state may also be the array itself. Anything else ends the stream with an error;
//! a `StreamEnd` passes and starts the machine over.

use std::collections::HashMap;
use std::rc::Rc;

use boa_engine::JsResult;
use bytes::{Bytes, BytesMut};

use super::Made;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Output, Value, host};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    if !args.value(0).is_object() {
        return Err(args.takes("an object of states"));
    }
    let states = args.entries(0)?;
    if states.is_empty() {
        return Err(args.error("no states"));
    }
    let index = states.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect();
    Ok(Made::Filter(Box::new(Spec(Rc::new(States { states, index })))))
}

struct States {
    states: Vec<(String, Value)>,
    index: HashMap<String, usize>,
}

struct Spec(Rc<States>);

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "deframe"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Deframe { states: self.0.clone(), env, state: Some(0), read: None })
    }
}

/// Where the bytes being read go.
enum Into {
    Data(BytesMut),
    Array(Vec<u8>),
    Pass,
}

struct Reading {
    left: usize,
    into: Into,
}

struct Deframe {
    states: Rc<States>,
    env: FilterEnv,
    /// `None` once the machine failed: the rest of the stream's bytes are dropped.
    state: Option<usize>,
    read: Option<Reading>,
}

impl Deframe {
    /// Runs state `state` on `arg`; the next state.
    fn step(&mut self, state: usize, arg: Value, out: &mut Output<'_>) -> Result<usize, String> {
        let h = host();
        let (name, v) = &self.states.states[state];
        let v = match v.as_callable() {
            Some(f) => h.call(&self.env.context, &f, &[arg])?,
            None => v.clone(),
        };
        let Some(list) = h.to_list(&v) else { return self.state_named(&v, name) };
        let mut i = 0;
        while let Some(events) = list.get(i).filter(|e| e.is_object()).and_then(|e| h.to_events(e).ok()) {
            events.into_iter().for_each(|e| out.emit(e));
            i += 1;
        }
        let at = |j: usize| list.get(i + j).cloned().unwrap_or_default();
        let (size, buffer) = (at(1), at(2));
        if !size.is_null_or_undefined() {
            let n = size
                .as_number()
                .filter(|n| *n >= 1.0)
                .ok_or_else(|| format!("invalid reading length {}", size.display()))?;
            let into = match buffer {
                b if b.is_null_or_undefined() => Into::Pass,
                b if h.to_list(&b).is_some() => Into::Array(Vec::new()),
                b if h.to_events(&b).is_ok_and(|e| matches!(e.as_slice(), [Event::Data(_)] | [])) => {
                    Into::Data(BytesMut::new())
                }
                _ => return Err("invalid read buffer".into()),
            };
            self.read = Some(Reading { left: n as usize, into });
        }
        self.state_named(&at(0), name)
    }

    fn state_named(&self, v: &Value, from: &str) -> Result<usize, String> {
        let name = v.as_string().map(|s| s.to_std_string_escaped());
        let name = name.ok_or_else(|| format!("state '{from}': invalid state returned: {}", v.display()))?;
        self.states.index.get(&name).copied().ok_or_else(|| format!("invalid state: {name}"))
    }

    /// Reads into the pending read what `data` has for it; the function's argument once the
    /// read is complete.
    fn read_in(&mut self, data: &mut Bytes, out: &mut Output<'_>) -> Result<Option<Value>, String> {
        let Some(r) = &mut self.read else { return Ok(None) };
        let chunk = data.split_to(r.left.min(data.len()));
        r.left -= chunk.len();
        match &mut r.into {
            Into::Data(b) => b.extend_from_slice(&chunk),
            Into::Array(v) => v.extend_from_slice(&chunk),
            Into::Pass => out.emit(Event::Data(chunk)),
        }
        if r.left > 0 {
            return Ok(None);
        }
        let h = host();
        match self.read.take().map(|r| r.into) {
            Some(Into::Data(b)) => h.event_value(&Event::Data(b.freeze())).map(Some),
            Some(Into::Array(v)) => {
                h.array(&v.into_iter().map(|c| Value::from(c as i32)).collect::<Vec<_>>()).map(Some)
            }
            _ => Ok(Some(Value::from(-1))),
        }
    }

    fn deframe(&mut self, mut data: Bytes, out: &mut Output<'_>) -> Result<(), String> {
        while let Some(state) = self.state.filter(|_| !data.is_empty()) {
            let arg = match self.read.is_some() {
                true => match self.read_in(&mut data, out)? {
                    Some(arg) => arg,
                    None => continue,
                },
                false => Value::from(data.split_to(1)[0] as i32),
            };
            self.state = Some(self.step(state, arg, out)?);
        }
        Ok(())
    }
}

impl Filter for Deframe {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(data) if self.state.is_some() => {
                if let Err(e) = self.deframe(data, out) {
                    tracing::error!(target: "pipeline", "deframe: {e}");
                    self.state = None;
                    out.emit(runtime_error(e));
                }
            }
            Event::StreamEnd(_) => {
                self.state = Some(0);
                self.read = None;
                out.emit(evt);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use boa_engine::JsString;

    use super::*;
    use crate::engine::host::stub::{self, StubHost};

    /// States whose values are state names themselves: no functions, so the stub host can
    /// run them.
    fn spec(states: &[(&str, &str)]) -> Vec<Box<dyn FilterSpec>> {
        let states: Vec<(String, Value)> =
            states.iter().map(|(k, v)| (k.to_string(), JsString::from(*v).into())).collect();
        let index = states.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect();
        vec![Box::new(Spec(Rc::new(States { states, index })))]
    }

    #[test]
    fn deframe_drops_the_bytes_its_states_take_and_passes_the_stream_end() {
        StubHost::install();
        let out =
            stub::run(spec(&[("a", "b"), ("b", "a")]), vec![Event::Data(Bytes::from_static(b"xyz")), Event::end()]);
        assert_eq!(out, ["StreamEnd"]);
    }

    #[test]
    fn deframe_ends_the_stream_when_a_state_names_no_state() {
        StubHost::install();
        let out = stub::run(spec(&[("a", "nowhere")]), vec![Event::Data(Bytes::from_static(b"x"))]);
        assert_eq!(out, ["StreamEnd error"]);
    }
}
