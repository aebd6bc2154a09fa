//! `sqlite(filename)` on a real database file: statements with bindings stepped row by row
//! and run whole, `exec` of several statements, SQLite's types and errors, the file still
//! there for the next process, and a to-do API over HTTP (the flow of Pipy's webapp sample)
//! driven with curl.

use weir_tests::*;

/// Runs `script` in a folder of its own (its working directory too) and returns stdout.
fn run_in(dir: &TempDir, script: &str) -> Vec<String> {
    let path = dir.0.join("main.js");
    std::fs::write(&path, script).unwrap();
    let out = std::process::Command::new(weir_bin()).arg(&path).current_dir(&dir.0).output().expect("run weir");
    assert!(out.status.success(), "weir: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
}

#[test]
fn statements_bind_step_and_exec_on_a_database_file() {
    let dir = TempDir::new();
    let first = run_in(
        &dir,
        "var db = sqlite('t.db')\n\
         db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, big INTEGER, raw BLOB); \
                   CREATE INDEX t_name ON t (name)')\n\
         var ins = db.sql('INSERT INTO t (name, score, big, raw) VALUES (?, ?, ?, ?)')\n\
         ins.bind(1, 'ann').bind(2, 1.5).bind(3, 9007199254740993n).bind(4, new Data('ab')).exec()\n\
         ins.reset().bind(1, 'bob').bind(2, 2).bind(3, 7).bind(4, null).exec()\n\
         var s = db.sql('SELECT id, name, score FROM t ORDER BY id')\n\
         while (!s.step()) println(JSON.stringify(s.row()), s.column(1), s.column(9))\n\
         println(s.step() ? 'again' : 'done')\n\
         var r = db.sql('SELECT big, raw FROM t WHERE id = 1').exec()[0]\n\
         println(typeof r.big, r.big, r.raw.toString())\n\
         println(JSON.stringify(db.exec('SELECT id, score, raw FROM t; SELECT count(*) AS n FROM t')))\n\
         try { db.sql('SELEKT 1') } catch (e) { println(e.message) }\n\
         db.close()\n\
         try { db.exec('SELECT 1') } catch (e) { println(e.message) }\n",
    );
    assert_eq!(
        first,
        [
            r#"{"id":1,"name":"ann","score":1.5} ann undefined"#,
            r#"{"id":2,"name":"bob","score":2} bob undefined"#,
            "done",
            "bigint 9007199254740993 ab",
            r#"[{"id":"1","score":"1.5","raw":"ab"},{"id":"2","score":"2.0","raw":null},{"n":"2"}]"#,
            r#"SQLite error: near "SELEKT": syntax error"#,
            "Database is closed",
        ]
    );
    // The file outlives the process.
    let second =
        run_in(&dir, "println(sqlite('t.db').exec('SELECT name FROM t ORDER BY id').map(r => r.name).join())\n");
    assert_eq!(second, ["ann,bob"]);
}

#[test]
fn a_to_do_api_keeps_its_items_in_sqlite() {
    let dir = TempDir::new();
    let port = free_port();
    let script = format!(
        "var db = sqlite('todo.db')\n\
         if (db.exec(\"SELECT * FROM sqlite_schema WHERE type = 'table' AND name = 'items'\").length === 0) {{\n\
           db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, text TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)')\n\
         }}\n\
         var json = (status, v) => new Message({{ status, headers: {{ 'content-type': 'application/json' }} }}, JSON.encode(v))\n\
         var one = id => db.sql('SELECT * FROM items WHERE id = ?').bind(1, id).exec()[0]\n\
         pipy.listen({port}, $=>$.serveHTTP(req => {{\n\
           var id = req.head.path.split('/')[2] | 0\n\
           switch (req.head.method) {{\n\
             case 'POST': db.sql('INSERT INTO items (text) VALUES (?)').bind(1, req.body.toString()).exec()\n\
               return json(201, db.sql('SELECT * FROM items WHERE id = last_insert_rowid()').exec()[0])\n\
             case 'PATCH': db.exec(`UPDATE items SET done = ${{req.body.toString() === 'true'}} WHERE id = ${{id}}`)\n\
               return json(200, one(id))\n\
             case 'DELETE': db.exec(`DELETE FROM items WHERE id = ${{id}}`); return new Message({{ status: 204 }})\n\
             default: return json(200, id ? one(id) : db.sql('SELECT * FROM items').exec())\n\
           }}\n\
         }}))\n"
    );
    let path = dir.0.join("main.js");
    std::fs::write(&path, script).unwrap();
    let cwd = dir.0.clone();
    let mut weir = Weir::run_file(&path, &[], dir, |c| c.current_dir(&cwd));
    weir.wait_listening();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let call = |args: &[&str]| {
        let (code, out, err) = curl(args);
        assert_eq!(code, 0, "curl {args:?}: {err}");
        out
    };
    assert_eq!(call(&["-d", "milk", &url("/items")]), r#"{"id":1,"text":"milk","done":0}"#);
    assert_eq!(call(&["-d", "bread", &url("/items")]), r#"{"id":2,"text":"bread","done":0}"#);
    assert_eq!(call(&["-X", "PATCH", "-d", "true", &url("/items/2")]), r#"{"id":2,"text":"bread","done":1}"#);
    assert_eq!(call(&["-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", &url("/items/1")]), "204");
    assert_eq!(call(&[&url("/items")]), r#"[{"id":2,"text":"bread","done":1}]"#);
    // The items are in a file in the working directory, as the script named it.
    assert!(cwd.join("todo.db").is_file(), "todo.db is a file in the working directory");
    drop(weir);
}
