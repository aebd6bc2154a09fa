//! The token bucket behind `algo.Quota(initial, { per, max, produce, key })` (the JS class is
//! `js/algo/quota.rs`), which the throttle filters spend at traffic time.
//!
//! `consume(n)` takes up to `n` tokens and returns how many it got. The first consumption
//! after a refill arms a timer: `per` seconds later the bucket is refilled to `initial` (or
//! by `produce` at most, the timer then staying armed until it is full). `max` caps
//! `produce(n)`. Consumers that could not get what they wanted wait in a queue and are
//! resumed in order whenever tokens come back (the throttle filters wait here).
//!
//! Quotas with the same `key` share their tokens across all worker threads: the bucket lives
//! behind a lock, and each thread with waiting consumers listens for its refills.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Someone waiting for tokens.
pub trait Consumer {
    /// Tokens came back: take what is needed. Returns whether it is satisfied (else it keeps
    /// its place at the head of the queue).
    fn resume(&self) -> bool;
}

/// The numbers of a bucket.
#[derive(Clone, Copy)]
pub struct Tokens {
    initial: f64,
    max: f64,
    produce: f64,
    per: Option<Duration>,
    current: f64,
    scheduled: bool,
}

impl Tokens {
    /// A full bucket of `initial` tokens with no refill and no cap: `algo.Quota(initial)`.
    pub fn new(initial: f64) -> Tokens {
        Tokens { initial, max: f64::INFINITY, produce: 0.0, per: None, current: initial, scheduled: false }
    }

    /// At most `max` tokens.
    pub fn max(self, max: f64) -> Tokens {
        Tokens { max, ..self }
    }

    /// Refills add `produce` tokens at most (all that is missing when 0).
    pub fn produce_per_refill(self, produce: f64) -> Tokens {
        Tokens { produce, ..self }
    }

    /// Refilled `per` after the first consumption since the last refill.
    pub fn per(self, per: Option<Duration>) -> Tokens {
        Tokens { per, ..self }
    }

    fn consume(&mut self, n: f64) -> f64 {
        if n <= 0.0 || n.is_nan() {
            return 0.0;
        }
        let n = n.min(self.current);
        self.current -= n;
        n
    }

    fn produce(&mut self, n: f64) -> bool {
        if n <= 0.0 || n.is_nan() {
            return false;
        }
        self.current = self.max.min(self.current + n);
        true
    }

    /// What the refill timer adds, and whether it must be armed again.
    fn refill(&mut self) -> bool {
        self.scheduled = false;
        let missing = self.initial - self.current;
        let partial = self.produce > 0.0 && self.produce < missing;
        self.produce(if partial { self.produce } else { missing });
        partial
    }
}

/// A bucket shared by key between threads.
struct Shared {
    tokens: Mutex<Tokens>,
    refilled: tokio::sync::Notify,
}

fn shared(key: &str, t: Tokens) -> Arc<Shared> {
    static KEYS: OnceLock<Mutex<HashMap<String, std::sync::Weak<Shared>>>> = OnceLock::new();
    let mut keys = KEYS.get_or_init(Default::default).lock().unwrap();
    keys.retain(|_, w| w.strong_count() > 0);
    if let Some(s) = keys.get(key).and_then(|w| w.upgrade()) {
        // As in Pipy, a new Quota with the key re-configures the shared one.
        let mut old = s.tokens.lock().unwrap();
        let grown = (t.initial - old.initial).max(0.0);
        *old = Tokens { current: (old.current + grown).min(t.max), scheduled: old.scheduled, ..t };
        drop(old);
        return s;
    }
    let s = Arc::new(Shared { tokens: Mutex::new(t), refilled: tokio::sync::Notify::new() });
    keys.insert(key.to_string(), Arc::downgrade(&s));
    s
}

/// The state behind an `algo.Quota`.
pub struct Bucket {
    own: Cell<Tokens>,
    shared: Option<Arc<Shared>>,
    consumers: RefCell<VecDeque<Rc<dyn Consumer>>>,
    /// A task of this thread listens for refills of the shared bucket.
    listening: Cell<bool>,
    me: Weak<Bucket>,
}

impl Bucket {
    /// A bucket of its own, or the one shared by all quotas with `key` on any thread.
    pub fn new(t: Tokens, key: Option<&str>) -> Rc<Bucket> {
        Rc::new_cyclic(|me| Bucket {
            own: Cell::new(t),
            shared: key.map(|k| shared(k, t)),
            consumers: RefCell::new(VecDeque::new()),
            listening: Cell::new(false),
            me: me.clone(),
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Tokens) -> R) -> R {
        match &self.shared {
            Some(s) => f(&mut s.tokens.lock().unwrap()),
            None => {
                let mut t = self.own.get();
                let r = f(&mut t);
                self.own.set(t);
                r
            }
        }
    }

    pub fn initial(&self) -> f64 {
        self.with(|t| t.initial)
    }

    pub fn current(&self) -> f64 {
        self.with(|t| t.current)
    }

    /// Takes up to `n` tokens; returns how many were taken.
    pub fn consume(&self, n: f64) -> f64 {
        let (taken, arm) = self.with(|t| {
            let taken = t.consume(n);
            let arm = n > 0.0 && t.per.is_some() && !t.scheduled;
            if arm {
                t.scheduled = true;
            }
            (taken, t.per.filter(|_| arm))
        });
        if let Some(per) = arm {
            self.arm(per);
        }
        taken
    }

    pub fn produce(&self, n: f64) {
        if self.with(|t| t.produce(n)) {
            self.produced();
        }
    }

    /// Back to `initial` tokens (keyed quotas are left alone, as in Pipy).
    pub fn reset(&self) {
        if self.shared.is_some() {
            return;
        }
        let missing = self.with(|t| {
            if t.current >= t.initial {
                t.current = t.initial;
                0.0
            } else {
                t.initial - t.current
            }
        });
        self.produce(missing);
    }

    /// Queues `c` to be resumed when tokens come back (once, however often it asks).
    pub fn wait(&self, c: Rc<dyn Consumer>) {
        let mut consumers = self.consumers.borrow_mut();
        if !consumers.iter().any(|x| Rc::ptr_eq(x, &c)) {
            consumers.push_back(c);
        }
        drop(consumers);
        if let Some(s) = &self.shared
            && !self.listening.replace(true)
        {
            tokio::task::spawn_local(listen(s.clone(), self.me.clone()));
        }
    }

    /// The refill timer: `per` later, tokens come back.
    fn arm(&self, per: Duration) {
        match &self.shared {
            Some(s) => {
                let s = s.clone();
                tokio::task::spawn_local(async move {
                    tokio::time::sleep(per).await;
                    refill_shared(&s, per);
                });
            }
            None => {
                let me = self.me.clone();
                tokio::task::spawn_local(async move {
                    tokio::time::sleep(per).await;
                    if let Some(b) = me.upgrade() {
                        if b.with(|t| t.refill()) {
                            b.with(|t| t.scheduled = true);
                            b.arm(per);
                        }
                        b.produced();
                    }
                });
            }
        }
    }

    /// Resumes waiting consumers in order while tokens last.
    fn produced(&self) {
        if let Some(s) = &self.shared {
            s.refilled.notify_waiters();
            return;
        }
        self.serve();
    }

    fn serve(&self) {
        loop {
            let Some(c) = self.consumers.borrow_mut().pop_front() else { return };
            if !c.resume() {
                self.consumers.borrow_mut().push_front(c);
                return;
            }
            if self.current() <= 0.0 {
                return;
            }
        }
    }
}

fn refill_shared(s: &Arc<Shared>, per: Duration) {
    let again = {
        let mut t = s.tokens.lock().unwrap();
        let again = t.refill();
        t.scheduled = again;
        again
    };
    s.refilled.notify_waiters();
    if again {
        let s = s.clone();
        tokio::task::spawn_local(async move {
            tokio::time::sleep(per).await;
            refill_shared(&s, per);
        });
    }
}

/// Serves this thread's consumers of a shared bucket whenever any thread refills it.
async fn listen(s: Arc<Shared>, bucket: Weak<Bucket>) {
    loop {
        let refilled = s.refilled.notified();
        tokio::pin!(refilled);
        refilled.as_mut().enable();
        let Some(b) = bucket.upgrade() else { return };
        if b.consumers.borrow().is_empty() {
            b.listening.set(false);
            return;
        }
        if b.current() > 0.0 {
            b.serve();
            if b.consumers.borrow().is_empty() || b.current() <= 0.0 {
                drop(b);
                refilled.await;
            }
            continue;
        }
        drop(b);
        refilled.await;
    }
}

#[cfg(test)]
mod tests {
    use super::Tokens;

    fn tokens(initial: f64, produce: f64, max: f64) -> Tokens {
        Tokens::new(initial).produce_per_refill(produce).max(max)
    }

    #[test]
    fn consume_takes_what_there_is() {
        let mut t = tokens(10.0, 0.0, f64::INFINITY);
        assert_eq!(t.consume(4.0), 4.0);
        assert_eq!(t.consume(100.0), 6.0);
        assert_eq!(t.consume(1.0), 0.0);
        assert_eq!(t.consume(-1.0), 0.0);
    }

    #[test]
    fn a_refill_goes_back_to_initial_or_by_produce_at_most() {
        let mut t = tokens(10.0, 0.0, f64::INFINITY);
        t.consume(10.0);
        assert!(!t.refill());
        assert_eq!(t.current, 10.0);

        let mut t = tokens(10.0, 3.0, f64::INFINITY);
        t.consume(10.0);
        assert!(t.refill(), "still short of initial: the timer stays armed");
        assert_eq!(t.current, 3.0);
        t.refill();
        t.refill();
        assert!(!t.refill());
        assert_eq!(t.current, 10.0);
    }

    #[test]
    fn produce_is_capped_by_max() {
        let mut t = tokens(10.0, 0.0, 12.0);
        t.produce(20.0);
        assert_eq!(t.current, 12.0);
    }
}
