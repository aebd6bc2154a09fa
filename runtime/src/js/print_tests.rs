//! What `println` prints for common values, next to what Pipy prints (its
//! src/api/console.cpp and pjs number formatting). Where the two differ, the row says why.

use boa_engine::Source;

use super::print::format_args;

/// `(expression, what println prints)`.
const TABLE: &[(&str, &str)] = &[
    ("1", "1"),
    ("200", "200"),
    ("-42", "-42"),
    ("2 ** 53 - 1", "9007199254740991"),
    ("2 ** 53", "9007199254740992"),
    ("-(2 ** 53) - 2", "-9007199254740994"),
    ("0.5", "0.5"),
    // Pipy: 0.3 and 0.333333333333 (twelve decimals); Weir keeps every digit.
    ("0.1 + 0.2", "0.30000000000000004"),
    ("1 / 3", "0.3333333333333333"),
    ("1e21", "1000000000000000000000"),
    ("-0", "-0"),
    ("-Infinity", "-Infinity"),
    ("NaN", "NaN"),
    ("true", "true"),
    ("null", "null"),
    ("undefined", "undefined"),
    ("'text'", "text"),
    ("'caf\\u00e9 \\u4e2d'", "caf\u{e9} \u{4e2d}"),
    ("['a\"b\\n', 'c']", "[ \"a\\\"b\\n\", \"c\" ]"),
    ("[]", "[  ]"),
    ("({})", "{  }"),
    ("({ a: { b: [1, 2] }, 'x-y': 'z' })", "{ a: { b: [ 1, 2 ] }, x-y: \"z\" }"),
    // Pipy: { x-y: 1, 2: "two" } (literal order); JS puts integer keys first.
    ("({ 'x-y': 1, 2: 'two' })", "{ 2: \"two\", x-y: 1 }"),
    ("[1, , , 4]", "[ 1, empty x 2 times, 4 ]"),
    ("new Array(3)", "[ empty x 3 times ]"),
    ("(() => { var o = { n: 1 }; o.self = o; return o })()", "{ n: 1, self: { ...recursive } }"),
    ("function foo() {}; foo", "Function{ foo }"),
    ("new Map([[1, 2]])", "{ size: 1 }"),
    ("new Set([1, 2])", "{ size: 2 }"),
    ("new Data('hello world')", "Data[ 68 65 6c 6c 6f 20 77 6f 72 6c 64 ]"),
    ("new Data('hello world!!')", "Data[ 68 65 6c 6c 6f 20 77 6f 72 6c ... and 3 more bytes ]"),
    ("new Message('x')", "{ head: null, tail: null, body: Data[ 78 ], payload: undefined }"),
    ("new MessageStart({ path: '/' })", "{ type: \"MessageStart\", head: { path: \"/\" } }"),
    ("new StreamEnd('ConnectionReset')", "{ type: \"StreamEnd\", error: \"ConnectionReset\" }"),
    ("new (class P { constructor() { this.x = 1 } })()", "{ x: 1 }"),
    // Pipy's RegExp has these four fields, in this order.
    ("/ab+c/g", "{ source: \"ab+c\", global: true, ignoreCase: false, lastIndex: 0 }"),
    ("new String('ab')", "{ length: 2, 0: \"a\", 1: \"b\" }"),
    // Pipy has no Symbol, no typed arrays, and prints a Date as `{  }`.
    ("Symbol('s')", "Symbol(s)"),
    ("[Symbol()]", "[ Symbol() ]"),
    ("new Uint8Array([1, 255])", "Uint8Array[ 1, 255 ]"),
    ("new Float64Array([0.5, -0])", "Float64Array[ 0.5, -0 ]"),
    ("new Date(0)", "Date{ 1970-01-01T00:00:00.000Z }"),
    ("new Date(NaN)", "Date{ Invalid Date }"),
];

/// An error shows Pipy's four fields; its stack is Boa's, so only its start is compared.
#[test]
fn errors_print_their_name_message_cause_and_stack() {
    let mut ctx = super::new_context().unwrap();
    let rows = [
        ("new Error('boom')", "{ name: \"Error\", message: \"boom\", cause: null, stack: \""),
        ("new TypeError('bad')", "{ name: \"TypeError\", message: \"bad\", cause: null, stack: \""),
        ("new Error('x', { cause: 1 })", "{ name: \"Error\", message: \"x\", cause: 1, stack: \""),
    ];
    for (expr, start) in rows {
        let v = ctx.eval(Source::from_bytes(expr)).unwrap();
        let got = format_args(&[v], &mut ctx).unwrap();
        assert!(got.starts_with(start) && got.ends_with("\" }"), "{expr}: printed {got}");
    }
}

#[test]
fn values_print_as_pipy_prints_them() {
    let mut ctx = super::new_context().unwrap();
    let mut wrong = Vec::new();
    for (expr, expected) in TABLE {
        let v = ctx.eval(Source::from_bytes(expr)).unwrap();
        let got = format_args(&[v], &mut ctx).unwrap();
        if got != *expected {
            wrong.push(format!("{expr}: printed {got}, expected {expected}"));
        }
    }
    assert!(wrong.is_empty(), "{} of {} differ:\n{}", wrong.len(), TABLE.len(), wrong.join("\n"));
}
