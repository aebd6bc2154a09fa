//! One accepted connection: its pipeline, fed by a reader, drained by a writer.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::outbox::{End, Outbox};
use crate::engine::{Context, Event, Layout, Pipeline, StartSpec};
use crate::js;

/// What a script can learn about an inbound connection. The socket fd is cleared when the
/// connection is gone, so a kept reference cannot reach a reused fd.
pub struct InboundInfo {
    pub id: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    fd: Cell<Option<RawFd>>,
    closers: RefCell<Vec<Box<dyn FnOnce()>>>,
}

impl InboundInfo {
    pub fn fd(&self) -> Option<RawFd> {
        self.fd.get()
    }

    /// Runs `f` when the connection is closed (for things that live only as long as it).
    pub fn on_close(&self, f: Box<dyn FnOnce()>) {
        self.closers.borrow_mut().push(f);
    }
}

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

pub struct ServeOptions {
    pub idle_timeout: Duration,
}

pub async fn serve(stream: TcpStream, layout: Rc<Layout>, root: Rc<Context>, opts: Rc<ServeOptions>) {
    let _active = crate::worker::ActiveGuard::new();
    let _ = stream.set_nodelay(true);
    let (Ok(local), Ok(remote)) = (stream.local_addr(), stream.peer_addr()) else { return };
    let id = NEXT_ID.with(|n| n.replace(n.get() + 1));
    let info = Rc::new(InboundInfo {
        id,
        local,
        remote,
        fd: Cell::new(Some(stream.as_raw_fd())),
        closers: RefCell::new(Vec::new()),
    });
    tracing::debug!(target: "inbound", "inbound #{id} from {remote}");

    let context = root.copy(Some(info.clone()));
    let outbox = Rc::new(Outbox::new(context.downstream.clone()));
    let upstream = context.upstream.clone();
    let pipeline = Pipeline::new(layout.clone(), context, outbox.clone());
    let args = match &layout.on_start {
        Some(StartSpec::Function(_)) => js::with_js(|ctx| js::inbound::to_js(&info, ctx)).and_then(|r| r.ok()),
        _ => None,
    };
    pipeline.start(args.as_slice());

    let (mut r, w) = stream.into_split();
    let last_activity = Cell::new(tokio::time::Instant::now());
    let reader = async {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        loop {
            if outbox.ended() == End::Close {
                return;
            }
            upstream.wait().await;
            buf.reserve(16 * 1024);
            let read = tokio::select! {
                r = r.read_buf(&mut buf) => r,
                _ = super::outbox::idle(&last_activity, &outbox, opts.idle_timeout) => {
                    pipeline.input(Event::error("IdleTimeout"));
                    outbox.end(End::Close);
                    return;
                }
            };
            last_activity.set(tokio::time::Instant::now());
            let (evt, last) = super::read_event(read, &mut buf);
            pipeline.input(evt);
            if last {
                return;
            }
        }
    };
    let writer = async {
        let r = outbox.run(w).await;
        if let Err(e) = &r {
            tracing::debug!(target: "inbound", "inbound #{id} write error: {e}");
        }
        r
    };
    tokio::pin!(reader, writer);
    // The writer finishing with an error end closes the connection: stop reading too.
    tokio::select! {
        _ = &mut reader => { let _ = writer.await; }
        w = &mut writer => {
            if matches!(w, Ok(End::Shutdown)) {
                reader.await;
            }
        }
    }
    info.fd.set(None);
    let closers = info.closers.take();
    closers.into_iter().for_each(|f| f());
    tracing::debug!(target: "inbound", "inbound #{id} closed");
}
