//! `sqlite(filename, flags?)`: a SQLite database, as Pipy's (src/api/sqlite.cpp), on the
//! `rusqlite` crate with SQLite compiled in. `db.exec(sql)` runs every statement of `sql` and
//! returns the rows as objects of text (as `sqlite3_exec` gives them); `db.sql(sql)` prepares
//! one statement (statement.rs) whose rows keep SQLite's types; `db.close()`.
//!
//! The file name is relative to the working directory, as in Pipy; `flags` are SQLite's
//! `SQLITE_OPEN_*` bits.

mod database;
mod statement;
mod values;

use boa_engine::class::Class;
use boa_engine::{Context, JsResult, JsString, NativeFunction, js_string};

use database::Database;
use statement::Statement;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<Database>()?;
    ctx.register_global_class::<Statement>()?;
    let global = ctx.global_object();
    // Pipy has no such globals: a database comes from `sqlite()`, a statement from `sql()`.
    for name in [Database::NAME, Statement::NAME] {
        global.delete_property_or_throw(JsString::from(name), ctx)?;
    }
    ctx.register_global_callable(js_string!("sqlite"), 2, NativeFunction::from_fn_ptr(database::open))?;
    Ok(())
}

/// A SQLite failure as Pipy words it.
fn error(e: rusqlite::Error) -> boa_engine::JsError {
    let text = match &e {
        rusqlite::Error::SqliteFailure(_, Some(msg)) | rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        e => e.to_string(),
    };
    boa_engine::JsNativeError::error().with_message(format!("SQLite error: {text}")).into()
}
