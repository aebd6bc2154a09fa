//! A statement `db.sql(text)` prepared: `bind(i, value)`, `step()` (Pipy's: `false` while
//! there is a row, `true` once done), `row()`, `column(i)`, `exec()` (the rows left, as
//! objects) and `reset()`, each of the last chaining as in Pipy.
//!
//! The rows are read from SQLite at the first `step` or `exec` (after which the statement
//! has run, writes included) and handed out from memory: rusqlite's statements borrow their
//! connection, which a script object cannot. Stepping past the end runs it again, as
//! SQLite's automatic reset does; `reset` keeps the bindings, as `sqlite3_reset` does.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace};
use rusqlite::types::Value;

use super::database::{Shared, with_conn};
use super::{error, values};
use crate::js::type_error;

#[derive(Trace, Finalize, JsData)]
pub struct Statement {
    #[unsafe_ignore_trace]
    conn: Shared,
    #[unsafe_ignore_trace]
    sql: String,
    #[unsafe_ignore_trace]
    binds: Vec<(usize, Value)>,
    #[unsafe_ignore_trace]
    run: Option<Run>,
}

/// One run of the statement: its columns, its rows, and where the script is among them.
struct Run {
    names: Vec<String>,
    rows: Vec<Vec<Value>>,
    /// The row the last `step` went to (`row()` and `column()` read it).
    current: Option<usize>,
    next: usize,
    done: bool,
}

impl Statement {
    pub fn new(conn: Shared, sql: String) -> Statement {
        Statement { conn, sql, binds: Vec::new(), run: None }
    }

    /// Runs the statement with its bindings, unless a run is under way.
    fn start(&mut self) -> JsResult<&mut Run> {
        if self.run.as_ref().is_none_or(|r| r.done) {
            let run = with_conn(&self.conn, |c| {
                let mut stmt = c.prepare_cached(&self.sql).map_err(error)?;
                for (i, v) in &self.binds {
                    stmt.raw_bind_parameter(*i, v).map_err(error)?;
                }
                let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
                let mut rows = Vec::new();
                let mut q = stmt.raw_query();
                while let Some(row) = q.next().map_err(error)? {
                    rows.push(
                        (0..names.len()).map(|i| row.get::<_, Value>(i)).collect::<Result<_, _>>().map_err(error)?,
                    );
                }
                Ok(Run { names, rows, current: None, next: 0, done: false })
            })?;
            self.run = Some(run);
        }
        Ok(self.run.as_mut().expect("just made"))
    }
}

impl Class for Statement {
    const NAME: &'static str = "Statement";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("a statement comes from db.sql(text)"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(JsString::from("bind"), 2, NativeFunction::from_fn_ptr(bind));
        class.method(JsString::from("step"), 0, NativeFunction::from_fn_ptr(step));
        class.method(JsString::from("exec"), 0, NativeFunction::from_fn_ptr(exec));
        class.method(JsString::from("row"), 0, NativeFunction::from_fn_ptr(row));
        class.method(JsString::from("column"), 1, NativeFunction::from_fn_ptr(column));
        class.method(JsString::from("reset"), 0, NativeFunction::from_fn_ptr(reset));
        Ok(())
    }
}

fn with<R>(this: &JsValue, f: impl FnOnce(&mut Statement) -> JsResult<R>) -> JsResult<R> {
    let obj = this.as_object().ok_or_else(|| type_error("not a statement"))?;
    let mut s = obj.downcast_mut::<Statement>().ok_or_else(|| type_error("not a statement"))?;
    f(&mut s)
}

fn bind(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let i = args.first().cloned().unwrap_or_default().to_i32(ctx)?;
    let value = values::from_js(&args.get(1).cloned().unwrap_or_default(), ctx)?;
    with(this, |s| {
        let i = usize::try_from(i).map_err(|_| type_error("bind() takes a parameter number from 1"))?;
        s.binds.retain(|(j, _)| *j != i);
        s.binds.push((i, value));
        Ok(())
    })?;
    Ok(this.clone())
}

fn step(this: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    with(this, |s| {
        let run = s.start()?;
        if run.next < run.rows.len() {
            run.current = Some(run.next);
            run.next += 1;
            Ok(false.into())
        } else {
            run.current = None;
            run.done = true;
            Ok(true.into())
        }
    })
}

fn exec(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (names, rows) = with(this, |s| {
        let run = s.start()?;
        let rows = run.rows[run.next..].to_vec();
        (run.next, run.current, run.done) = (run.rows.len(), None, true);
        Ok((run.names.clone(), rows))
    })?;
    let out = JsArray::new(ctx)?;
    for row in rows {
        out.push(object(&names, row, ctx)?, ctx)?;
    }
    Ok(out.into())
}

fn object(names: &[String], row: Vec<Value>, ctx: &mut Context) -> JsResult<JsValue> {
    let o = JsObject::with_object_proto(ctx.intrinsics());
    for (name, v) in names.iter().zip(row) {
        let v = values::to_js(v, ctx)?;
        o.create_data_property_or_throw(JsString::from(name.as_str()), v, ctx)?;
    }
    Ok(o.into())
}

/// The current row's columns and values, if `step` is on a row.
fn current(this: &JsValue) -> JsResult<Option<(Vec<String>, Vec<Value>)>> {
    with(this, |s| Ok(s.run.as_ref().and_then(|r| r.current.map(|i| (r.names.clone(), r.rows[i].clone())))))
}

fn row(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    match current(this)? {
        Some((names, row)) if !names.is_empty() => object(&names, row, ctx),
        _ => Ok(JsValue::null()),
    }
}

fn column(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let i = args.first().cloned().unwrap_or_default().to_i32(ctx)?;
    let value = current(this)?.and_then(|(_, row)| usize::try_from(i).ok().and_then(|i| row.get(i).cloned()));
    match value {
        Some(v) => values::to_js(v, ctx),
        None => Ok(JsValue::undefined()),
    }
}

fn reset(this: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    with(this, |s| {
        s.run = None;
        Ok(())
    })?;
    Ok(this.clone())
}
