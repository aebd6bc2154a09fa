//! `use(module, name?)`, of the legacy configuration and the designer (`$.use`): every event
//! goes through the pipeline `name` (or the entrance) of another module (loaded once, as
//! `chain` loads them; see `top::pipelines` for what a module may be), sharing this context;
//! its output is this filter's output.
//!
//! `use(modules, name, nameDown?, when?)` chains the pipeline `name` of each module of the
//! list (modules without it are skipped); the output of the last goes back up through each
//! module's `nameDown` pipeline, last module first. `when()` is asked at a module's first
//! event; when it says true, the stream turns down there: the events skip that module and
//! all after it, and go back through the `nameDown` pipelines of the modules before it.
//!
//! Each stream gets a small layout of its own: one stage filter per module going up, one
//! per module coming down, sharing where the stream turned down.

use std::cell::Cell;
use std::rc::Rc;

use boa_engine::JsResult;
use boa_engine::object::builtins::JsArray;

use crate::args::Args;
use crate::engine::{Callback, Event, Filter, FilterEnv, FilterSpec, Layout, Output, Sub, host};
use crate::filters::Made;
use crate::js::{modules, type_error};

pub fn make(args: &mut Args<'_>) -> JsResult<Made> {
    let first = args.value(0);
    let (paths, multiple) = match first.as_object().filter(|o| o.is_array()) {
        Some(arr) => {
            let ctx = args.js_context();
            let arr = JsArray::from_object(arr.clone())?;
            let mut paths = Vec::new();
            for i in 0..arr.length(ctx)? {
                paths.push(arr.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped());
            }
            (paths, true)
        }
        None if first.is_string() => (vec![args.optional_string(0)?.unwrap_or_default()], false),
        None => {
            return Err(type_error(format!("use() takes a module path or a list of them, got {}", first.display())));
        }
    };
    let name = args.optional_string(1)?;
    let (down, when) = match (multiple, args.value(2).is_string()) {
        (true, true) => (args.optional_string(2)?, args.optional_function(3, "a function")?),
        (true, false) => (None, args.optional_function(2, "a function")?),
        (false, _) => (None, None),
    };
    let mut stages = Vec::new();
    for path in &paths {
        let plugin = modules::plugin_module(path, args.js_context())?;
        let up = match &name {
            Some(n) => plugin.named.as_ref().and_then(|r| r.get(n)),
            None => plugin.entrance.clone(),
        };
        if up.is_none() && !multiple {
            let which = name.as_deref().map(|n| format!(": {n}")).unwrap_or_default();
            return Err(type_error(format!("pipeline not found in module {path}{which}")));
        }
        let down = down.as_ref().and_then(|n| plugin.named.as_ref().and_then(|r| r.get(n)));
        if up.is_some() || down.is_some() {
            stages.push((up, down));
        }
    }
    Ok(Made::Filter(Box::new(Spec { stages: stages.into(), when })))
}

type Stages = Rc<[(Option<Rc<Layout>>, Option<Rc<Layout>>)]>;

struct Spec {
    stages: Stages,
    when: Option<Callback>,
}

impl FilterSpec for Spec {
    fn name(&self) -> &'static str {
        "use"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        Box::new(Use { stages: self.stages.clone(), when: self.when.clone(), env, sub: None })
    }
}

struct Use {
    stages: Stages,
    when: Option<Callback>,
    env: FilterEnv,
    sub: Option<Sub>,
}

impl Use {
    /// This stream's layout: the stages going up, then coming down in reverse.
    fn layout(&self) -> Rc<Layout> {
        let turned: Rc<Cell<Option<usize>>> = Rc::default();
        let mut filters: Vec<Box<dyn FilterSpec>> = Vec::new();
        for (i, (up, _)) in self.stages.iter().enumerate() {
            let when = self.when.clone();
            filters.push(Box::new(StageSpec {
                index: i,
                layout: up.clone(),
                when,
                turned: turned.clone(),
                down: false,
            }));
        }
        for (i, (_, down)) in self.stages.iter().enumerate().rev() {
            filters.push(Box::new(StageSpec {
                index: i,
                layout: down.clone(),
                when: None,
                turned: turned.clone(),
                down: true,
            }));
        }
        Rc::new(Layout { name: "use".into(), on_start: None, on_end: None, filters, ..Default::default() })
    }
}

impl Filter for Use {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.stages.is_empty() {
            return out.emit(evt);
        }
        if self.sub.is_none() {
            self.sub = Some(Sub::start(self.layout(), &self.env, out));
        }
        if let Some(sub) = &self.sub {
            sub.input(evt, out);
        }
    }
}

/// One module's pipeline, going up or coming down.
struct StageSpec {
    index: usize,
    layout: Option<Rc<Layout>>,
    when: Option<Callback>,
    /// The stage at which the stream turned down, once it has.
    turned: Rc<Cell<Option<usize>>>,
    down: bool,
}

impl FilterSpec for StageSpec {
    fn name(&self) -> &'static str {
        "use"
    }

    fn instantiate(&self, env: FilterEnv) -> Box<dyn Filter> {
        let (index, layout, when, turned, down) =
            (self.index, self.layout.clone(), self.when.clone(), self.turned.clone(), self.down);
        Box::new(Stage { index, layout, when, turned, down, env, sub: None, started: false })
    }
}

struct Stage {
    index: usize,
    layout: Option<Rc<Layout>>,
    when: Option<Callback>,
    turned: Rc<Cell<Option<usize>>>,
    down: bool,
    env: FilterEnv,
    sub: Option<Sub>,
    started: bool,
}

impl Stage {
    /// Whether the stream skips this stage: it turned down here or before (going up, at a
    /// stage before this; coming down, at this one or before).
    fn skipped(&self) -> bool {
        match self.turned.get() {
            Some(at) if self.down => at <= self.index,
            Some(at) => at < self.index,
            None => false,
        }
    }

    /// At the first event: asks `when` (going up) and starts the module's pipeline.
    fn begin(&mut self, out: &mut Output<'_>) {
        self.started = true;
        if self.skipped() {
            return;
        }
        if let Some(when) = &self.when {
            match host().call(&self.env.context, when, &[]) {
                Ok(v) if v.to_boolean() => return self.turned.set(Some(self.index)),
                Ok(_) => {}
                Err(e) => tracing::error!(target: "pipeline", "use: when: {e}"),
            }
        }
        if let Some(layout) = self.layout.clone() {
            self.sub = Some(Sub::start(layout, &self.env, out));
        }
    }
}

impl Filter for Stage {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if !self.started {
            self.begin(out);
        }
        match &self.sub {
            Some(sub) => sub.input(evt, out),
            None => out.emit(evt),
        }
    }
}
