//! The sessions the generic `mux` and `muxFastCGI` share: a session is one instance of the
//! filter's sub-pipeline (usually a `connect`), found by the session selector's key, and
//! used by as many client pipelines as `maxQueue` lets at once and `maxMessages` in all.
//! A session nobody uses closes after `maxIdle`; one whose pipeline ended is out of its
//! pool, and the next message makes a new one. What travels over a session (whole messages
//! in order, FastCGI records) is the [`Protocol`]'s business.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

use boa_engine::{JsObject, JsResult, JsValue};

use crate::args::Options;
use crate::engine::{Callback, Event, EventSink, FilterEnv, Layout, Pipeline, host};

/// Pipy's `maxIdle`, `maxQueue` and `maxMessages`.
#[derive(Clone, Copy)]
pub(super) struct PoolOptions {
    pub max_idle: Duration,
    /// Client pipelines sharing one session at a time; 0 is unlimited.
    pub max_queue: usize,
    /// Client pipelines a session serves in all; 0 is unlimited.
    pub max_messages: usize,
}

impl PoolOptions {
    pub fn read(o: &mut Options<'_>) -> JsResult<PoolOptions> {
        Ok(PoolOptions {
            max_idle: o.duration("maxIdle")?.unwrap_or(Duration::from_secs(60)),
            max_queue: o.count("maxQueue")?.unwrap_or(1),
            max_messages: o.count("maxMessages")?.unwrap_or(0),
        })
    }
}

/// A session key. Object keys are compared by identity and kept alive by their session.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Context(u64),
    Text(String),
    Object(usize),
}

/// The session selector's answer for a client pipeline.
#[derive(Clone)]
pub(super) struct Selected {
    pub key: Key,
    pub object: Option<JsObject>,
    /// What the session's pipeline starts with (`onStart`'s argument): the selector's answer.
    pub value: JsValue,
}

/// Asks `selector` for the key; with none, or an `undefined` answer, the client's connection
/// is the key, as in Pipy.
pub(super) fn select(selector: Option<&Callback>, env: &FilterEnv, filter: &str) -> Selected {
    let context = &env.context;
    let value = match selector {
        Some(f) => host().call(context, f, &[]).unwrap_or_else(|e| {
            tracing::error!(target: "pipeline", "{filter} session selector: {e}");
            JsValue::undefined()
        }),
        None => JsValue::undefined(),
    };
    let key = if let Some(obj) = value.as_object() {
        Key::Object(obj.as_ref() as *const _ as *const u8 as usize)
    } else if value.is_null_or_undefined() {
        Key::Context(context.inbound.as_ref().map(|i| i.id).unwrap_or(context.id))
    } else {
        Key::Text(host().to_text(&value).unwrap_or_default())
    };
    Selected { key, object: value.as_object(), value }
}

/// What a kind of session does with the events its pipeline puts out.
pub(super) trait Protocol: Sized + 'static {
    fn new() -> Self;
    /// An event from the session's pipeline (the upstream's answer).
    fn reply(session: &Rc<Session<Self>>, evt: Event);
}

pub(super) struct Session<P> {
    key: Key,
    /// Shared with whoever is feeding it, so that closing the session while its pipeline
    /// is busy (its own end coming out) leaves the pipeline to the caller until it returns.
    pipeline: RefCell<Option<Rc<Pipeline>>>,
    pub proto: P,
    share: Cell<usize>,
    messages: Cell<usize>,
    closed: Cell<bool>,
    /// Since when no client pipeline uses the session.
    idle_since: Cell<Option<tokio::time::Instant>>,
    /// The one idle timer, aborted when the session closes.
    timer: RefCell<Option<tokio::task::AbortHandle>>,
    pool: Weak<Pool<P>>,
    _key_object: Option<JsObject>,
}

impl<P: Protocol> Session<P> {
    /// Events into the session's pipeline (towards the upstream).
    pub fn input(&self, evt: Event) {
        let p = self.pipeline.borrow().clone();
        if let Some(p) = p {
            p.input(evt);
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Out of its pool: no client pipeline is given it any more.
    pub fn detach(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.timer.take().inspect(tokio::task::AbortHandle::abort);
        if let Some(pool) = self.pool.upgrade() {
            let mut sessions = pool.sessions.borrow_mut();
            if let Some(list) = sessions.get_mut(&self.key) {
                list.retain(|s| !std::ptr::eq(&**s, self));
                if list.is_empty() {
                    sessions.remove(&self.key);
                }
            }
        }
    }

    /// Detaches the session and drops its pipeline (closing a `connect` in it).
    pub fn close(&self) {
        self.detach();
        self.pipeline.borrow_mut().take();
    }

    /// A client pipeline is done with the session.
    pub fn release(self: &Rc<Self>) {
        self.share.set(self.share.get().saturating_sub(1));
        let Some(pool) = self.pool.upgrade() else { return };
        if self.share.get() > 0 || self.closed.get() {
            return;
        }
        let o = pool.options;
        if o.max_messages > 0 && self.messages.get() >= o.max_messages {
            return self.close();
        }
        self.idle_since.set(Some(tokio::time::Instant::now()));
        if self.timer.borrow().is_none() {
            *self.timer.borrow_mut() = Some(idle_timer(Rc::downgrade(self), o.max_idle));
        }
    }
}

/// Closes the session once it has been idle for `idle`, however often it was taken and
/// released meanwhile.
fn idle_timer<P: Protocol>(weak: Weak<Session<P>>, idle: Duration) -> tokio::task::AbortHandle {
    let task = tokio::task::spawn_local(async move {
        while let Some(since) = weak.upgrade().and_then(|s| s.idle_since.get()) {
            tokio::time::sleep_until(since + idle).await;
            let Some(s) = weak.upgrade() else { return };
            match s.idle_since.get() {
                Some(since) if since + idle <= tokio::time::Instant::now() => {
                    s.timer.take();
                    return s.close();
                }
                Some(_) => continue,
                None => break,
            }
        }
        if let Some(s) = weak.upgrade() {
            s.timer.take();
        }
    });
    task.abort_handle()
}

/// Where a session's pipeline output goes.
struct Sink<P>(RefCell<Weak<Session<P>>>);

impl<P: Protocol> EventSink for Sink<P> {
    fn on_event(&self, evt: Event) {
        let session = self.0.borrow().upgrade();
        if let Some(s) = session {
            P::reply(&s, evt);
        }
    }
}

/// Sessions by key: a fast hasher, seeded per map (keys can come from clients).
type ByKey<P> = HashMap<Key, Vec<Rc<Session<P>>>, foldhash::fast::RandomState>;

/// The sessions of one filter of a layout, by key.
pub(super) struct Pool<P> {
    sub: Rc<Layout>,
    options: PoolOptions,
    sessions: RefCell<ByKey<P>>,
}

impl<P: Protocol> Pool<P> {
    pub fn new(sub: Rc<Layout>, options: PoolOptions) -> Rc<Pool<P>> {
        Rc::new(Pool { sub, options, sessions: RefCell::default() })
    }

    /// A session for the client pipeline of `env`: the least shared one with room under
    /// that key, or a new one.
    pub fn alloc(self: &Rc<Self>, selected: Selected, env: &FilterEnv) -> Rc<Session<P>> {
        let o = self.options;
        let found = self.sessions.borrow().get(&selected.key).and_then(|list| {
            list.iter()
                .filter(|s| {
                    (o.max_queue == 0 || s.share.get() < o.max_queue)
                        && (o.max_messages == 0 || s.messages.get() < o.max_messages)
                })
                .min_by_key(|s| s.share.get())
                .cloned()
        });
        let session = found.unwrap_or_else(|| self.open(selected, env));
        session.share.set(session.share.get() + 1);
        session.messages.set(session.messages.get() + 1);
        session.idle_since.set(None);
        session
    }

    fn open(self: &Rc<Self>, selected: Selected, env: &FilterEnv) -> Rc<Session<P>> {
        let sink = Rc::new(Sink(RefCell::new(Weak::new())));
        let session = Rc::new(Session {
            key: selected.key.clone(),
            pipeline: RefCell::new(None),
            proto: P::new(),
            share: Cell::new(0),
            messages: Cell::new(0),
            closed: Cell::new(false),
            idle_since: Cell::new(None),
            timer: RefCell::new(None),
            pool: Rc::downgrade(self),
            _key_object: selected.object,
        });
        *sink.0.borrow_mut() = Rc::downgrade(&session);
        // A session keyed by its client connection has no one left to serve once that
        // connection is gone (Pipy's weak keys).
        if let (Key::Context(_), Some(inbound)) = (&session.key, &env.context.inbound) {
            let weak = Rc::downgrade(&session);
            inbound.on_close(Box::new(move || {
                if let Some(s) = weak.upgrade() {
                    s.close();
                }
            }));
        }
        self.sessions.borrow_mut().entry(selected.key).or_default().push(session.clone());
        // The session shares the context of the client pipeline that made it, as in Pipy.
        let p = Rc::new(Pipeline::new(self.sub.clone(), env.context.clone(), sink));
        *session.pipeline.borrow_mut() = Some(p.clone());
        let args = if selected.value.is_undefined() { vec![] } else { vec![selected.value] };
        p.start(&args);
        session
    }
}
