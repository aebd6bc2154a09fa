//! `URL(url, base?)`, as Pipy's: the parts of a URL as strings, split the way Pipy splits
//! them (no canonical form, no percent-encoding; a missing scheme is `http:`, a missing port
//! is the scheme's), and `searchParams`, a `URLSearchParams` of the query.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, NativeFunction, Trace};

use super::type_error;
use super::url_search_params::UrlSearchParams;

/// The parts of a URL, each as Pipy's accessor of that name returns it.
#[derive(Debug, Default, PartialEq)]
pub struct Parts {
    pub auth: String,
    pub hash: String,
    pub host: String,
    pub hostname: String,
    pub href: String,
    pub origin: String,
    pub password: String,
    pub path: String,
    pub pathname: String,
    pub port: String,
    pub protocol: String,
    pub query: String,
    pub search: String,
    pub username: String,
}

/// `scheme:` when `url` starts with one (a letter, then letters, digits, `+`, `-`, `.`).
fn scheme(url: &str) -> &str {
    for (i, c) in url.char_indices() {
        let ok = if i == 0 { c.is_ascii_alphabetic() } else { c.is_ascii_alphanumeric() || "+-.".contains(c) };
        if c == ':' && i > 0 {
            return &url[..=i];
        }
        if !ok {
            break;
        }
    }
    ""
}

/// `//host` at the start of `rest`, up to the next `/`.
fn authority(rest: &str) -> &str {
    if !rest.starts_with("//") {
        return "";
    }
    match rest.find(|c| c != '/') {
        Some(i) => rest[i..].find('/').map_or(rest, |j| &rest[..i + j]),
        None => "",
    }
}

impl Parts {
    pub fn parse(url: &str, base: &str) -> Parts {
        let mut protocol = scheme(url).to_string();
        let rest = &url[protocol.len()..];
        let mut host = authority(rest).to_string();
        let mut path = rest[host.len()..].to_string();
        if host.trim_start_matches('/').is_empty() && !base.is_empty() {
            protocol = scheme(base).to_string();
            let rest = &base[protocol.len()..];
            host = authority(rest).to_string();
            let base_path = &rest[host.len()..];
            if path.is_empty() {
                path = base_path.to_string();
            } else if !path.starts_with('/') {
                let dir = base_path.rfind('/').map_or(base_path, |i| &base_path[..i]);
                path = format!("{dir}/{path}");
            }
        }
        let host = host.trim_start_matches('/').to_string();
        let (auth, host) = match host.split_once('@') {
            Some((a, h)) => (a.to_string(), h.to_string()),
            None => (String::new(), host),
        };
        let (username, password) = match auth.split_once(':') {
            Some((u, p)) => (u.to_string(), p.to_string()),
            None => (auth.clone(), String::new()),
        };
        let (hostname, mut port) = split_port(&host);
        let hash = match path.rfind('#') {
            Some(i) => path.split_off(i),
            None => String::new(),
        };
        let (mut pathname, search, query) = match path.find('?') {
            Some(i) => (path[..i].to_string(), path[i..].to_string(), path[i + 1..].to_string()),
            None => (path.clone(), String::new(), String::new()),
        };
        if protocol.is_empty() {
            protocol = "http:".into();
        }
        if path.is_empty() {
            path = "/".into();
            pathname = "/".into();
        }
        if port.is_empty() {
            let known = [("ftp:", "21"), ("gopher:", "70"), ("http:", "80"), ("https:", "443"), ("ws:", "80")];
            let known = known.into_iter().chain([("wss:", "443")]);
            port = known.into_iter().find(|(p, _)| *p == protocol).map_or("", |(_, n)| n).to_string();
        }
        let origin = format!("{protocol}//{host}");
        let at = if auth.is_empty() { String::new() } else { format!("{auth}@") };
        let href = format!("{protocol}//{at}{host}{path}{hash}");
        Parts {
            auth,
            hash,
            host,
            hostname,
            href,
            origin,
            password,
            path,
            pathname,
            port,
            protocol,
            query,
            search,
            username,
        }
    }
}

/// `host:port` or `[v6]:port` into the two; no port is `''`.
fn split_port(host: &str) -> (String, String) {
    if host.starts_with('[') {
        return match host.find("]:") {
            Some(i) => (host[..=i].to_string(), host[i + 2..].to_string()),
            None => (host.to_string(), String::new()),
        };
    }
    match host.split_once(':') {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => (host.to_string(), String::new()),
    }
}

#[derive(Trace, Finalize, JsData)]
pub struct Url {
    #[unsafe_ignore_trace]
    parts: Box<Parts>,
    search_params: JsObject,
}

/// Reads one part.
type Part = fn(&Parts) -> &String;

/// The accessors, each reading one part.
const PARTS: &[(&str, Part)] = &[
    ("auth", |p| &p.auth),
    ("hash", |p| &p.hash),
    ("host", |p| &p.host),
    ("hostname", |p| &p.hostname),
    ("href", |p| &p.href),
    ("origin", |p| &p.origin),
    ("password", |p| &p.password),
    ("path", |p| &p.path),
    ("pathname", |p| &p.pathname),
    ("port", |p| &p.port),
    ("protocol", |p| &p.protocol),
    ("query", |p| &p.query),
    ("search", |p| &p.search),
    ("username", |p| &p.username),
];

fn with_url<R>(this: &JsValue, f: impl FnOnce(&Url) -> R) -> JsResult<R> {
    let obj = this.as_object().ok_or_else(|| type_error("not a URL"))?;
    let url = obj.downcast_ref::<Url>().ok_or_else(|| type_error("not a URL"))?;
    Ok(f(&url))
}

impl Class for Url {
    const NAME: &'static str = "URL";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let url = super::arg_str(args, 0).ok_or_else(|| type_error("URL() takes a string"))?;
        let base = match args.get(1) {
            Some(b) if !b.is_null_or_undefined() => b.to_string(ctx)?.to_std_string_escaped(),
            _ => String::new(),
        };
        let parts = Box::new(Parts::parse(&url, &base));
        let search_params = UrlSearchParams::from_data(UrlSearchParams::parse(&parts.search), ctx)?;
        Ok(Url { parts, search_params })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        for (name, read) in PARTS {
            let read = *read;
            let get = NativeFunction::from_copy_closure(move |this, _, _| {
                with_url(this, |u| JsString::from(read(&u.parts).as_str()).into())
            });
            class.accessor(JsString::from(*name), Some(get.to_js_function(&realm)), None, Attribute::CONFIGURABLE);
        }
        let params = NativeFunction::from_fn_ptr(|this, _, _| with_url(this, |u| u.search_params.clone().into()));
        let params = Some(params.to_js_function(&realm));
        class.accessor(JsString::from("searchParams"), params, None, Attribute::CONFIGURABLE);
        let codings: [(&str, Coding); 4] = [
            ("encode", encode),
            ("decode", decode),
            ("encodeComponent", encode_component),
            ("decodeComponent", decode_component),
        ];
        for (name, f) in codings {
            let method = NativeFunction::from_copy_closure(move |_, args, _| {
                let s = super::arg_str(args, 0).ok_or_else(|| {
                    type_error(format!(
                        "URL.{name}() takes a string, not {}",
                        args.first().cloned().unwrap_or_default().display()
                    ))
                })?;
                f(&s).map(|s| JsString::from(s).into()).map_err(|e| type_error(format!("URL.{name}(): {e}: {s:?}")))
            });
            class.static_method(JsString::from(name), 1, method);
        }
        Ok(())
    }
}

/// One of `URL`'s static codings of a string.
type Coding = fn(&str) -> Result<String, &'static str>;

/// Characters no coding escapes, beside letters and digits.
const UNRESERVED: &[u8] = b"-_.!~*'()";
/// Characters `encode` and `decode` leave as they are, as in a whole URL.
const RESERVED: &[u8] = b";/?:@&=+$,#";

fn kept(b: u8, whole: bool) -> bool {
    b.is_ascii_alphanumeric() || UNRESERVED.contains(&b) || (whole && RESERVED.contains(&b))
}

fn escape(s: &str, whole: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if kept(b, whole) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Pipy's unescaping: `%XX` of a character the coding keeps stays escaped (as `%XX` in
/// upper case), others become their byte; the bytes are read as UTF-8.
fn unescape(s: &str, whole: bool) -> Result<String, &'static str> {
    let (bytes, mut out, mut i) = (s.as_bytes(), Vec::with_capacity(s.len()), 0);
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        // Two hex digits (`from_str_radix` alone would take `+1`).
        let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
        let hex = hex.and_then(|h| std::str::from_utf8(h).ok());
        let b = hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("malformed URL")?;
        if kept(b, whole) {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
        i += 3;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn encode(s: &str) -> Result<String, &'static str> {
    Ok(escape(s, true))
}

fn decode(s: &str) -> Result<String, &'static str> {
    unescape(s, true)
}

fn encode_component(s: &str) -> Result<String, &'static str> {
    Ok(escape(s, false))
}

fn decode_component(s: &str) -> Result<String, &'static str> {
    unescape(s, false)
}

#[cfg(test)]
mod tests {
    use super::{Parts, decode, decode_component, encode, encode_component};

    #[test]
    fn codings_escape_and_unescape_as_pipy() {
        assert_eq!(encode("/a b?x=é&y=(1)").unwrap(), "/a%20b?x=%C3%A9&y=(1)");
        assert_eq!(encode_component("/a b?x=é&y=(1)").unwrap(), "%2Fa%20b%3Fx%3D%C3%A9%26y%3D(1)");
        assert_eq!(decode("%2Fa%20b%3f%C3%A9%41").unwrap(), "%2Fa b%3Fé%41");
        assert_eq!(decode_component("%2Fa%20b%3f%C3%A9%41").unwrap(), "/a b?é%41");
        assert_eq!(decode("a%2").unwrap_err(), "malformed URL");
        assert_eq!(decode_component("%zz").unwrap_err(), "malformed URL");
        assert_eq!(decode_component("%+1").unwrap_err(), "malformed URL");
    }

    #[test]
    fn a_full_url_splits_into_pipys_parts() {
        let p = Parts::parse("https://u:pw@example.com:8443/a/b?x=1&y=2#top", "");
        let got = [
            &p.protocol,
            &p.auth,
            &p.username,
            &p.password,
            &p.host,
            &p.hostname,
            &p.port,
            &p.path,
            &p.pathname,
            &p.search,
            &p.query,
            &p.hash,
            &p.origin,
            &p.href,
        ];
        let expected = [
            "https:",
            "u:pw",
            "u",
            "pw",
            "example.com:8443",
            "example.com",
            "8443",
            "/a/b?x=1&y=2",
            "/a/b",
            "?x=1&y=2",
            "x=1&y=2",
            "#top",
            "https://example.com:8443",
            "https://u:pw@example.com:8443/a/b?x=1&y=2#top",
        ];
        assert_eq!(got.map(|s| s.as_str()), expected);
    }

    #[test]
    fn defaults_and_bases() {
        let p = Parts::parse("//example.com", "");
        assert_eq!((p.protocol.as_str(), p.port.as_str(), p.path.as_str()), ("http:", "80", "/"));
        let p = Parts::parse("c/d?q", "https://h/a/b");
        assert_eq!((p.href.as_str(), p.port.as_str(), p.query.as_str()), ("https://h/a/c/d?q", "443", "q"));
        let p = Parts::parse("/x", "ws://h:1/a");
        assert_eq!(p.href, "ws://h:1/x");
        let p = Parts::parse("http://[::1]:8080/", "");
        assert_eq!((p.hostname.as_str(), p.port.as_str()), ("[::1]", "8080"));
    }
}
