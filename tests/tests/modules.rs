//! Scripts over several files: ES modules, YAML configs, `pipy.solve`, and legacy plugin
//! chains, run by the built `weir` binary and driven by curl against real local servers.

use std::time::Duration;

use weir_tests::*;

/// Writes `files` (path, text) into a fresh codebase and runs weir on its `main.js`.
fn run(files: &[(&str, &str)], args: &[&str]) -> Weir {
    Weir::start_codebase(files, args, |c| c)
}

fn get(url: &str) -> String {
    let (code, body, err) = curl(&[url]);
    assert_eq!(code, 0, "curl {url}: {err}");
    body
}

#[test]
fn a_script_split_over_modules_serves_http_from_a_yaml_config() {
    let port = free_port();
    let yaml = format!(
        "# the service\nport: {port}\ngreeting: hello\nlimits:\n  - path: /a\n    rate: 10\n  - path: /b\n    rate: ~\n"
    );
    let mut weir = run(
        &[
            (
                "main.js",
                "import config from './lib/config.js'\n\
                 import { handle } from './lib/handler.js'\n\
                 pipy.listen(config.port, $=>$.serveHTTP(handle))\n",
            ),
            ("lib/config.js", "export default YAML.decode(pipy.load('config.yaml'))\n"),
            (
                "lib/handler.js",
                "import config from './config.js'\n\
                 import * as text from '/lib/text.js'\n\
                 var $path\n\
                 export function handle(req) {\n\
                   $path = req.head.path\n\
                   // Another request runs while this one waits: $path must stay its own.\n\
                   return new Timeout(0.3).wait().then(() => new Message(text.line(config, $path)))\n\
                 }\n",
            ),
            (
                "lib/text.js",
                "export const line = (config, path) =>\n\
                   `${config.greeting} ${path} port=${typeof config.port} rates=${config.limits.map(l => l.rate)}\\n`\n",
            ),
            ("config.yaml", &yaml),
        ],
        &[],
    );
    weir.wait_listening();
    let handles: Vec<_> = ["/one", "/two", "/three"]
        .into_iter()
        .map(|p| {
            let url = format!("http://127.0.0.1:{port}{p}");
            std::thread::spawn(move || get(&url))
        })
        .collect();
    let bodies: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        bodies,
        [
            "hello /one port=number rates=10,\n",
            "hello /two port=number rates=10,\n",
            "hello /three port=number rates=10,\n"
        ]
    );
}

#[test]
fn yaml_encode_writes_what_decode_reads() {
    let mut weir = Weir::start(
        "var v = { name: 'weir', ports: [80, 443], tls: { on: true, ratio: 0.5 }, none: null }\n\
         var d = YAML.encode(v)\n\
         println(d instanceof Data)\n\
         print(d.toString())\n\
         println(JSON.stringify(YAML.decode(d)) === JSON.stringify(v))\n\
         println(JSON.stringify(YAML.parse('a: 1\\n---\\nb: [x, 2]\\n')))\n",
        &[],
    );
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    assert_eq!(
        weir.stdout(),
        [
            "true",
            "name: weir",
            "ports:",
            "  - 80",
            "  - 443",
            "tls:",
            "  \"on\": true",
            "  ratio: 0.5",
            "none: ~",
            "true",
            "{\"b\":[\"x\",2]}",
        ]
    );
}

#[test]
fn each_module_runs_once_per_worker_with_two_threads() {
    let mut weir = run(
        &[
            (
                "main.js",
                "import { a } from './a.js'\n\
                 import { b } from './sub/b.js'\n\
                 var again = pipy.import('./shared.js')\n\
                 println(`thread ${pipy.thread.id}: ${a()} ${b()} ${again.count()}`)\n",
            ),
            ("a.js", "import { count } from './shared.js'\nexport const a = count\n"),
            ("sub/b.js", "import { count } from '../shared.js'\nexport const b = count\n"),
            (
                "shared.js",
                "println(`shared.js runs on thread ${pipy.thread.id}`)\n\
                 var n = 0\n\
                 export function count() { return ++n }\n",
            ),
        ],
        &["--threads=2"],
    );
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    let mut out = weir.stdout();
    out.sort();
    assert_eq!(out, ["shared.js runs on thread 0", "shared.js runs on thread 1", "thread 0: 1 2 3", "thread 1: 1 2 3"]);
}

#[test]
fn pipy_import_works_inside_an_expression_and_at_request_time() {
    let port = free_port();
    let mut weir = run(
        &[
            (
                "main.js",
                &format!(
                    "println(new Message(pipy.import('./lib/a.js').hello('top')).body.toString())\n\
                     pipy.listen({port}, $=>$.serveHTTP(req => new Message(pipy.import('./lib/b.js').hello(req.head.path))))\n"
                ),
            ),
            ("lib/a.js", "export const hello = who => `a says hello to ${who}`\n"),
            (
                "lib/b.js",
                "import { hello as a } from './a.js'\n\
                 println('b.js runs')\n\
                 export const hello = who => `b and ${a(who)}\\n`\n",
            ),
        ],
        &[],
    );
    weir.wait_listening();
    let url = format!("http://127.0.0.1:{port}");
    assert_eq!(get(&format!("{url}/x")), "b and a says hello to /x\n");
    assert_eq!(get(&format!("{url}/y")), "b and a says hello to /y\n");
    assert_eq!(weir.stdout(), ["a says hello to top", "b.js runs"]);
}

#[test]
fn cyclic_imports_run_as_in_js() {
    let mut weir = run(
        &[
            ("main.js", "import { ping } from './ping.js'\nprintln('main', ping(3))\n"),
            (
                "ping.js",
                "import { pong } from './pong.js'\n\
                 println('ping.js')\n\
                 export function ping(n) { return n > 0 ? 'ping ' + pong(n - 1) : 'end' }\n",
            ),
            (
                "pong.js",
                "import { ping } from './ping.js'\n\
                 // Function declarations of a module in the cycle exist before it runs.\n\
                 println('pong.js', typeof ping)\n\
                 export function pong(n) { return n > 0 ? 'pong ' + ping(n - 1) : 'end' }\n",
            ),
        ],
        &[],
    );
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(0), "{:?}", weir.stderr());
    assert_eq!(weir.stdout(), ["pong.js function", "ping.js", "main ping pong ping end"]);
}

#[test]
fn a_missing_import_names_the_file_and_line_and_exits_255() {
    let mut weir = run(
        &[
            ("main.js", "import { a } from './lib.js'\nprintln(a)\n"),
            ("lib.js", "// the helpers\n\nimport { b } from './gone.js'\nexport const a = b\n"),
        ],
        &[],
    );
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    let err = weir.stderr().join("\n");
    assert!(err.contains("lib.js:3: cannot import './gone.js'"), "{err}");
    assert!(err.contains("gone.js: No such file"), "{err}");
    assert!(weir.stdout().is_empty());
}

#[test]
fn a_syntax_error_in_a_module_main_script_names_its_line() {
    let mut weir =
        run(&[("main.js", "import { a } from './lib.js'\nprintln(a))\n"), ("lib.js", "export const a = 1\n")], &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    let err = weir.stderr().join("\n");
    assert!(err.contains("main.js:2:11: SyntaxError"), "{err}");
}

#[test]
fn an_error_thrown_in_an_imported_module_names_that_module() {
    let mut weir = run(
        &[("main.js", "import { f } from './lib.js'\nf()\n"), ("lib.js", "export function f() {\n  null.x\n}\n")],
        &[],
    );
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    let err = weir.stderr().join("\n");
    assert!(err.contains("lib.js:2:"), "{err}");
}

#[test]
fn solve_evaluates_a_file_once_and_main_may_export_a_legacy_configuration() {
    let port = free_port();
    let mut weir = run(
        &[
            (
                "main.js",
                "import { body } from './body.js'\n\
                 var c = pipy.solve('conf.js')\n\
                 println(pipy.solve('/conf.js') === c)\n\
                 export default pipy().listen(c.port).serveHTTP(new Message(body))\n",
            ),
            ("body.js", "export const body = 'from a module\\n'\n"),
            ("conf.js", "(println('solving'), JSON.decode(pipy.load('conf.json')))\n"),
            ("conf.json", &format!("{{ \"port\": {port} }}")),
        ],
        &[],
    );
    weir.wait_listening();
    assert_eq!(get(&format!("http://127.0.0.1:{port}/")), "from a module\n");
    assert_eq!(weir.stdout(), ["solving", "true"]);
}

/// A plugin chain as Pipy's tutorial 07 builds it: the main script exports `__route`,
/// a router plugin sets it, an upstream plugin forwards routed requests and passes others
/// on with `chain()`, a last plugin answers 404. Router and upstream each have a `_target`.
fn plugin_codebase(port: u16, alpha: u16, beta: u16) -> Vec<(&'static str, String)> {
    vec![
        (
            "main.js",
            "((config = pipy.solve('config.js')) => pipy()\n\
               .export('main', { __route: undefined })\n\
               .listen(config.listen)\n\
               .demuxHTTP().to($=>$.chain(config.plugins))\n\
             )()\n"
                .into(),
        ),
        ("config.js", "JSON.decode(pipy.load('config.json'))\n".into()),
        (
            "config.json",
            format!(
                "{{ \"listen\": {port}, \"plugins\": [\"plugins/router.js\", \"plugins/upstream.js\", \"plugins/last.js\"],\n\
                   \"routes\": {{ \"/api/\": \"alpha\", \"/static/\": \"beta\" }},\n\
                   \"upstreams\": {{ \"alpha\": \"127.0.0.1:{alpha}\", \"beta\": \"127.0.0.1:{beta}\" }} }}"
            ),
        ),
        (
            "plugins/router.js",
            "((config = pipy.solve('config.js')) => pipy({ _target: undefined })\n\
               .import({ __route: 'main' })\n\
               .pipeline()\n\
               .handleMessageStart(msg => {\n\
                 var prefix = Object.keys(config.routes).find(p => msg.head.path.startsWith(p))\n\
                 __route = prefix && config.routes[prefix]\n\
                 _target = 'mine'\n\
               })\n\
               .chain()\n\
               // The upstream plugin's _target is another variable: this one is still 'mine'.\n\
               .handleMessageStart(msg => {\n\
                 var headers = msg.head.headers || (msg.head.headers = {})\n\
                 headers['x-router'] = `${_target} ${__filename}`\n\
               })\n\
             )()\n"
                .into(),
        ),
        (
            "plugins/upstream.js",
            "((config = pipy.solve('config.js')) => pipy({ _target: undefined })\n\
               .import({ __route: 'main' })\n\
               .pipeline()\n\
               .branch(\n\
                 () => Boolean(_target = config.upstreams[__route]), $=>$\n\
                   .muxHTTP(() => _target).to($=>$.connect(() => _target)),\n\
                 $=>$.chain()\n\
               )\n\
             )()\n"
                .into(),
        ),
        (
            "plugins/last.js",
            "pipy()\n.pipeline()\n.replaceMessage(new Message({ status: 404 }, 'no route\\n'))\n".into(),
        ),
    ]
}

#[test]
fn a_plugin_chain_routes_by_path() {
    let alpha = HttpServer::start(|_, path| ("200 OK".into(), vec![], format!("alpha {path}\n")));
    let beta = HttpServer::start(|_, path| ("200 OK".into(), vec![], format!("beta {path}\n")));
    let port = free_port();
    let files = plugin_codebase(port, alpha.port, beta.port);
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let mut weir = run(&files, &[]);
    weir.wait_listening();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    assert_eq!(get(&url("/api/users")), "alpha /api/users\n");
    assert_eq!(get(&url("/static/a.css")), "beta /static/a.css\n");
    let (code, out, err) = curl(&["-i", &url("/elsewhere")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
    assert!(out.contains("x-router: mine /plugins/router.js\r\n"), "{out}");
    assert!(out.ends_with("no route\n"), "{out}");
    let (_, out, _) = curl(&["-i", &url("/api/x")]);
    assert!(out.contains("x-router: mine /plugins/router.js\r\n") && out.ends_with("alpha /api/x\n"), "{out}");
    // Requests on one keep-alive connection are routed one by one.
    let (code, out, err) = curl(&[&url("/static/1"), &url("/nowhere"), &url("/api/2"), &url("/static/3")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "beta /static/1\nno route\nalpha /api/2\nbeta /static/3\n");
}

#[test]
fn importing_a_variable_nobody_exported_fails_the_start() {
    let port = free_port();
    let mut files = plugin_codebase(port, 1, 2);
    files[3].1 = files[3].1.replace("__route: 'main'", "__route: 'nowhere'");
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let mut weir = run(&files, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    let err = weir.stderr().join("\n");
    assert!(err.contains("cannot import variable __route in") && err.contains("router.js"), "{err}");
}

#[test]
fn a_broken_plugin_names_its_own_file_and_line() {
    let port = free_port();
    let main = format!("pipy().listen({port}).demuxHTTP().to($=>$.chain(['plugins/p.js']))\n");
    for (plugin, expected) in [
        ("pipy()\n.pipeline()\n.dump())\n", "plugins/p.js:3:8: SyntaxError"),
        ("pipy()\n.pipeline()\n.connect(null.x)\n", "plugins/p.js:3:15: TypeError"),
        ("pipy()\n.pipeline('named')\n.dump()\n", "entrance pipeline not found in module"),
    ] {
        let mut weir = run(&[("main.js", &main), ("plugins/p.js", plugin)], &[]);
        assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
        let err = weir.stderr().join("\n");
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn a_syntax_error_in_a_solved_file_names_that_file() {
    let mut weir = run(&[("main.js", "var c = pipy.solve('c.js')\n"), ("c.js", "({\n  a: 1,\n  b: ]\n})\n")], &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(10)), Some(255));
    let err = weir.stderr().join("\n");
    assert!(err.contains("c.js:3:6: SyntaxError"), "{err}");
}
