//! `connect(target, options?)`: a TCP connection upstream. Input `Data` is written to it;
//! its output is what the upstream sends, then one `StreamEnd`.
//!
//! Unlike Pipy, the connection is opened when the pipeline starts (after `onStart`), not at
//! the first input event, so protocols where the server speaks first pass through.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use boa_engine::JsResult;
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

use super::Made;
use crate::args::Args;
use crate::engine::outbound::{self, Outbound, State};
use crate::engine::{Event, EventSink, Filter, FilterEnv, FilterSpec, Given, Output, Pass, host, metrics};
use crate::net::bound::{self, Local};
use crate::net::duplex::{self, Side};
use crate::net::outbox::{End, Outbox};
use crate::net::reader::Ended;

#[derive(Clone)]
struct Options {
    retry_count: i32,
    retry_delay: Duration,
    connect_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    /// `bind`: the local address, or a function returning it (`undefined`: none).
    bind: Option<Given<Option<String>>>,
    /// Weir's own: the bind address may be one this host does not own (IP_TRANSPARENT).
    transparent: bool,
}

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    if super::connect_netlink::wanted(args)? {
        return super::connect_netlink::make(args);
    }
    if super::connect_udp::wanted(args)? {
        return super::connect_udp::make(args);
    }
    let target = args.given_text(0, "a target 'host:port'")?;
    let mut o = args.options(1);
    let options = Options {
        retry_count: o.number("retryCount")?.map_or(0, |n| n as i32),
        retry_delay: o.duration("retryDelay")?.unwrap_or_default(),
        connect_timeout: o.timeout("connectTimeout")?.flatten(),
        idle_timeout: o.timeout("idleTimeout")?.unwrap_or(Some(Duration::from_secs(60))),
        bind: o.given_text("bind")?.map(|g| match g {
            Given::Fixed(s) => Given::Fixed(Some(s)),
            Given::Dynamic(f) => Given::Dynamic(f),
        }),
        transparent: o.value("transparent")?.is_some_and(|v| v.to_boolean()),
    };
    Ok(Made::Filter(Box::new(Spec { target, options })))
}

struct Spec {
    target: Given<String>,
    options: Options,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "connect"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let (target, options) = (self.target.clone(), self.options.clone());
        Box::new(Connect { target, options, env, outbox: None, task: None, outbound: None })
    }
}

struct Connect {
    target: Given<String>,
    options: Options,
    env: FilterEnv,
    outbox: Option<Rc<Outbox>>,
    task: Option<AbortHandle>,
    /// What `pipy.outbound` lists, for as long as this filter lives.
    outbound: Option<Rc<Outbound>>,
}

/// What `close()` on an outbound does: the socket's task stops, what was queued for it is
/// dropped, and the pipeline hears `StreamEnd('ConnectionAborted')` (Pipy's code for it).
pub(super) fn close_with(ob: &Outbound, task: AbortHandle, env: &FilterEnv, discard: impl FnOnce() + 'static) {
    let env = env.clone();
    ob.on_close(Box::new(move || {
        task.abort();
        discard();
        env.emit_later(Event::error("ConnectionAborted"));
    }));
}

impl Connect {
    fn open(&mut self) -> Rc<Outbox> {
        let outbox = Rc::new(Outbox::new(self.env.context.upstream.clone()));
        self.outbox = Some(outbox.clone());
        let target = self.target.text(&self.env.context);
        let env = self.env.clone();
        match target.and_then(|t| Ok((t, self.local()?))) {
            Ok((target, local)) => {
                let ob = outbound::track("TCP");
                let upstream = Upstream { target, env: env.clone(), outbox: outbox.clone(), outbound: ob.clone() };
                // Boxed: the task's own future is then a pointer, where tokio moves a future
                // of this size (kilobytes) as the task is made and as it ends (issue 24).
                let task = tokio::task::spawn_local(Box::pin(run(local, self.options.clone(), upstream)));
                let o = outbox.clone();
                close_with(&ob, task.abort_handle(), &env, move || o.discard());
                self.task = Some(task.abort_handle());
                self.outbound = Some(ob);
            }
            Err(e) => {
                tracing::error!(target: "outbound", "connect: {e}");
                env.emit_later(crate::engine::host::runtime_error(e));
            }
        }
        outbox
    }

    /// The `bind` address now: a function is asked at the same moment as the target.
    fn local(&self) -> Result<Option<Local>, String> {
        let Some(bind) = &self.options.bind else { return Ok(None) };
        let text = bind.get(&self.env.context, &[], |v| match v.is_undefined() {
            true => Ok(None),
            false => host().to_text(&v).map(Some),
        })?;
        text.map(|t| Local::parse(&t, self.options.transparent)).transpose()
    }
}

impl Filter for Connect {
    /// A fixed target opens at once. A target function is asked at the first event, so that
    /// filters before this one (a `handleMessageStart` setting `$target`) have run; with no
    /// event by the end of this turn it opens anyway, so a server that speaks first is heard.
    fn start(&mut self) {
        match self.target {
            Given::Fixed(_) => {
                self.open();
            }
            Given::Dynamic(_) => {
                let env = self.env.clone();
                tokio::task::spawn_local(async move { env.wake() });
            }
        }
    }

    fn wake(&mut self, _: &mut Output<'_>) {
        if self.outbox.is_none() {
            self.open();
        }
    }

    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let outbox = match &self.outbox {
            Some(o) => o.clone(),
            // Ended before it began: no connection, the end goes on.
            None if evt.is_stream_end() => {
                self.outbox = Some(Rc::new(Outbox::default()));
                return out.emit(evt);
            }
            None => self.open(),
        };
        match evt {
            Event::Data(b) => outbox.push(b),
            Event::StreamEnd(None) => outbox.end(End::Shutdown),
            Event::StreamEnd(Some(_)) => outbox.end(End::Close),
            _ => {}
        }
    }

    /// Input bytes go to the upstream socket: once it is connected, they can go there
    /// straight from the socket they were read from.
    fn pass(&self) -> Pass {
        match &self.outbox {
            Some(o) => EventSink::pass(o.clone()),
            None => Pass::No,
        }
    }
}

impl Drop for Connect {
    /// A stream that ended normally still owes the upstream what is queued for it (the
    /// client may have finished first, and its pipeline gone): the task flushes it, bounded
    /// by the idle timeout, and ends. Any other end closes the connection now.
    fn drop(&mut self) {
        if let Some(t) = &self.task
            && self.outbox.as_ref().is_none_or(|o| o.ended() != End::Shutdown)
        {
            t.abort();
        }
    }
}

/// `host:port` to socket addresses: IP literals as they are, `localhost` without DNS.
pub(super) async fn resolve(target: &str) -> Result<Vec<SocketAddr>, &'static str> {
    let (host, port) = target.rsplit_once(':').ok_or("CannotResolve")?;
    let port: u16 = port.parse().map_err(|_| "CannotResolve")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if host == "localhost" {
        return Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]);
    }
    let addrs: Vec<_> = tokio::net::lookup_host((host, port)).await.map_err(|_| "CannotResolve")?.collect();
    if addrs.is_empty() { Err("CannotResolve") } else { Ok(addrs) }
}

async fn connect_once(
    target: &str,
    local: Option<&Local>,
    timeout: Option<Duration>,
) -> Result<(TcpStream, SocketAddr), &'static str> {
    let addrs = resolve(target).await?;
    let attempt = async {
        let mut last = "ConnectionRefused";
        for a in addrs {
            let connected = match local {
                Some(l) => bound::connect(a, l).await,
                None => TcpStream::connect(a).await,
            };
            match connected {
                Ok(s) => return Ok((s, a)),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => last = "ConnectionRefused",
                // A bind that failed says why only here: the codes do not name it.
                Err(e) if local.is_some() => {
                    tracing::warn!(target: "outbound", "connect to {target} from {}: {e}", local.map_or(String::new(), |l| l.addr.to_string()));
                    last = "ConnectionAborted";
                }
                Err(_) => last = "ConnectionAborted",
            }
        }
        Err(last)
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, attempt).await.unwrap_or(Err("ConnectionTimeout")),
        None => attempt.await,
    }
}

async fn run(local: Option<Local>, options: Options, up: Upstream) {
    let Upstream { target, env, outbox, outbound: ob } = &up;
    ob.set_state(State::Connecting);
    let mut retries = 0;
    let (stream, peer, took) = loop {
        let started = std::time::Instant::now();
        match connect_once(target, local.as_ref(), options.connect_timeout).await {
            Ok((s, peer)) => break (s, peer, started.elapsed()),
            Err(code) => {
                if options.retry_count >= 0 && retries >= options.retry_count {
                    tracing::warn!(target: "outbound", "connect to {target}: {code}");
                    outbox.discard();
                    ob.set_state(State::Closed);
                    return env.emit(Event::error(code));
                }
                retries += 1;
                tracing::warn!(target: "outbound", "connect to {target}: {code}, retry connecting... (retries = {retries})");
                tokio::time::sleep(options.retry_delay).await;
            }
        }
    };
    let _ = stream.set_nodelay(true);
    // The peer is the address connected to; the local one is asked only if a script wants
    // it (issue 24).
    ob.connected_by(peer, stream.as_raw_fd());
    tracing::debug!(target: "outbound", "connected to {target}");
    // Effectively never, without overflowing the deadline arithmetic.
    let idle = options.idle_timeout.unwrap_or(Duration::from_secs(100 * 365 * 86400));
    let downstream = env.context.downstream.clone();
    let counted = metrics::Connection::outbound("TCP", Rc::from(target.as_str()), outbox.clone());
    counted.connected_in(took);
    let reads = duplex::run(stream, env, outbox, &downstream, idle, &up).await;
    drop(counted);
    ob.set_state(State::Closed);
    tracing::debug!(target: "outbound", "connection to {target} closed: {} bytes read, {} spliced", reads.read, reads.spliced);
}

struct Upstream {
    target: String,
    env: FilterEnv,
    outbox: Rc<Outbox>,
    outbound: Rc<Outbound>,
}

/// However the task ends (its future dropped by an abort too), the socket closes with it.
impl Drop for Upstream {
    fn drop(&mut self) {
        self.outbound.forget_fd();
    }
}

impl Side for Upstream {
    fn go_on(&self) -> bool {
        self.env.is_alive()
    }

    fn read_ended(&self, how: Ended) {
        if how == Ended::Idle {
            self.outbox.discard();
            self.env.emit(Event::error("IdleTimeout"));
        }
    }

    fn written(&self, result: io::Result<End>) -> bool {
        match result {
            // What the upstream still sends goes to whoever is left to hear it.
            Ok(End::Shutdown) => self.env.is_alive(),
            Ok(_) => false,
            // The upstream is gone: the client must hear of it, not wait for the idle timeout.
            Err(e) => {
                tracing::debug!(target: "outbound", "connection to {}: write error: {e}", self.target);
                let code = match e.kind() {
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => "ConnectionReset",
                    _ => "WriteError",
                };
                self.env.emit(Event::error(code));
                false
            }
        }
    }
}
