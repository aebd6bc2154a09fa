//! The value globals (`zlib`, `IP`, `IPMask`, `IPEndpoint`, `URL.encode*`, `RESP`, `XML`) as a
//! script uses them, checked against real tools where there is one: Python's zlib, gzip,
//! ipaddress, urllib.parse and xml.parsers.expat (the XML parser Pipy uses).

use std::process::Command;
use std::time::Duration;

use weir_tests::*;

/// Runs `script` to its end and gives its stdout lines.
fn run(script: &str) -> Vec<String> {
    let mut weir = Weir::start(script, &[]);
    let code = weir.wait_exit(Duration::from_secs(20));
    assert_eq!(code, Some(0), "stderr: {:?}", weir.stderr());
    weir.stdout()
}

/// What `python3 -c program` prints, line by line.
fn python(program: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new("python3").arg("-c").arg(program).args(args).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
}

const TEXT: &str = "weir and pipy, weir and pipy, weir and pipy: zlib round trip é";

#[test]
fn zlib_agrees_with_pythons_zlib_and_gzip_both_ways() {
    let packed = python(
        "import sys, zlib, gzip; t = sys.argv[1].encode(); print(zlib.compress(t).hex()); print(gzip.compress(t).hex())",
        &[TEXT],
    );
    let script = format!(
        "var t = {TEXT:?}
println(zlib.inflate(new Data('{z}', 'hex')).toString())
println(zlib.gunzip(new Data('{g}', 'hex')).toString())
println(zlib.deflate(new Data(t)).toString('hex'))
println(zlib.gzip(new Data(t)).toString('hex'))
println(String(zlib.inflate(null)))
for (var bad of ['zlib.inflate(new Data(\"nope\"))', 'zlib.gunzip(new Data(\"{z}\", \"hex\"))', 'zlib.deflate(\"text\")']) {{
  try {{ eval(bad); println('no error') }} catch (e) {{ println(e.message) }}
}}
",
        z = packed[0],
        g = packed[1],
    );
    let out = run(&script);
    assert_eq!(out[..2], [TEXT, TEXT]);
    let unpacked = python(
        "import sys, zlib, gzip; print(zlib.decompress(bytes.fromhex(sys.argv[1])).decode()); \
         print(gzip.decompress(bytes.fromhex(sys.argv[2])).decode())",
        &[&out[2], &out[3]],
    );
    assert_eq!(unpacked, [TEXT, TEXT]);
    assert_eq!(out[4], "null");
    assert!(out[5].starts_with("zlib.inflate() failed: "), "{}", out[5]);
    assert!(out[6].starts_with("zlib.gunzip() failed: "), "{}", out[6]);
    assert_eq!(out[7], "zlib.deflate() takes a Data, not \"text\"");
}

const ADDRESSES: &[&str] =
    &["10.0.0.1", "255.255.255.255", "0.0.0.0", "2001:db8::1", "::", "fe80:0:0:0:1:0:0:1", "1:0:0:2:0:0:0:3"];

#[test]
fn ip_prints_and_splits_addresses_as_pythons_ipaddress() {
    let list = ADDRESSES.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(",");
    let script = format!(
        "for (var a of [{list}]) {{ var ip = new IP(a); println(`${{ip.version}} ${{ip}} ${{ip.toBytes().join(',')}} ${{IP.isV4(a)}} ${{IP.isV6(a)}}`) }}
var e = new IPEndpoint('[2001:db8::1]:8443', 'udp'); println(`${{e.protocol}} ${{e.ip}} ${{e.port}}`)
e = new IPEndpoint(new IP([192, 168, 1, 2]), 22); println(`${{e.protocol}} ${{e.ip}} ${{e.port}}`)
var m = new IPMask('10.1.2.3/8'); println(`${{m instanceof Netmask}} ${{m.base}} ${{m.contains('10.200.0.1')}}`)
for (var bad of ['new IP(\"1.2.3.4.5\")', 'new IPEndpoint(\"nohost:80\")', 'new IPEndpoint(\"1.2.3.4\", -1)']) {{
  try {{ eval(bad); println('no error') }} catch (e) {{ println(e.message) }}
}}
"
    );
    let expected = python(
        "import sys, ipaddress\n\
         for a in sys.argv[1:]:\n  ip = ipaddress.ip_address(a)\n  \
         print(ip.version, ip.compressed, ','.join(map(str, ip.packed)), str(ip.version == 4).lower(), str(ip.version == 6).lower())",
        ADDRESSES,
    );
    let out = run(&script);
    assert_eq!(out[..ADDRESSES.len()], expected[..]);
    assert_eq!(
        out[ADDRESSES.len()..],
        [
            "udp 2001:db8::1 8443",
            "tcp 192.168.1.2 22",
            "true 10.0.0.0 true",
            "IP(): invalid IP address notation: \"1.2.3.4.5\"",
            "IPEndpoint(): invalid address \"nohost:80\"",
            "IPEndpoint(): port number out of range: -1",
        ]
    );
}

const URL_TEXTS: &[&str] = &["/a b/c?x=1&y=é#top", "!*'()-_.~", "100% <sure>", "a+b=c;d,e$f@g:h"];

#[test]
fn url_codings_agree_with_pythons_quote_and_round_trip() {
    let list = URL_TEXTS.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(",");
    let script = format!(
        "for (var t of [{list}]) {{
  var a = URL.encode(t), b = URL.encodeComponent(t)
  println(a); println(b); println(String(URL.decodeComponent(b) === t))
}}
println(URL.decode('%2F%20%41%e2%82%ac'), URL.decodeComponent('%2F%20%41%e2%82%ac'))
try {{ URL.decode('%4') }} catch (e) {{ println(e.message) }}
"
    );
    let expected = python(
        "import sys, urllib.parse as u\n\
         for t in sys.argv[1:]:\n  print(u.quote(t, safe=\"-_.!~*'();/?:@&=+$,#\")); print(u.quote(t, safe=\"-_.!~*'()\")); print('true')",
        URL_TEXTS,
    );
    let out = run(&script);
    assert_eq!(out[..expected.len()], expected[..]);
    assert_eq!(out[expected.len()..], ["%2F %41€ / %41€", "URL.decode(): malformed URL: \"%4\""]);
}

#[test]
fn resp_decodes_and_encodes_redis_values() {
    let script = r#"
var wire = '*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n:-1234\r\n+OK\r\n-ERR wrong\r\n$-1\r\n*-1\r\n*1\r\n*0\r\n$4\r\nab'
var values = RESP.decode(new Data(wire))
println(values.length)
println(JSON.stringify(values.map(v => v instanceof Error ? 'Error: ' + v.message : Array.isArray(v) ? v.map(x => x instanceof Data ? x.toString() : x) : v)))
println(JSON.stringify(RESP.encode(['GET', new Data('key'), 7, null, [], new Error('no')]).toString()))
try { RESP.decode(new Data(':12x\r\n')) } catch (e) { println(e.message) }
"#;
    let out = run(script);
    assert_eq!(
        out,
        [
            "6",
            r#"[["SET","hello",-1234],"OK","Error: ERR wrong",null,null,[[]]]"#,
            r#""*6\r\n+GET\r\n$3\r\nkey\r\n:7\r\n$-1\r\n*0\r\n-no\r\n""#,
            "RESP.decode(): malformed RESP",
        ]
    );
}

/// Documents as expat reads them, in `XML.parse`'s shape, written as JSON (text runs joined).
const EXPAT_SHAPE: &str = r#"
import sys, json, xml.parsers.expat
for doc in sys.argv[1:]:
    root = {'name': '', 'attributes': {}, 'children': []}
    stack = [root]
    def start(name, attrs):
        node = {'name': name, 'attributes': dict(attrs) if attrs else None, 'children': []}
        stack[-1]['children'].append(node); stack.append(node)
    def text(data):
        if len(stack) == 1: return
        kids = stack[-1]['children']
        if kids and isinstance(kids[-1], str): kids[-1] += data
        else: kids.append(data)
    p = xml.parsers.expat.ParserCreate()
    p.ordered_attributes = False
    p.StartElementHandler = start
    p.EndElementHandler = lambda name: stack.pop()
    p.CharacterDataHandler = text
    p.Parse(doc, True)
    print(json.dumps(root, ensure_ascii=False, separators=(',', ':')))
"#;

const DOCUMENTS: &[&str] = &[
    "<?xml version=\"1.0\"?>\n<root a=\"1\" b=\"x &amp; y\">\n  <item id=\"7\">one</item>\n  <!-- note -->\n  <empty/>\n  text &lt;here&gt; <![CDATA[<raw>]]>\n</root>\n",
    "<a><b><c k=\"&quot;q&quot;\">deep</c></b>tail&#65;</a>",
];

#[test]
fn xml_parses_as_expat_and_round_trips() {
    let expected = python(EXPAT_SHAPE, DOCUMENTS);
    let list = DOCUMENTS.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(",");
    let script = format!(
        "function plain(n) {{ return typeof n === 'string' ? n : {{ name: n.name, attributes: n.attributes, children: n.children && n.children.map(plain) }} }}
function json(doc) {{ return JSON.stringify(plain(doc)) }}
for (var d of [{list}]) {{
  var doc = XML.parse(d)
  println(json(doc))
  println(String(json(XML.parse(XML.stringify(doc))) === json(doc)))
  println(String(json(XML.decode(XML.encode(doc, 2))) === json(XML.parse(XML.stringify(doc, 2)))))
}}
println(`${{XML.parse('<a><b></a>')}} ${{XML.parse('no xml')}}`)
println(JSON.stringify(XML.stringify(new XML.Node('', null, [new XML.Node('r', {{ k: 'v' }}, ['x', new XML.Node('y')])]), 2)))
try {{ XML.parse(42) }} catch (e) {{ println(e.message) }}
"
    );
    let out = run(&script);
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(&out[i * 3], e);
        assert_eq!(out[i * 3 + 1..i * 3 + 3], ["true", "true"], "document {i}");
    }
    assert_eq!(
        out[expected.len() * 3..],
        ["null null", r#""<r k=\"v\">\n  x\n  <y/>\n</r>\n""#, "XML.parse() takes a string, not 42"]
    );
}
