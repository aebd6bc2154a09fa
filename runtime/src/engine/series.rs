//! The runtime's own series, under Pipy's names and labels: connections open now and their
//! bytes in and out (`pipy_inbound_*` per listener, `[ip]:port/TCP`, and per peer below it
//! with `peerStats`; `pipy_outbound_*` per protocol and peer), `pipy_outbound_conn_time`, and
//! `pipy_pipeline_count` per module and pipeline.
//!
//! Counts change as connections open and close. Bytes are counted by each connection's own
//! pump in plain cells (a [`Flow`]); the thread adds what is new to the series when it
//! collects ([`collect_here`], before the admin port answers) and when the connection
//! closes, as Pipy does: the request path takes no lock per read or write.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::metrics::{Kind, Node, Tree, family};
use super::pipeline::Layout;

struct Traffic {
    count: Tree,
    bytes_in: Tree,
    bytes_out: Tree,
    nested: bool,
}

impl Traffic {
    fn new(prefix: &str, labels: &[&str], nested: bool) -> Traffic {
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        let tree = |suffix: &str, kind: Kind| {
            // Made before any script metric (runtime_series), so this cannot clash.
            family(&format!("{prefix}_{suffix}"), kind, labels.clone()).map(|f| f.tree()).unwrap_or_default()
        };
        Traffic {
            count: tree("count", Kind::Gauge),
            bytes_in: tree("in", Kind::Counter),
            bytes_out: tree("out", Kind::Counter),
            nested,
        }
    }

    /// The labelled levels a connection at `path` counts at: every level for inbound ones,
    /// so a listener with `peerStats` still has its own total as Pipy prints it; only the
    /// full path for outbound ones.
    fn levels<'p, 's>(&self, path: &'p [&'s str]) -> impl Iterator<Item = &'p [&'s str]> {
        let first = if self.nested { 1 } else { path.len() };
        (first..=path.len()).map(move |n| &path[..n])
    }

    fn add(&self, tree: &Tree, path: &[&str], n: f64) {
        let mut t = tree.lock().unwrap();
        t.add(n);
        self.levels(path).for_each(|p| t.at(p).add(n));
    }

    fn bytes(&self, path: &[&str], bytes_in: u64, bytes_out: u64) {
        for (tree, n) in [(&self.bytes_in, bytes_in), (&self.bytes_out, bytes_out)] {
            if n > 0 {
                self.add(tree, path, n as f64);
            }
        }
    }
}

/// Pipy's bounds for `pipy_outbound_conn_time`, in milliseconds: floor(1.5^k) for k = 1..20,
/// then infinity.
fn conn_time_buckets() -> Vec<f64> {
    let mut bounds: Vec<f64> = (1..=20).map(|k| 1.5f64.powi(k).floor()).collect();
    bounds.push(f64::INFINITY);
    bounds
}

thread_local! {
    static INBOUND: Traffic = Traffic::new("pipy_inbound", &["listen", "peer"], true);
    static OUTBOUND: Traffic = Traffic::new("pipy_outbound", &["protocol", "peer"], false);
    static CONN_TIME: (Tree, Vec<f64>) = {
        let buckets = conn_time_buckets();
        let labels = vec!["protocol".to_string(), "peer".to_string()];
        let tree = family("pipy_outbound_conn_time", Kind::Histogram(buckets.clone()), labels);
        (tree.map(|f| f.tree()).unwrap_or_default(), buckets)
    };
    static PIPELINES: Tree = {
        let labels = vec!["module".to_string(), "name".to_string()];
        family("pipy_pipeline_count", Kind::Gauge, labels).map(|f| f.tree()).unwrap_or_default()
    };
    /// This thread's open connections, for their bytes at collection.
    static OPEN: RefCell<slab::Slab<Open>> = const { RefCell::new(slab::Slab::new()) };
    /// The layouts that ever had a pipeline on this thread.
    static LAYOUTS: RefCell<Vec<Weak<Layout>>> = const { RefCell::new(Vec::new()) };
}

/// Makes the runtime's families, so that they come first and keep their names.
pub fn runtime_series() {
    INBOUND.with(|_| {});
    OUTBOUND.with(|_| {});
    CONN_TIME.with(|_| {});
    PIPELINES.with(|_| {});
}

/// A listener's label, as Pipy writes it.
pub fn listener_label(addr: std::net::SocketAddr) -> String {
    format!("[{}]:{}/TCP", addr.ip(), addr.port())
}

/// Where a connection's pump counts its bytes: received and sent so far.
pub trait Flow {
    fn bytes(&self) -> (u64, u64);
}

/// A label: a constant, or one shared with its owner (a listener's, a target's).
#[derive(Clone)]
pub enum Label {
    Static(&'static str),
    Shared(Rc<str>),
}

impl Label {
    fn as_str(&self) -> &str {
        match self {
            Label::Static(s) => s,
            Label::Shared(s) => s,
        }
    }
}

struct Open {
    inbound: bool,
    path: [Label; 2],
    depth: usize,
    flow: Rc<dyn Flow>,
    /// The bytes already added to the series.
    reported: (u64, u64),
}

impl Open {
    /// Nothing once the thread's series are gone (its last tasks dropped as it ends).
    fn traffic(&self, f: impl FnOnce(&Traffic, &[&str])) {
        let path = [self.path[0].as_str(), self.path[1].as_str()];
        let path = &path[..self.depth];
        let _ = if self.inbound { INBOUND.try_with(|t| f(t, path)) } else { OUTBOUND.try_with(|t| f(t, path)) };
    }

    /// Adds the bytes counted since the last report.
    fn report(&mut self) {
        let (received, sent) = self.flow.bytes();
        let (r, s) = (received.saturating_sub(self.reported.0), sent.saturating_sub(self.reported.1));
        if r > 0 || s > 0 {
            self.reported = (received, sent);
            self.traffic(|t, path| t.bytes(path, r, s));
        }
    }
}

/// An open connection in the runtime's series: counted from `inbound`/`outbound` until
/// dropped (however its task ends); its bytes are added at each collection and at the end.
pub struct Connection {
    key: Option<usize>,
    path: [Label; 2],
    depth: usize,
}

impl Connection {
    /// Under the listener, and under the peer's address below it when given (`peerStats`).
    pub fn inbound(listen: Rc<str>, peer: Option<Rc<str>>, flow: Rc<dyn Flow>) -> Connection {
        let depth = if peer.is_some() { 2 } else { 1 };
        let path = [Label::Shared(listen), peer.map_or(Label::Static(""), Label::Shared)];
        Connection::open(true, path, depth, flow)
    }

    pub fn outbound(protocol: &'static str, peer: Rc<str>, flow: Rc<dyn Flow>) -> Connection {
        Connection::open(false, [Label::Static(protocol), Label::Shared(peer)], 2, flow)
    }

    fn open(inbound: bool, path: [Label; 2], depth: usize, flow: Rc<dyn Flow>) -> Connection {
        let open = Open { inbound, path: path.clone(), depth, flow, reported: (0, 0) };
        open.traffic(|t, path| t.add(&t.count, path, 1.0));
        let key = OPEN.try_with(|o| o.borrow_mut().insert(open)).ok();
        Connection { key, path, depth }
    }

    /// How long the upstream connection took to connect, in `pipy_outbound_conn_time`.
    pub fn connected_in(&self, took: std::time::Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        let path = [self.path[0].as_str(), self.path[1].as_str()];
        let path = &path[..self.depth];
        let _ = CONN_TIME.try_with(|(tree, buckets)| {
            let mut t = tree.lock().unwrap();
            t.observe(buckets, ms);
            t.at(path).observe(buckets, ms);
        });
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let open = OPEN.try_with(|o| o.borrow_mut().try_remove(key)).ok().flatten();
        if let Some(mut open) = open {
            open.report();
            open.traffic(|t, path| t.add(&t.count, path, -1.0));
        }
    }
}

/// A pipeline of `layout` started: counted in `pipy_pipeline_count` until [`pipeline_ended`].
pub fn pipeline_started(layout: &Rc<Layout>) {
    layout.active.set(layout.active.get() + 1);
    if !layout.listed.replace(true) {
        let _ = LAYOUTS.try_with(|l| l.borrow_mut().push(Rc::downgrade(layout)));
    }
}

pub fn pipeline_ended(layout: &Layout) {
    layout.active.set(layout.active.get().saturating_sub(1));
}

/// Brings this thread's series up to date: the bytes of open connections, the pipelines
/// running now, and the script's gauges that have a callback (through the host).
pub fn collect_here() {
    let _ = OPEN.try_with(|o| o.borrow_mut().iter_mut().for_each(|(_, open)| open.report()));
    let _ = LAYOUTS.try_with(|l| {
        let mut l = l.borrow_mut();
        l.retain(|w| w.strong_count() > 0);
        let _ = PIPELINES.try_with(|tree| count_pipelines(&mut tree.lock().unwrap(), &l));
    });
    super::host::host().collect_metrics();
}

/// Pipy's `pipy_pipeline_count`: the pipelines of each layout running now, and their total.
/// Layouts with none left print 0 rather than their last count.
fn count_pipelines(tree: &mut Node, layouts: &[Weak<Layout>]) {
    tree.zero(&Kind::Gauge);
    let mut total = 0;
    for layout in layouts.iter().filter_map(Weak::upgrade) {
        let n = layout.active.get();
        if n > 0 {
            tree.at(&[layout.module.as_str(), layout.name.as_str()]).add(n as f64);
            total += n;
        }
    }
    tree.set(total as f64);
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    struct Fixed(Cell<(u64, u64)>);

    impl Flow for Fixed {
        fn bytes(&self) -> (u64, u64) {
            self.0.get()
        }
    }

    fn line(name: &str, labels: &str) -> Option<String> {
        let prefix = format!("{name}{{{labels}}} ");
        super::super::metrics::render().lines().find(|l| l.starts_with(&prefix)).map(|l| l[prefix.len()..].to_string())
    }

    #[test]
    fn bytes_of_an_open_connection_count_at_each_collection_and_once() {
        runtime_series();
        let flow = Rc::new(Fixed(Cell::new((0, 0))));
        let c = Connection::inbound(Rc::from("t-live"), None, flow.clone());
        flow.0.set((10, 3));
        assert_eq!(line("pipy_inbound_in", "listen=\"t-live\""), None);
        collect_here();
        assert_eq!(line("pipy_inbound_in", "listen=\"t-live\"").as_deref(), Some("10"));
        flow.0.set((15, 3));
        drop(c);
        assert_eq!(line("pipy_inbound_in", "listen=\"t-live\"").as_deref(), Some("15"));
        assert_eq!(line("pipy_inbound_out", "listen=\"t-live\"").as_deref(), Some("3"));
        assert_eq!(line("pipy_inbound_count", "listen=\"t-live\"").as_deref(), Some("0"));
    }
}
