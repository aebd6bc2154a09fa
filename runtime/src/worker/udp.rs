//! The UDP session driver: each new peer of a UDP listener gets a context, a pipeline whose
//! output goes back to that peer, and counts as open until its session ends.

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use tokio::net::UdpSocket;
use tokio::sync::Notify;

use super::ActiveGuard;
use super::listening::Serving;
use crate::engine::{EventSink, Inbound, Pipeline, StartSpec, host};
use crate::net::listener::ListenSpec;
use crate::net::udp::{self, PeerLink, PeerOptions, Session};

/// Serves `socket` for `spec` until `stop` fires.
/// Each new peer gets the pipeline `serving` holds when it arrives (a reload replaces it).
pub async fn listen(socket: UdpSocket, spec: Rc<ListenSpec>, serving: Rc<RefCell<Serving>>, stop: Rc<Notify>) {
    let Ok(local) = socket.local_addr() else { return };
    let fd = socket.as_raw_fd();
    let options = PeerOptions::new(spec.max_connections, spec.idle_timeout);
    let open = move |link: Rc<PeerLink>| -> Session {
        let guard = ActiveGuard::new();
        // The inbound's socket is the listening one, shared by all peers, as in Pipy.
        let inbound = Rc::new(Inbound::new(local, link.peer, fd));
        crate::engine::inbound::track(&inbound);
        tracing::debug!(target: "inbound", "inbound #{} from udp {}", inbound.id, link.peer);
        let (layout, root) = {
            let s = serving.borrow();
            (s.layout.clone(), s.root.clone())
        };
        let context = root.copy(Some(inbound.clone()));
        let pipeline = Pipeline::new(layout.clone(), context, link as Rc<dyn EventSink>);
        let args = match &layout.on_start {
            Some(StartSpec::Function(_)) => match host().inbound_value(&inbound) {
                Ok(v) => vec![v],
                Err(e) => {
                    tracing::error!(target: "inbound", "inbound #{}: {e}", inbound.id);
                    Vec::new()
                }
            },
            _ => Vec::new(),
        };
        pipeline.start(&args);
        let session = PeerSession { pipeline, inbound, _active: guard };
        Box::new(move |evt| session.pipeline.input(evt))
    };
    udp::run(socket, options, stop, open).await;
}

struct PeerSession {
    pipeline: Pipeline,
    inbound: Rc<Inbound>,
    _active: ActiveGuard,
}

impl Drop for PeerSession {
    fn drop(&mut self) {
        self.inbound.closed();
        tracing::debug!(target: "inbound", "inbound #{} closed", self.inbound.id);
    }
}
