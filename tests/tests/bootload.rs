//! What Pipy's `bootload` sample and scripts like it reach for: the shebang form
//! `#!/usr/bin/env -S weir --args`, `pipy.argv`, `os.path`, `os.rename`, the legacy `use`,
//! `logging` and `DNS.resolve`, run by the built `weir` binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use weir_tests::*;

/// Writes `files` (path, text) into a fresh codebase and runs weir on its `main.js`.
fn run(files: &[(&str, &str)], args: &[&str]) -> Weir {
    Weir::start_codebase(files, args, |c| c.current_dir(std::env::temp_dir()))
}

/// Runs a script to its end; returns its stdout lines.
fn output(files: &[(&str, &str)]) -> Vec<String> {
    let mut weir = run(files, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "stderr:\n{}", weir.stderr().join("\n"));
    weir.stdout()
}

#[test]
fn a_script_run_by_its_shebang_gets_its_arguments_and_paths() {
    let dir = TempDir::new();
    let main = dir.0.join("main.js");
    let script = format!(
        "#!/usr/bin/env -S {} --args\n\
         println(pipy.argv.slice(1).join(' '))\n\
         var root = os.path.resolve(pipy.argv[2] || '')\n\
         println(root === os.path.resolve(pipy.argv[2]), os.stat(root).isDirectory())\n\
         println(os.path.join('a/', '/b', '', 'c'), os.path.join(), os.path.resolve('/x', 'y', '../z'))\n\
         println(os.path.normalize('a/./b//c/../d'), os.path.dirname('/p/q/r.js'), os.path.basename('/p/q/r.js', '.js'))\n\
         os.mkdir(os.path.join(root, 'script'))\n\
         os.rename(os.path.join(root, 'script'), os.path.join(root, 'script.bak'))\n\
         println(os.stat(os.path.join(root, 'script.bak')).isDirectory(), os.stat(os.path.join(root, 'script')))\n\
         pipy.exit(0)\n",
        weir_bin().display()
    );
    std::fs::write(&main, script).unwrap();
    std::fs::set_permissions(&main, std::fs::Permissions::from_mode(0o755)).unwrap();
    let work = dir.0.join("work");
    std::fs::create_dir(&work).unwrap();
    let out = Command::new(&main).args(["http://127.0.0.1:1/repo/", work.to_str().unwrap()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("http://127.0.0.1:1/repo/ {}", work.display()).as_str(),
            "true true",
            "a/b/c . /x/z",
            "/a/b/d /p/q r",
            "true null",
        ]
    );
}

#[test]
fn use_runs_a_named_pipeline_of_another_module() {
    let port = free_port();
    let main = format!("pipy().listen({port}).use('lib/hello.js', 'serve')\n");
    let mut weir = run(
        &[
            ("main.js", &main),
            (
                "lib/hello.js",
                "pipy({ _n: 0 })\n\
                 .pipeline('serve').serveHTTP(() => new Message(`hello ${++_n}\\n`))\n",
            ),
        ],
        &[],
    );
    weir.wait_listening();
    let (code, body, err) = curl(&[&format!("http://127.0.0.1:{port}/"), &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(body, "hello 1\nhello 2\n");
}

/// Sends `x`, ends its side, reads all the answer.
fn exchange(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"x").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

/// A plugin whose `up` pipeline appends `N>` and whose `down` one appends `<N`.
fn plugin(n: &str, down: bool) -> String {
    let mut text = format!("pipy().pipeline('up').replaceData(d => new Data(d.toString() + '{n}>'))\n");
    if down {
        text += &format!(".pipeline('down').replaceData(d => new Data(d.toString() + '<{n}'))\n");
    }
    text
}

#[test]
fn use_chains_modules_up_then_down_and_turns_down_when_told() {
    let (a, b, c) = (plugin("A", true), plugin("B", true), plugin("C", false));
    let (all, turned) = (free_port(), free_port());
    let main = format!(
        "var mods = ['a.js', 'b.js', 'c.js', 'none.js']\n\
         pipy({{ _stage: 0 }})\n\
         .listen({all}).use(mods, 'up', 'down')\n\
         .listen({turned}).use(mods, 'up', 'down', () => _stage++ === 1)\n"
    );
    let mut weir = run(&[("main.js", &main), ("a.js", &a), ("b.js", &b), ("c.js", &c), ("none.js", "pipy()\n")], &[]);
    weir.wait_listening();
    // Up through A, B, C; down through C (none), B, A.
    assert_eq!(exchange(all), "xA>B>C><B<A");
    // `when` says true at B: B and C are skipped going up, and B coming down.
    assert_eq!(exchange(turned), "xA><A");
}

#[test]
fn loggers_write_lines_as_pipy_makes_them() {
    let out = output(&[(
        "main.js",
        "var t = new logging.TextLogger('t').toStdout()\n\
         var j = new logging.JSONLogger('j').toStdout()\n\
         var b = new logging.BinaryLogger('b').toStdout()\n\
         t.log('a', 1, { x: 1 }, null)\n\
         t.log('second')\n\
         j.log({ a: [1, 'b'] }, 'c')\n\
         b.log('ab', [67, 68], new Data('E'), 7)\n\
         pipy.exit(0)\n",
    )]);
    assert_eq!(out, ["a 1 [object Object]:{\"x\":1} null", "second", "{\"a\":[1,\"b\"]}\"c\"", "abCDE7"]);
}

#[test]
fn logger_files_are_truncated_unless_appended() {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("text.log"), "old\n").unwrap();
    std::fs::write(dir.0.join("json.log"), "old\n").unwrap();
    let script = format!(
        "var d = '{}'\n\
         new logging.TextLogger('t').toFile(d + '/text.log').log('new')\n\
         new logging.JSONLogger('j').toFile(d + '/json.log', {{ append: true }}).log({{ n: 1 }})\n\
         pipy.exit(0)\n",
        dir.0.display()
    );
    let mut weir = Weir::start(&script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "stderr:\n{}", weir.stderr().join("\n"));
    assert_eq!(std::fs::read_to_string(dir.0.join("text.log")).unwrap(), "new\n");
    assert_eq!(std::fs::read_to_string(dir.0.join("json.log")).unwrap(), "old\n{\"n\":1}\n");
}

#[test]
fn dns_resolve_asks_the_system_resolver() {
    let out = output(&[(
        "main.js",
        "DNS.resolve('localhost').then(a => {\n\
           println(a.includes('127.0.0.1'), a.every(s => typeof s === 'string'))\n\
           pipy.exit(0)\n\
         })\n",
    )]);
    assert_eq!(out, ["true true"]);
}
