//! The connection driver: one accepted connection gets a context, a pipeline and a socket
//! pump, and counts as open until both directions are done.

use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use tokio::net::TcpStream;

use super::ActiveGuard;
use crate::engine::{Context, Inbound, Layout, Pipeline, StartSpec, host};
use crate::net::outbox::Outbox;

pub struct ServeOptions {
    pub idle_timeout: Duration,
}

pub async fn serve(stream: TcpStream, layout: Rc<Layout>, root: Rc<Context>, opts: Rc<ServeOptions>) {
    let _active = ActiveGuard::new();
    let _ = stream.set_nodelay(true);
    let (Ok(local), Ok(remote)) = (stream.local_addr(), stream.peer_addr()) else { return };
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
    crate::net::inbound::run(stream, &|evt| pipeline.input(evt), &outbox, &upstream, opts.idle_timeout).await;
    inbound.closed();
    tracing::debug!(target: "inbound", "inbound #{id} closed");
}
