//! Legacy plugins: `chain(modules)` runs the entrance pipelines (`.pipeline()`) of a list of
//! modules one after another, sharing the context; inside one of them, `chain()` passes the
//! events on to the next module of the list, or straight through after the last.
//!
//! A module's layout is built once per worker and may sit in several lists, so the position
//! in the list belongs to the running stream, not to the layout: the chain filter records
//! (list, next position) in a context slot before it starts a module, and a `chain()` in that
//! module reads it when it is instantiated. Pipy keeps it on the pipeline instead; the slot is
//! shared by the sub-pipelines of the module (`branch`, `link`), which is where `chain()` is.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use boa_engine::object::builtins::JsArray;
use boa_engine::{JsResult, JsValue};

use crate::args::Args;
use crate::engine::Sub;
use crate::engine::{Event, Filter, FilterEnv, FilterSpec, Layout, Output};
use crate::filters::Made;
use crate::js::{modules, type_error, vars};

type List = Rc<[Rc<Layout>]>;

thread_local! {
    /// Every chain list of this worker, by id (the filters hold them).
    static LISTS: RefCell<Vec<Weak<[Rc<Layout>]>>> = const { RefCell::new(Vec::new()) };
}

/// Not a JS identifier, so no script variable shares it.
const SLOT: &str = "chain position";
/// The context slot value packs the list id above the position.
const SHIFT: f64 = 1048576.0;

/// `chain(paths)` / `chain()`.
pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let first = args.value(0);
    let Some(arr) = first.as_object().filter(|o| o.is_array()) else {
        return match first.is_null_or_undefined() {
            true => Ok(Made::Filter(Box::new(Spec { start: None }))),
            false => Err(type_error(format!("chain() takes an array of module paths, got {}", first.display()))),
        };
    };
    let ctx = args.js_context();
    let arr = JsArray::from_object(arr.clone())?;
    let mut layouts = Vec::new();
    for i in 0..arr.length(ctx)? {
        let path = arr.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped();
        layouts.push(modules::plugin(&path, ctx)?);
    }
    let list: List = layouts.into();
    let id = LISTS.with(|l| {
        let mut l = l.borrow_mut();
        l.push(Rc::downgrade(&list));
        l.len() - 1
    });
    Ok(Made::Filter(Box::new(Spec { start: Some((id, list)) })))
}

struct Spec {
    /// The list this `chain(paths)` starts; `None` for `chain()`.
    start: Option<(usize, List)>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "chain"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let target = match &self.start {
            Some((id, list)) => Some((*id, list.clone(), 0)),
            None => position(&env),
        };
        Box::new(Chain { target, env, sub: None })
    }
}

/// Where a `chain()` in the running module goes next: the position its chain filter left.
fn position(env: &FilterEnv) -> Option<(usize, List, usize)> {
    let v = env.context.get(vars::slot(SLOT)).as_number()?;
    let (id, next) = ((v / SHIFT).floor() as usize, (v % SHIFT) as usize);
    let list = LISTS.with(|l| l.borrow().get(id).and_then(Weak::upgrade))?;
    Some((id, list, next))
}

struct Chain {
    /// List id, list and the position of the module to run; `None` or past the end: pass.
    target: Option<(usize, List, usize)>,
    env: FilterEnv,
    sub: Option<Sub>,
}

impl Filter for Chain {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.sub.is_none() {
            let Some(layout) = self.target.as_ref().and_then(|(_, list, i)| list.get(*i).cloned()) else {
                return out.emit(evt);
            };
            let (id, _, i) = self.target.as_ref().expect("target checked above");
            self.env.context.set(vars::slot(SLOT), JsValue::from(*id as f64 * SHIFT + (*i + 1) as f64));
            self.sub = Some(Sub::start(layout, &self.env, out));
        }
        if let Some(sub) = &self.sub {
            sub.input(evt, out);
        }
    }
}
