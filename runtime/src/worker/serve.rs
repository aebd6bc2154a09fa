//! The connection driver: one accepted connection gets a context, a pipeline and a socket
//! pump, and counts as open until both directions are done.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use tokio::net::TcpStream;

use super::ActiveGuard;
use crate::engine::{Context, Inbound, Layout, Pipeline, StartSpec, host, metrics};
use crate::net::outbox::Outbox;

pub struct ServeOptions {
    pub idle_timeout: Duration,
    /// The listener's address, for a connection's local one until the kernel is asked.
    pub listen: SocketAddr,
    /// The listener as the metrics name it (`[ip]:port/TCP`).
    pub listen_label: Rc<str>,
    /// Counts it per peer address too (`peerStats`).
    pub peer_stats: bool,
}

/// Serves one accepted connection, from `remote` as `accept` told. A panic while serving it (a
/// bug, but one a peer's bytes or a script's values might reach) ends this connection with a
/// log line, not the worker.
pub async fn serve(
    stream: TcpStream,
    remote: SocketAddr,
    layout: Rc<Layout>,
    root: Rc<Context>,
    opts: Rc<ServeOptions>,
) {
    let _active = ActiveGuard::new();
    let _ = stream.set_nodelay(true);
    // The peer's address came with `accept`; asking the kernel again costs a syscall per
    // connection (issue 21). The local one is asked only if a script wants it (issue 24).
    if let Err(panic) = CatchUnwind(Box::pin(connection(stream, remote, layout, root, opts))).await {
        let what = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(|s| s.as_str()))
            .unwrap_or("a panic");
        tracing::error!(target: "inbound", "connection from {remote} closed after an internal error: {what}");
    }
}

async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    layout: Rc<Layout>,
    root: Rc<Context>,
    opts: Rc<ServeOptions>,
) {
    let inbound = Rc::new(Inbound::accepted(opts.listen, remote, stream.as_raw_fd()));
    crate::engine::inbound::track(&inbound);
    let closing = Closing(inbound.clone());
    let id = inbound.id;
    tracing::debug!(target: "inbound", "inbound #{id} from {remote}");

    let context = root.copy(Some(inbound.clone()));
    let outbox = Rc::new(Outbox::new(context.downstream.clone()));
    let upstream = context.upstream.clone();
    let pipeline = Pipeline::new(layout.clone(), context, outbox.clone());
    let args = match &layout.on_start {
        Some(StartSpec::Function(_)) => match host().inbound_value(&inbound) {
            Ok(v) => vec![v],
            Err(e) => {
                tracing::error!(target: "inbound", "inbound #{id}: {e}");
                Vec::new()
            }
        },
        _ => Vec::new(),
    };
    pipeline.start(&args);
    let peer = opts.peer_stats.then(|| Rc::from(remote.ip().to_string()));
    let counted = metrics::Connection::inbound(opts.listen_label.clone(), peer, outbox.clone());
    let (read, spliced) =
        crate::net::inbound::run(stream, remote, &pipeline, &outbox, &upstream, opts.idle_timeout).await;
    drop(counted);
    drop(closing);
    tracing::debug!(target: "inbound", "inbound #{id} closed: {read} bytes read, {spliced} spliced");
}

/// Closes the connection in the script's eyes however its task ends: normally, or by a panic
/// that unwinds through it (the task's locals are dropped as the unwind leaves `poll`), so a
/// kept `Inbound` never shows an fd that may be reused, and its `on_close` hooks (muxHTTP
/// sessions, load-balancer releases) always run.
struct Closing(Rc<Inbound>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.closed();
    }
}

/// A future that turns a panic in `poll` into an error, after which the inner future is only
/// dropped, never polled again. What the panic left half-done is the connection's own state
/// (dropped with it) or the script engine's, which survives an unwind: its borrows are
/// released as the unwind passes them.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use tokio::io::AsyncWriteExt;

    use super::{CatchUnwind, ServeOptions, serve};
    use crate::engine::host::stub::StubHost;
    use crate::engine::{Context, Event, Filter, FilterEnv, FilterSpec, Inbound, Layout, Output};

    /// What the panicking filter saw: the connection, and whether its `on_close` ran.
    #[derive(Default)]
    struct Seen {
        inbound: Option<Rc<Inbound>>,
        closed: bool,
    }

    struct Boom(Rc<RefCell<Seen>>);

    impl FilterSpec for Boom {
        fn name(&self) -> &'static str {
            "boom"
        }
        fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
            Box::new(BoomFilter(self.0.clone(), env))
        }
    }

    struct BoomFilter(Rc<RefCell<Seen>>, FilterEnv);

    impl Filter for BoomFilter {
        /// The first bytes register an `on_close` hook (as muxHTTP and load balancers do), then
        /// panic as a bug reached by a peer's bytes would.
        fn process(&mut self, evt: Event, _: &mut Output<'_>) {
            if !matches!(evt, Event::Data(_)) {
                return;
            }
            let inbound = self.1.context.inbound.clone().expect("an inbound connection");
            let seen = Rc::downgrade(&self.0);
            inbound.on_close(Box::new(move || {
                if let Some(s) = seen.upgrade() {
                    s.borrow_mut().closed = true;
                }
            }));
            self.0.borrow_mut().inbound = Some(inbound);
            panic!("a bug reached by a peer's bytes");
        }
    }

    #[test]
    fn a_panic_in_a_connection_closes_its_inbound_and_runs_its_on_close_hooks() {
        let _stub = StubHost::install();
        let seen = Rc::new(RefCell::new(Seen::default()));
        let layout = Layout { name: "boom".into(), filters: vec![Box::new(Boom(seen.clone()))], ..Default::default() };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (accepted, peer) = listener.accept().await.unwrap();
            client.write_all(b"hello").await.unwrap();
            let opts = Rc::new(ServeOptions {
                idle_timeout: std::time::Duration::from_secs(10),
                listen: peer,
                listen_label: Rc::from(""),
                peer_stats: false,
            });
            serve(accepted, peer, Rc::new(layout), Context::root(), opts).await;
        });
        let seen = seen.borrow();
        let inbound = seen.inbound.as_ref().expect("the filter saw the connection");
        assert_eq!(inbound.fd(), None, "a closed connection's fd must not stay visible");
        assert!(seen.closed, "on_close hooks must run when a connection ends in a panic");
    }

    #[test]
    fn a_panic_while_polling_becomes_an_error_and_the_thread_goes_on() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let r = rt.block_on(CatchUnwind(Box::pin(async {
            tokio::task::yield_now().await;
            panic!("boom")
        })));
        assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"boom"));
        assert_eq!(rt.block_on(CatchUnwind(Box::pin(async { 7 }))).ok(), Some(7));
    }
}
