//! `read(filename, { seek, size })`: at the stream's first event, this filter outputs the
//! file's bytes (from `seek`, at most `size`; each a number or a function returning one) as
//! `Data`, then a `StreamEnd`; its input is dropped. The file is read a piece at a time,
//! waiting while the connection's queues are full, so a big file is never all in memory.

use std::fs::File;
use std::io::{Read as _, Seek, SeekFrom};
use std::rc::Rc;

use boa_engine::JsResult;
use bytes::Bytes;

use super::Made;
use crate::args::Args;
use crate::engine::host::runtime_error;
use crate::engine::{Callback, Context, Event, Filter, FilterEnv, FilterSpec, Given, Output, Pass, Value};

/// How much is read at once.
const PIECE: usize = 64 << 10;

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let filename = args.given_text(0, "a filename")?;
    let mut o = args.options(1);
    let seek = number(o.value("seek")?);
    let size = number(o.value("size")?);
    Ok(Made::Filter(Box::new(Rc::new(Spec { filename, seek, size }))))
}

/// A number option: fixed, a function, or absent.
fn number(v: Option<Value>) -> Option<Given<u64>> {
    let v = v?;
    match v.as_callable() {
        Some(f) => Some(Given::Dynamic(f.clone() as Callback)),
        None => Some(Given::Fixed(v.as_number().unwrap_or(0.0).max(0.0) as u64)),
    }
}

struct Spec {
    filename: Given<String>,
    seek: Option<Given<u64>>,
    size: Option<Given<u64>>,
}

impl FilterSpec for Rc<Spec> {
    fn name(&self) -> &'static str {
        "read"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(ReadFile { spec: self.clone(), env, started: false })
    }
}

struct ReadFile {
    spec: Rc<Spec>,
    env: FilterEnv,
    started: bool,
}

impl ReadFile {
    fn open(&self) -> Result<(File, Option<u64>), String> {
        let context = &self.env.context;
        let n = |g: &Option<Given<u64>>| -> Result<Option<u64>, String> {
            g.as_ref().map(|g| g.get(context, &[], |v| Ok(v.as_number().unwrap_or(0.0).max(0.0) as u64))).transpose()
        };
        let (seek, size) = (n(&self.spec.seek)?, n(&self.spec.size)?);
        let name = self.spec.filename.text(context)?;
        let mut file = File::open(&name).map_err(|e| format!("unable to open file for reading: {name}: {e}"))?;
        if let Some(at) = seek.filter(|at| *at > 0) {
            file.seek(SeekFrom::Start(at)).map_err(|e| format!("{name}: {e}"))?;
        }
        // Pipy reads to the end when `size` is 0.
        Ok((file, size.filter(|n| *n > 0)))
    }
}

/// Waits while the bytes already queued for either socket fill its queue.
pub(super) async fn room(context: &Context) {
    context.downstream.room().await;
    context.upstream.room().await;
}

/// Outputs `file`'s bytes from where it stands as `Data` (at most `left` of them, all with
/// `None`), a piece at a time, waiting while the connection's queues are full; stops early
/// once the pipeline is gone.
pub(super) async fn pour(file: &mut File, mut left: Option<u64>, env: &FilterEnv) -> std::io::Result<()> {
    let mut buf = vec![0u8; PIECE];
    loop {
        room(&env.context).await;
        let want = left.map_or(PIECE, |n| n.min(PIECE as u64) as usize);
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(());
        }
        left = left.map(|l| l - n as u64);
        env.emit(Event::Data(Bytes::copy_from_slice(&buf[..n])));
        if left == Some(0) || !env.is_alive() {
            return Ok(());
        }
    }
}

impl Filter for ReadFile {
    fn process(&mut self, _evt: Event, out: &mut Output<'_>) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        let (mut file, left) = match self.open() {
            Ok(opened) => opened,
            Err(e) => {
                tracing::error!(target: "pipeline", "read: {e}");
                return out.emit(runtime_error(e));
            }
        };
        let env = self.env.clone();
        tokio::task::spawn_local(async move {
            match pour(&mut file, left, &env).await {
                Ok(()) => env.emit(Event::end()),
                Err(e) => env.emit(runtime_error(format!("read: {e}"))),
            }
        });
    }

    /// The input is dropped.
    fn pass(&self) -> Pass {
        Pass::Absorb(u64::MAX)
    }
}
