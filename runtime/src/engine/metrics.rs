//! Metrics as Pipy keeps them (`stats.Counter`, `stats.Gauge`, `stats.Histogram` and the
//! runtime's `pipy_inbound_*`/`pipy_outbound_*` series), rendered in the Prometheus text
//! format for the admin port.
//!
//! A metric is a tree: the root holds the value without labels, each level below holds the
//! values for one more label, and a node has a value only once something was recorded at it
//! (Pipy prints only those). Every recording place (a worker thread's script object, or a
//! thread's runtime series) owns a tree of its own behind its own lock, so recording never
//! contends across threads; the admin port sums the trees of a name, as Pipy sums its
//! workers' metrics.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, LazyLock, Mutex};

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Counter,
    Gauge,
    /// Upper bounds of the buckets, in order.
    Histogram(Vec<f64>),
}

impl Kind {
    fn type_name(&self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram(_) => "histogram",
        }
    }
}

/// All the trees recorded under one name.
pub struct Family {
    pub name: String,
    pub kind: Kind,
    pub label_names: Vec<String>,
    trees: Mutex<Vec<Tree>>,
}

pub type Tree = Arc<Mutex<Node>>;

#[derive(Default, Clone)]
pub struct Node {
    value: Option<Value>,
    /// Children in the order they were first recorded, with an index by label value.
    subs: Vec<(String, Node)>,
    /// foldhash rather than SipHash: every connection's open and close finds its nodes by
    /// label here (issue 24); its per-process random seed still keeps label values a peer
    /// chose (a `peerStats` address) from being aimed at one bucket.
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    /// The child found last: a node with one label value below it (a listener, a `connect`
    /// target) finds it again with one comparison, no hash.
    last: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    One(f64),
    /// Per-bucket counts (not cumulative), how many observations and their sum.
    Histogram {
        counts: Vec<u64>,
        count: u64,
        sum: f64,
    },
}

static FAMILIES: LazyLock<Mutex<Vec<Arc<Family>>>> = LazyLock::new(|| Mutex::new(Vec::new()));

/// The family named `name`, made if new. The same name with another kind or other labels is
/// an error, as two series of one name could not be told apart.
pub fn family(name: &str, kind: Kind, label_names: Vec<String>) -> Result<Arc<Family>, String> {
    let mut all = FAMILIES.lock().unwrap();
    if let Some(f) = all.iter().find(|f| f.name == name) {
        if f.kind != kind || f.label_names != label_names {
            return Err(format!(
                "metric {name} already exists as a {} with labels {:?}",
                f.kind.type_name(),
                f.label_names
            ));
        }
        return Ok(f.clone());
    }
    let f = Arc::new(Family { name: name.to_string(), kind, label_names, trees: Mutex::new(Vec::new()) });
    all.push(f.clone());
    Ok(f)
}

impl Family {
    /// A new tree of this family for one recording place.
    pub fn tree(&self) -> Tree {
        let t = Tree::default();
        self.trees.lock().unwrap().push(t.clone());
        t
    }
}

impl Node {
    /// The node at `path` (label values from the root), made if new.
    /// Takes borrowed values, so that finding a node that exists (every connection's open and
    /// close) allocates nothing.
    pub fn at<S: AsRef<str>>(&mut self, path: &[S]) -> &mut Node {
        let Some((first, rest)) = path.split_first() else { return self };
        let first = first.as_ref();
        let i = if self.subs.get(self.last).is_some_and(|(k, _)| k == first) {
            self.last
        } else if let Some(&i) = self.index.get(first) {
            i
        } else {
            self.subs.push((first.to_string(), Node::default()));
            self.index.insert(first.to_string(), self.subs.len() - 1);
            self.subs.len() - 1
        };
        self.last = i;
        self.subs[i].1.at(rest)
    }

    pub fn value(&self) -> f64 {
        match &self.value {
            Some(Value::One(v)) => *v,
            Some(Value::Histogram { count, .. }) => *count as f64,
            None => 0.0,
        }
    }

    pub fn add(&mut self, n: f64) {
        self.value = Some(Value::One(self.value() + n));
    }

    pub fn set(&mut self, n: f64) {
        self.value = Some(Value::One(n));
    }

    /// Zero here and in every node below.
    pub fn zero(&mut self, kind: &Kind) {
        self.value = Some(match kind {
            Kind::Histogram(b) => Value::Histogram { counts: vec![0; b.len()], count: 0, sum: 0.0 },
            _ => Value::One(0.0),
        });
        self.subs.iter_mut().for_each(|(_, n)| n.zero(kind));
    }

    /// Forgets the nodes below.
    pub fn clear(&mut self) {
        self.subs.clear();
        self.index.clear();
    }

    /// Counts `x` into the first bucket it is at or below; above every bound, only into the
    /// count and the sum (Pipy's buckets usually end with Infinity).
    pub fn observe(&mut self, buckets: &[f64], x: f64) {
        if !matches!(self.value, Some(Value::Histogram { .. })) {
            self.value = Some(Value::Histogram { counts: vec![0; buckets.len()], count: 0, sum: 0.0 });
        }
        if let Some(Value::Histogram { counts, count, sum }) = &mut self.value {
            if let Some(i) = buckets.iter().position(|b| x <= *b) {
                counts[i] += 1;
            }
            *count += 1;
            *sum += x;
        }
    }

    /// Adds `other` into this node, key by key.
    fn merge(&mut self, other: &Node) {
        self.value = match (self.value.take(), &other.value) {
            (None, v) => v.clone(),
            (v, None) => v,
            (Some(Value::One(a)), Some(Value::One(b))) => Some(Value::One(a + b)),
            (
                Some(Value::Histogram { counts, count, sum }),
                Some(Value::Histogram { counts: c2, count: n2, sum: s2 }),
            ) => {
                let counts = counts.iter().zip(c2).map(|(a, b)| a + b).collect();
                Some(Value::Histogram { counts, count: count + n2, sum: sum + s2 })
            }
            (v, _) => v,
        };
        for (key, sub) in &other.subs {
            self.at(std::slice::from_ref(key)).merge(sub);
        }
    }
}

/// Every family in the Prometheus text format, in the order they were first made, each
/// with its trees summed.
pub fn render() -> String {
    let families: Vec<Arc<Family>> = FAMILIES.lock().unwrap().clone();
    let mut out = String::new();
    for f in families {
        let mut sum = Node::default();
        for t in f.trees.lock().unwrap().iter() {
            sum.merge(&t.lock().unwrap());
        }
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.type_name());
        let mut labels = Vec::new();
        write_node(&mut out, &f, &sum, &mut labels);
    }
    budget_series(&mut out);
    out
}

/// Weir's own: the bytes all connections hold in queues now, and the budget for them
/// (`--max-buffer`; absent when there is none).
fn budget_series(out: &mut String) {
    let budget = &super::budget::BUDGET;
    let _ = writeln!(out, "# TYPE weir_buffer_held_bytes gauge\nweir_buffer_held_bytes {}", budget.held());
    if budget.max() != usize::MAX {
        let _ = writeln!(out, "# TYPE weir_buffer_budget_bytes gauge\nweir_buffer_budget_bytes {}", budget.max());
    }
}

fn write_node(out: &mut String, f: &Family, node: &Node, labels: &mut Vec<String>) {
    match (&node.value, &f.kind) {
        (Some(Value::One(v)), _) => write_sample(out, &f.name, labels, None, *v),
        (Some(Value::Histogram { counts, count, sum }), Kind::Histogram(buckets)) => {
            let mut cumulative = 0;
            for (bound, n) in buckets.iter().zip(counts) {
                cumulative += n;
                let name = format!("{}_bucket", f.name);
                write_sample(out, &name, labels, Some(&number(*bound)), cumulative as f64);
            }
            write_sample(out, &format!("{}_count", f.name), labels, None, *count as f64);
            write_sample(out, &format!("{}_sum", f.name), labels, None, *sum);
        }
        _ => {}
    }
    if labels.len() < f.label_names.len() {
        for (key, sub) in &node.subs {
            labels.push(format!("{}=\"{}\"", f.label_names[labels.len()], escape(key)));
            write_node(out, f, sub, labels);
            labels.pop();
        }
    }
}

fn write_sample(out: &mut String, name: &str, labels: &[String], le: Option<&str>, v: f64) {
    out.push_str(name);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        out.push_str(&labels.join(","));
        if let Some(le) = le {
            if !labels.is_empty() {
                out.push(',');
            }
            let _ = write!(out, "le=\"{le}\"");
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", number(v));
}

/// A number as Pipy prints it: integers without a fraction, `Inf` and `NaN` by name (Pipy's
/// bucket labels; Prometheus itself reads `+Inf`).
fn number(v: f64) -> String {
    match v {
        v if v.is_nan() => "NaN".into(),
        v if v.is_infinite() => if v > 0.0 { "Inf" } else { "-Inf" }.into(),
        v => format!("{v}"),
    }
}

/// A label value inside double quotes, as the Prometheus text format escapes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

pub use super::series::{Connection, Flow, listener_label, runtime_series};

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn trees_of_one_name_are_summed_and_only_recorded_nodes_print() {
        let f = family("t_requests_total", Kind::Counter, s(&["path", "code"])).unwrap();
        let (a, b) = (f.tree(), f.tree());
        a.lock().unwrap().add(1.0);
        a.lock().unwrap().at(&s(&["/a", "200"])).add(1.0);
        b.lock().unwrap().at(&s(&["/a", "200"])).add(2.0);
        b.lock().unwrap().at(&s(&["/b"])).add(5.0);
        let text = render();
        let mine: Vec<&str> = text.lines().filter(|l| l.contains("t_requests_total")).collect();
        assert_eq!(
            mine,
            [
                "# TYPE t_requests_total counter",
                "t_requests_total 1",
                "t_requests_total{path=\"/a\",code=\"200\"} 3",
                "t_requests_total{path=\"/b\"} 5",
            ]
        );
    }

    #[test]
    fn a_histogram_prints_cumulative_buckets_count_and_sum() {
        let f = family("t_latency", Kind::Histogram(vec![1.0, 10.0, f64::INFINITY]), s(&["route"])).unwrap();
        let t = f.tree();
        for x in [0.5, 3.0, 7.0, 20.0] {
            t.lock().unwrap().at(&s(&["r\"1"])).observe(&[1.0, 10.0, f64::INFINITY], x);
        }
        let text = render();
        let mine: Vec<&str> = text.lines().filter(|l| l.contains("t_latency")).collect();
        assert_eq!(
            mine,
            [
                "# TYPE t_latency histogram",
                "t_latency_bucket{route=\"r\\\"1\",le=\"1\"} 1",
                "t_latency_bucket{route=\"r\\\"1\",le=\"10\"} 3",
                "t_latency_bucket{route=\"r\\\"1\",le=\"Inf\"} 4",
                "t_latency_count{route=\"r\\\"1\"} 4",
                "t_latency_sum{route=\"r\\\"1\"} 30.5",
            ]
        );
    }

    #[test]
    fn one_name_cannot_be_two_kinds() {
        family("t_twice", Kind::Counter, vec![]).unwrap();
        let e = family("t_twice", Kind::Gauge, vec![]).err().unwrap();
        assert!(e.contains("t_twice already exists as a counter"), "{e}");
    }
}
