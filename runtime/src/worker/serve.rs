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
use crate::engine::{Context, Inbound, Layout, Pipeline, StartSpec, host};
use crate::net::outbox::Outbox;

pub struct ServeOptions {
    pub idle_timeout: Duration,
}

/// Serves one accepted connection. A panic while serving it (a bug, but one a peer's bytes or
/// a script's values might reach) ends this connection with a log line, not the worker.
pub async fn serve(stream: TcpStream, layout: Rc<Layout>, root: Rc<Context>, opts: Rc<ServeOptions>) {
    let _active = ActiveGuard::new();
    let _ = stream.set_nodelay(true);
    let (Ok(local), Ok(remote)) = (stream.local_addr(), stream.peer_addr()) else { return };
    if let Err(panic) = CatchUnwind(Box::pin(connection(stream, local, remote, layout, root, opts))).await {
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
    local: SocketAddr,
    remote: SocketAddr,
    layout: Rc<Layout>,
    root: Rc<Context>,
    opts: Rc<ServeOptions>,
) {
    let inbound = Rc::new(Inbound::new(local, remote, stream.as_raw_fd()));
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
    let (read, spliced) = crate::net::inbound::run(stream, &pipeline, &outbox, &upstream, opts.idle_timeout).await;
    inbound.closed();
    tracing::debug!(target: "inbound", "inbound #{id} closed: {read} bytes read, {spliced} spliced");
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
    use super::CatchUnwind;

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
