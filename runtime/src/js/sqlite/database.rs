//! The database object `sqlite(filename)` returns: `sql`, `exec`, `close`.

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace};
use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::{Batch, Connection, OpenFlags};

use super::statement::Statement;
use super::{error, values};
use crate::js::{arg_str, type_error};

/// The connection, shared with the statements made from it; `None` once closed.
pub type Shared = Rc<RefCell<Option<Connection>>>;

#[derive(Trace, Finalize, JsData)]
pub struct Database {
    #[unsafe_ignore_trace]
    pub conn: Shared,
}

impl Class for Database {
    const NAME: &'static str = "Database";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(type_error("a database comes from sqlite(filename)"))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(JsString::from("sql"), 1, NativeFunction::from_fn_ptr(sql));
        class.method(JsString::from("exec"), 1, NativeFunction::from_fn_ptr(exec));
        class.method(JsString::from("close"), 0, NativeFunction::from_fn_ptr(close));
        Ok(())
    }
}

/// `sqlite(filename, flags?)`.
pub fn open(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let filename = arg_str(args, 0).ok_or_else(|| type_error("sqlite() takes a file name"))?;
    let flags = match args.get(1) {
        Some(v) if !v.is_undefined() => v.to_i32(ctx)?,
        _ => 0,
    };
    let conn = match flags {
        0 => Connection::open(&filename),
        f => Connection::open_with_flags(&filename, OpenFlags::from_bits_truncate(f)),
    }
    .map_err(error)?;
    Ok(Database::from_data(Database { conn: Rc::new(RefCell::new(Some(conn))) }, ctx)?.into())
}

fn shared(this: &JsValue) -> JsResult<Shared> {
    let obj = this.as_object().ok_or_else(|| type_error("not a database"))?;
    let db = obj.downcast_ref::<Database>().ok_or_else(|| type_error("not a database"))?;
    Ok(db.conn.clone())
}

/// Runs `f` on the open connection.
pub fn with_conn<R>(conn: &Shared, f: impl FnOnce(&Connection) -> JsResult<R>) -> JsResult<R> {
    match conn.borrow().as_ref() {
        Some(c) => f(c),
        None => Err(boa_engine::JsNativeError::error().with_message("Database is closed").into()),
    }
}

fn sql(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let conn = shared(this)?;
    let text = arg_str(args, 0).ok_or_else(|| type_error("sql() takes a string"))?;
    // Prepared now so that a mistake is thrown here, as Pipy's sqlite3_prepare_v2 does.
    with_conn(&conn, |c| c.prepare_cached(&text).map(drop).map_err(error))?;
    Ok(Statement::from_data(Statement::new(conn, text), ctx)?.into())
}

/// Every statement of the text, the rows of all as objects of text or `null`.
fn exec(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let conn = shared(this)?;
    let text = arg_str(args, 0).ok_or_else(|| type_error("exec() takes a string"))?;
    let rows = with_conn(&conn, |c| {
        let mut rows = Vec::new();
        let mut batch = Batch::new(c, &text);
        while let Some(mut stmt) = batch.next().map_err(error)? {
            let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
            let mut q = stmt.raw_query();
            while let Some(row) = q.next().map_err(error)? {
                let mut values = Vec::with_capacity(names.len());
                for i in 0..names.len() {
                    values.push(values::as_text(row.get_ref(i).map_err(error)?));
                }
                rows.push((names.clone(), values));
            }
        }
        Ok(rows)
    })?;
    let out = JsArray::new(ctx)?;
    for (names, values) in rows {
        let o = JsObject::with_object_proto(ctx.intrinsics());
        for (name, v) in names.iter().zip(values) {
            let v: JsValue = v.map(|s| JsString::from(s.as_str()).into()).unwrap_or_else(JsValue::null);
            o.create_data_property_or_throw(JsString::from(name.as_str()), v, ctx)?;
        }
        out.push(o, ctx)?;
    }
    Ok(out.into())
}

fn close(this: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    shared(this)?.borrow_mut().take();
    Ok(JsValue::undefined())
}
