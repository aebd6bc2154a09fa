//! `connect(target, { protocol: 'netlink', netlinkFamily, bind })`: a netlink socket of
//! family `netlinkFamily` (0 is NETLINK_ROUTE). Each input `Data` is sent to the kernel as
//! one datagram; each datagram received is one output `Data`.
//!
//! As in Pipy, the socket is bound to `bind` (`'pid=0;groups=...'`: the multicast groups to
//! hear, so a socket bound to RTMGRP_LINK hears every link change) and sends to the kernel;
//! `target`, in the same form, names the peer only in logs. An input `StreamEnd` closes the
//! socket and is passed back downstream. There is no idle timeout: a socket listening to a
//! group may hear nothing for hours. The socket opens when the pipeline starts.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;

use boa_engine::JsResult;
use bytes::Bytes;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::Made;
use crate::args::Args;
use crate::engine::busy::Busy;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Given, Output};

/// Whether `connect`'s options ask for netlink.
pub fn wanted(args: &mut Args<'_>) -> JsResult<bool> {
    Ok(args.options(1).string("protocol")?.as_deref() == Some("netlink"))
}

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let target = args.given_text(0, "a target 'pid=...;groups=...'")?;
    let mut o = args.options(1);
    let family = o.number("netlinkFamily")?.unwrap_or(0.0) as i32;
    let bind = o.string("bind")?.unwrap_or_default();
    let (pid, groups) = address(&bind).map_err(|e| args.error(format!("option bind: {e}")))?;
    Ok(Made::Filter(Box::new(Spec { target, family, pid, groups })))
}

/// `'pid=N;groups=M'` (either may be missing, as 0).
fn address(s: &str) -> Result<(u32, u32), String> {
    let (mut pid, mut groups) = (0, 0);
    for item in s.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item.split_once('=').ok_or_else(|| format!("'{item}' is not key=value"))?;
        let n: u32 = v.trim().parse().map_err(|_| format!("'{v}' is not a number"))?;
        match k.trim() {
            "pid" => pid = n,
            "groups" => groups = n,
            other => return Err(format!("unknown key '{other}'")),
        }
    }
    Ok((pid, groups))
}

struct Spec {
    target: Given<String>,
    family: i32,
    pid: u32,
    groups: u32,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "connect"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let Spec { target, family, pid, groups } = self;
        let spec = Spec { target: target.clone(), family: *family, pid: *pid, groups: *groups };
        Box::new(ConnectNetlink { spec, env, queue: Rc::default(), task: None, ended: false })
    }
}

/// Datagrams waiting for the socket; more than [`QUEUE_LIMIT`] bytes are dropped, as the
/// kernel drops what does not fit a socket's buffer. Each counts as work under way until it
/// is sent, so that a request queued by an exit callback goes before the worker ends.
#[derive(Default)]
struct Queue {
    datagrams: RefCell<VecDeque<(Bytes, Busy)>>,
    notify: Notify,
}

const QUEUE_LIMIT: usize = 1 << 20;

/// A netlink datagram can be up to 32 KiB (a dump's); room for the largest with margin.
const RECEIVE_SIZE: usize = 64 * 1024;

struct ConnectNetlink {
    spec: Spec,
    env: FilterEnv,
    queue: Rc<Queue>,
    task: Option<AbortHandle>,
    ended: bool,
}

impl ConnectNetlink {
    fn open(&mut self) {
        let target = self.spec.target.text(&self.env.context).unwrap_or_default();
        match open_socket(self.spec.family, self.spec.pid, self.spec.groups) {
            Ok(fd) => {
                tracing::debug!(target: "outbound", "netlink socket to {target} open");
                let task = tokio::task::spawn_local(run(fd, self.queue.clone(), self.env.clone()));
                self.task = Some(task.abort_handle());
            }
            Err(e) => {
                tracing::error!(target: "outbound", "connect: netlink family {}: {e}", self.spec.family);
                self.ended = true;
                self.env.emit_later(Event::error("ConnectionRefused"));
            }
        }
    }
}

impl Filter for ConnectNetlink {
    fn start(&mut self) {
        self.open();
    }

    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(b) if !self.ended && !b.is_empty() => {
                let queued: usize = self.queue.datagrams.borrow().iter().map(|(d, _)| d.len()).sum();
                if queued + b.len() > QUEUE_LIMIT {
                    return tracing::warn!(target: "outbound", "netlink send queue full: datagram dropped");
                }
                self.queue.datagrams.borrow_mut().push_back((b, Busy::new()));
                self.queue.notify.notify_one();
            }
            Event::StreamEnd(_) => {
                self.ended = true;
                if let Some(t) = self.task.take() {
                    t.abort();
                }
                out.emit(evt);
            }
            _ => {}
        }
    }
}

impl Drop for ConnectNetlink {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

fn open_socket(family: i32, pid: u32, groups: u32) -> io::Result<AsyncFd<OwnedFd>> {
    let flags = libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket(2) with constant arguments; the descriptor is owned at once.
    let raw = unsafe { libc::socket(libc::AF_NETLINK, flags, family) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_nl is plain data; all-zero is its unspecified value.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_pid = pid;
    addr.nl_groups = groups;
    let len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_nl of `len` bytes.
    if unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: an OwnedFd's descriptor stays open, and the same, until the AsyncFd drops it.
    Ok(unsafe { AsyncFd::register(fd) }?)
}

/// Sends what is queued and emits what is received, until the filter goes.
async fn run(fd: AsyncFd<OwnedFd>, queue: Rc<Queue>, env: FilterEnv) {
    let sender = async {
        loop {
            let next = queue.datagrams.borrow().front().map(|(d, _)| d.clone());
            let Some(data) = next else {
                queue.notify.notified().await;
                continue;
            };
            let sent = fd
                .async_io(Interest::WRITABLE, |fd| {
                    // SAFETY: sends `data`'s bytes; the kernel reads no further than its length.
                    let n = unsafe { libc::send(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), 0) };
                    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
                })
                .await;
            if let Err(e) = sent {
                tracing::warn!(target: "outbound", "netlink send {} bytes: {e}", data.len());
            }
            queue.datagrams.borrow_mut().pop_front();
        }
    };
    let receiver = async {
        let mut buf = vec![0u8; RECEIVE_SIZE];
        loop {
            let received = fd
                .async_io(Interest::READABLE, |fd| {
                    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`; MSG_TRUNC
                    // makes it return the datagram's whole length, to see one cut short.
                    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC) };
                    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
                })
                .await;
            match received {
                Ok(n) if n > buf.len() => {
                    tracing::error!(target: "outbound", "netlink datagram of {n} bytes cut to {}", buf.len());
                    return env.emit(Event::error("ReadError"));
                }
                Ok(n) => env.emit(Event::Data(Bytes::copy_from_slice(&buf[..n]))),
                // The socket could not keep up with a group: some messages were lost, later
                // ones still come.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    tracing::warn!(target: "outbound", "netlink: messages lost (receive buffer overrun)")
                }
                Err(e) => {
                    tracing::warn!(target: "outbound", "netlink receive: {e}");
                    return env.emit(Event::error("ReadError"));
                }
            }
            if !env.is_alive() {
                return;
            }
        }
    };
    tokio::select! {
        _ = sender => {}
        _ = receiver => {}
    }
}

#[cfg(test)]
mod tests {
    use super::address;

    #[test]
    fn addresses_are_pid_and_groups() {
        assert_eq!(address(""), Ok((0, 0)));
        assert_eq!(address("pid=0;groups=1093"), Ok((0, 1093)));
        assert_eq!(address(" groups = 4 ; pid=7 "), Ok((7, 4)));
        assert!(address("pid=x").is_err());
        assert!(address("port=1").is_err());
    }
}
