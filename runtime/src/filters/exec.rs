//! `exec(command, options?)`: at the stream's first event a program starts (a command line
//! split as Pipy splits it, an array of arguments, or a function returning either; no
//! shell). The `Data` of the stream goes to its stdin, its stdout is this filter's output,
//! and the stream's end stops it (`SIGTERM`), as does the pipeline going. Once it exited and
//! its output ended, `onExit(code, stderr)` says what to output (events or nothing), or,
//! without `onExit`, a `StreamEnd` goes out.
//!
//! Options: `stderr` (true: stderr is output with stdout), `env` (the whole environment, an
//! object or a function returning one), `onStart(pid)`, `onExit`. Bounded: past
//! [`Gauge::LIMIT`] bytes waiting for the program's stdin the connection's readers pause,
//! and at most [`STDERR_LIMIT`] bytes of stderr are kept for `onExit`. Pipy's `pty` is not
//! supported.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::rc::{Rc, Weak};

use boa_engine::JsResult;
use bytes::Bytes;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

use super::Made;
use crate::args::Args;
use crate::codec::argv::split_argv;
use crate::engine::host::runtime_error;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Gauge, Given, Output, ReaderHold, Value, host};

/// The most stderr bytes kept for `onExit`.
const STDERR_LIMIT: usize = 1 << 20;

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let command = args.given(0, "a command line or an array of arguments", |v, _| {
        Ok((v.is_string() || v.as_object().is_some_and(|o| o.is_array())).then(|| v.clone()))
    })?;
    let mut o = args.options(1);
    let pty = o.value("pty")?.is_some_and(|v| v.to_boolean());
    let merge_stderr = o.value("stderr")?.is_some_and(|v| v.to_boolean());
    let env = o.value("env")?;
    let (on_start, on_exit) = (o.function("onStart")?, o.function("onExit")?);
    if pty {
        return Err(args.error("options.pty is not supported"));
    }
    let spec = Spec { command, merge_stderr, env, on_start, on_exit };
    Ok(Made::Filter(Box::new(Rc::new(spec))))
}

struct Spec {
    command: Given<Value>,
    merge_stderr: bool,
    env: Option<Value>,
    on_start: Option<Callback>,
    on_exit: Option<Callback>,
}

impl FilterSpec for Rc<Spec> {
    fn name(&self) -> &'static str {
        "exec"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Exec { spec: self.clone(), child: None, ended: false, env })
    }
}

/// A running program, as the filter and its tasks see it.
struct Child {
    pid: i32,
    stdin: RefCell<VecDeque<Bytes>>,
    queued: Cell<usize>,
    /// Wakes the stdin writer; `closed` tells it to close stdin instead.
    more: Rc<Notify>,
    closed: Cell<bool>,
    stderr: RefCell<Vec<u8>>,
    /// Output pipes still open, and the exit code once the program exited.
    open: Cell<u8>,
    exit: Cell<Option<i32>>,
    exited: Cell<bool>,
    /// Pauses the connection's readers while too much waits for stdin.
    readers: ReaderHold,
}

impl Child {
    fn queue(&self, n: isize) {
        self.queued.set(self.queued.get().saturating_add_signed(n));
        self.readers.set(self.queued.get() >= Gauge::LIMIT);
    }
}

struct Exec {
    spec: Rc<Spec>,
    env: FilterEnv,
    child: Option<Rc<Child>>,
    ended: bool,
}

impl Exec {
    fn argv(&self) -> Result<Vec<String>, String> {
        let h = host();
        let v = self.spec.command.get(&self.env.context, &[], Ok)?;
        let argv = match h.to_list(&v) {
            Some(list) => list.iter().map(|a| h.to_text(a)).collect::<Result<Vec<_>, _>>()?,
            None => split_argv(&h.to_text(&v)?),
        };
        if argv.is_empty() {
            return Err("exec() with no arguments".into());
        }
        Ok(argv)
    }

    fn environment(&self) -> Result<Option<Vec<(String, String)>>, String> {
        let h = host();
        let v = match &self.spec.env {
            None => return Ok(None),
            Some(v) => match v.as_callable() {
                Some(f) => h.call(&self.env.context, &f, &[])?,
                None => v.clone(),
            },
        };
        if v.is_null_or_undefined() {
            return Ok(None);
        }
        let fields = h.fields(&v).ok_or("options.env didn't return an object")?;
        fields.into_iter().map(|(k, v)| Ok((k, h.to_text(&v)?))).collect::<Result<_, String>>().map(Some)
    }

    fn start(&mut self) -> Result<(), String> {
        let argv = self.argv()?;
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(vars) = self.environment()? {
            c.env_clear().envs(vars);
        }
        let mut child = c.spawn().map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else { return Err("no pipes".into()) };
        let shared = Rc::new(Child {
            pid: child.id() as i32,
            stdin: RefCell::default(),
            queued: Cell::new(0),
            more: Rc::default(),
            closed: Cell::new(false),
            stderr: RefCell::default(),
            open: Cell::new(2),
            exit: Cell::new(None),
            exited: Cell::new(false),
            readers: ReaderHold::new(self.env.context.clone()),
        });
        let env = self.env.clone();
        let (weak, merge, on_exit) = (Rc::downgrade(&shared), self.spec.merge_stderr, self.spec.on_exit.clone());
        let done = Rc::new(Done { env: env.clone(), child: weak.clone(), merge, on_exit });
        spawn_reader(OwnedFd::from(stdout), done.clone(), Sink::Output);
        spawn_reader(OwnedFd::from(stderr), done.clone(), if merge { Sink::Output } else { Sink::Stderr });
        spawn_writer(OwnedFd::from(stdin), weak.clone());
        spawn_waiter(child, done);
        self.child = Some(shared.clone());
        if let Some(f) = &self.spec.on_start {
            host().call(&self.env.context, f, &[Value::from(shared.pid)])?;
        }
        Ok(())
    }
}

impl Filter for Exec {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if self.child.is_none()
            && let Err(e) = self.start()
        {
            tracing::error!(target: "pipeline", "exec: {e}");
            self.ended = true;
            return out.emit(runtime_error(e));
        }
        let Some(child) = &self.child else { return };
        match evt {
            Event::Data(d) if !d.is_empty() => {
                child.queue(d.len() as isize);
                child.stdin.borrow_mut().push_back(d);
                child.more.notify_one();
            }
            Event::StreamEnd(_) => {
                self.ended = true;
                child.stop();
            }
            _ => {}
        }
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            child.stop();
        }
    }
}

impl Child {
    /// Closes stdin and stops the program if it still runs.
    fn stop(&self) {
        self.closed.set(true);
        self.more.notify_one();
        if !self.exited.get() {
            // SAFETY: a plain syscall on the pid of our own child. The waiter thread may
            // have reaped it just now (`exited` is set a task later): the same narrow window
            // Pipy's kill has.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
        }
    }
}

/// What ends the filter's output once the program exited and its pipes ended.
struct Done {
    env: FilterEnv,
    child: Weak<Child>,
    merge: bool,
    on_exit: Option<Callback>,
}

impl Done {
    fn check(&self) {
        let Some(child) = self.child.upgrade() else { return };
        let Some(code) = child.exit.get().filter(|_| child.open.get() == 0) else { return };
        let Some(f) = &self.on_exit else { return self.env.emit(Event::end()) };
        let h = host();
        let mut args = vec![Value::from(code)];
        if !self.merge {
            let stderr = Bytes::from(std::mem::take(&mut *child.stderr.borrow_mut()));
            match h.event_value(&Event::Data(stderr)) {
                Ok(v) => args.push(v),
                Err(e) => return self.env.emit(runtime_error(e)),
            }
        }
        match h.call(&self.env.context, f, &args).and_then(|v| h.to_events(&v)) {
            Ok(events) => events.into_iter().for_each(|e| self.env.emit(e)),
            Err(e) => {
                tracing::error!(target: "pipeline", "exec: onExit: {e}");
                self.env.emit(runtime_error(e));
            }
        }
    }
}

enum Sink {
    Output,
    Stderr,
}

fn nonblocking(fd: OwnedFd) -> std::io::Result<AsyncFd<std::fs::File>> {
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the File owns the descriptor, which stays open, and the same, until the
    // AsyncFd drops it.
    Ok(unsafe { AsyncFd::register(std::fs::File::from(fd)) }?)
}

fn spawn_reader(fd: OwnedFd, done: Rc<Done>, sink: Sink) {
    tokio::task::spawn_local(async move {
        if let Ok(fd) = nonblocking(fd) {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                super::read::room(&done.env.context).await;
                let Ok(mut guard) = fd.readable().await else { break };
                match guard.try_io(|f| f.get_ref().read(&mut buf)) {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => match sink {
                        Sink::Output => done.env.emit(Event::Data(Bytes::copy_from_slice(&buf[..n]))),
                        Sink::Stderr => {
                            let Some(child) = done.child.upgrade() else { break };
                            let mut kept = child.stderr.borrow_mut();
                            let room = STDERR_LIMIT.saturating_sub(kept.len());
                            kept.extend_from_slice(&buf[..n.min(room)]);
                        }
                    },
                    Err(_would_block) => continue,
                }
            }
        }
        if let Some(child) = done.child.upgrade() {
            child.open.set(child.open.get() - 1);
        }
        done.check();
    });
}

fn spawn_writer(fd: OwnedFd, child: Weak<Child>) {
    tokio::task::spawn_local(async move {
        let Ok(fd) = nonblocking(fd) else { return };
        loop {
            let Some(c) = child.upgrade() else { return };
            let next = c.stdin.borrow_mut().pop_front();
            let Some(mut chunk) = next else {
                if c.closed.get() {
                    return;
                }
                let more = c.more.clone();
                drop(c);
                more.notified().await;
                continue;
            };
            drop(c);
            let len = chunk.len() as isize;
            while !chunk.is_empty() {
                let Ok(mut guard) = fd.writable().await else { return };
                match guard.try_io(|f| f.get_ref().write(&chunk)) {
                    Ok(Ok(n)) => drop(chunk.split_to(n)),
                    Ok(Err(_)) => return,
                    Err(_would_block) => {}
                }
            }
            if let Some(c) = child.upgrade() {
                c.queue(-len);
            }
        }
    });
}

/// Reaps the program on a thread of its own (`wait` blocks), and tells the filter.
fn spawn_waiter(mut child: std::process::Child, done: Rc<Done>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let code = child.wait().map(|s| s.code().unwrap_or(-1)).unwrap_or(-1);
        let _ = tx.send(code);
    });
    tokio::task::spawn_local(async move {
        let code = rx.await.unwrap_or(-1);
        if let Some(c) = done.child.upgrade() {
            c.exited.set(true);
            c.exit.set(Some(code));
        }
        done.check();
    });
}
