//! What `println`, `print` and `console.*` print for values of every kind, end to end: the
//! text a user compares with Pipy's. Each row says what differs from Pipy and why
//! (js-api/porting.md, "Printing values").

use std::time::Duration;

use weir_tests::*;

/// `(expression, the line println(expression) prints)`.
const ROWS: &[(&str, &str)] = &[
    ("42", "42"),
    ("-1.5", "-1.5"),
    ("2 ** 53", "9007199254740992"),
    // Pipy's twelve decimals, where they hold the whole number.
    ("1e21", "1000000000000000000000"),
    ("1e-7", "0.0000001"),
    ("-0", "-0"),
    // Pipy prints 0.3, 0.333333333333 and 0: twelve decimals lose these; Weir keeps them.
    ("0.1 + 0.2", "0.30000000000000004"),
    ("1 / 3", "0.3333333333333333"),
    ("1e-13", "1e-13"),
    ("NaN", "NaN"),
    ("-Infinity", "-Infinity"),
    ("false", "false"),
    ("null", "null"),
    ("undefined", "undefined"),
    ("'plain text'", "plain text"),
    (r#"['say "hi"\n\ttab\\', 'é']"#, r#"[ "say \"hi\"\n\ttab\\", "é" ]"#),
    ("[]", "[  ]"),
    ("({})", "{  }"),
    ("[1, 'a', null, undefined, true]", r#"[ 1, "a", null, undefined, true ]"#),
    ("[1, , , 4, , ]", "[ 1, empty x 2 times, 4, empty ]"),
    ("({ a: { b: [1, { c: 'd' }] } })", r#"{ a: { b: [ 1, { c: "d" } ] } }"#),
    // Pipy keeps the literal's order, { x-y: 1, 2: "two" }; JavaScript puts integer keys first.
    ("({ 'x-y': 1, 2: 'two' })", r#"{ 2: "two", x-y: 1 }"#),
    ("(() => { var o = { n: 1 }; o.self = o; return o })()", "{ n: 1, self: { ...recursive } }"),
    ("(() => { var a = [1]; a.push(a); return a })()", "[ 1, Array{ ...recursive } ]"),
    ("(() => { var s = { k: 1 }; return { a: s, b: s } })()", "{ a: { k: 1 }, b: { k: 1 } }"),
    ("new Map([[1, 2], ['a', 'b']])", "{ size: 2 }"),
    ("new Set([1])", "{ size: 1 }"),
    ("new Data('hello')", "Data[ 68 65 6c 6c 6f ]"),
    ("new Data('hello world')", "Data[ 68 65 6c 6c 6f 20 77 6f 72 6c 64 ]"),
    ("new Data('hello world!!')", "Data[ 68 65 6c 6c 6f 20 77 6f 72 6c ... and 3 more bytes ]"),
    ("new Data", "Data[ ]"),
    ("new Message('x')", "{ head: null, tail: null, body: Data[ 78 ], payload: undefined }"),
    ("new MessageStart({ path: '/' })", r#"{ type: "MessageStart", head: { path: "/" } }"#),
    ("new MessageEnd()", r#"{ type: "MessageEnd", tail: null, payload: undefined }"#),
    ("new Message({ path: '/' }, 'x')", r#"{ head: { path: "/" }, tail: null, body: Data[ 78 ], payload: undefined }"#),
    ("new StreamEnd('ConnectionReset')", r#"{ type: "StreamEnd", error: "ConnectionReset" }"#),
    ("/ab+c/g", r#"{ source: "ab+c", global: true, ignoreCase: false, lastIndex: 0 }"#),
    ("function foo(a) {}; foo", "Function{ foo }"),
    ("[Math.max]", "[ Function{ max } ]"),
    // Pipy has no Date fields ({  }), no Symbol, no typed arrays: Weir shows what they hold.
    ("new Date(86400000)", "Date{ 1970-01-02T00:00:00.000Z }"),
    ("Symbol('s')", "Symbol(s)"),
    ("new Uint8Array([1, 255])", "Uint8Array[ 1, 255 ]"),
];

#[test]
fn println_prints_each_kind_of_value_as_pipy() {
    let mut script = String::new();
    for (expr, _) in ROWS {
        script.push_str(&format!("println((() => {{ return {expr} }})())\n"));
    }
    script.push_str(
        "println('many', 1, 'two', [3], { four: 4 })
println()
print('no newline', 2); println('|')
var e = new Error('boom'); println(e.name, e.message, String(e.cause))
println(new Error('boom'))
console.log('logged', [1], { k: 'v' })
console.error('failed', null)
var h = {}; h['x-k'] = 1; println(h)
pipeline($=>$.decodeHTTPRequest().handleMessageStart(m => println(m.head.headers, m.head.headerNames)))
  .process([new Data('GET / HTTP/1.1\\r\\nHost: a\\r\\nX-Y: 1\\r\\n\\r\\n'), new StreamEnd])
  .then(() => pipeline($=>$.decodeHTTPResponse().handleMessageStart(m => println(m.head)))
    .process([new Data('HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n'), new StreamEnd]))
  .then(() => pipeline($=>$.decodeHTTPRequest().handleMessageStart(m => println(m.head)))
    .process([new Data('GET /p HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n'), new StreamEnd]))
",
    );
    let mut weir = Weir::start(&script, &[]);
    assert_eq!(weir.wait_exit(Duration::from_secs(20)), Some(0), "stderr: {:?}", weir.stderr());
    let out = weir.stdout();
    let mut wrong = Vec::new();
    for (i, (expr, expected)) in ROWS.iter().enumerate() {
        if out.get(i).map(String::as_str) != Some(*expected) {
            wrong.push(format!("{expr}: printed {:?}, expected {expected}", out.get(i)));
        }
    }
    assert!(wrong.is_empty(), "{} of {} differ:\n{}", wrong.len(), ROWS.len(), wrong.join("\n"));
    let rest = &out[ROWS.len()..];
    assert_eq!(rest[..4], [r#"many 1 two [ 3 ] { four: 4 }"#, "", "no newline 2|", "Error boom undefined"]);
    assert!(rest[4].starts_with(r#"{ name: "Error", message: "boom", cause: null, stack: ""#), "{}", rest[4]);
    // Pipy quotes the keys of an object that was not a literal: Weir those of the objects it
    // builds (headers), not those a script adds (Pipy: { "x-k": 1 }).
    // A head's fields in Pipy's order; Weir's HTTP/1 heads have no scheme or authority, as Pipy's.
    assert_eq!(
        rest[5..],
        [
            r#"{ x-k: 1 }"#,
            r#"{ "host": "a", "x-y": "1" } { "host": "Host", "x-y": "X-Y" }"#,
            r#"{ protocol: "HTTP/1.1", headers: { "content-length": "0" }, headerNames: { "content-length": "Content-Length" }, status: 200, statusText: "OK" }"#,
            r#"{ protocol: "HTTP/1.1", headers: { "host": "a" }, headerNames: { "host": "Host" }, method: "GET", scheme: undefined, authority: undefined, path: "/p" }"#,
        ]
    );
    let err = weir.stderr();
    let logged = |text: &str| err.iter().any(|l| l.ends_with(text));
    assert!(logged("[INF] logged [ 1 ] { k: \"v\" }"), "{err:?}");
    assert!(logged("[ERR] failed null"), "{err:?}");
}
