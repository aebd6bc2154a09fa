//! `algo.URLRouter`: maps a host and path to a value, exact paths before `/prefix/*` rules.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{Context, Finalize, JsData, JsResult, JsValue, NativeFunction, Trace};
use boa_gc::GcRefCell;

use super::{arg, method};
use crate::js::type_error;

/// Rules for one host (`""` for rules without a host).
#[derive(Trace, Finalize)]
struct HostRules {
    host: String,
    exact: Vec<(String, JsValue)>,
    /// `/a/b/*`: the segments before `*`, matching the prefix itself and everything below.
    prefixes: Vec<(Vec<String>, JsValue)>,
}

#[derive(Trace, Finalize, JsData)]
pub struct UrlRouter {
    hosts: GcRefCell<Vec<HostRules>>,
}

impl UrlRouter {
    fn add(&self, pattern: &str, value: JsValue) -> JsResult<()> {
        let invalid = || type_error(format!("invalid URL pattern: {pattern}"));
        let slash = pattern.find('/').ok_or_else(invalid)?;
        let (host, path) = pattern.split_at(slash);
        if host.contains(':') {
            return Err(invalid());
        }
        let mut hosts = self.hosts.borrow_mut();
        let rules = match hosts.iter().position(|h| h.host == host) {
            Some(i) => &mut hosts[i],
            None => {
                hosts.push(HostRules { host: host.to_string(), exact: Vec::new(), prefixes: Vec::new() });
                hosts.last_mut().unwrap()
            }
        };
        match path.strip_suffix("/*").or((path == "*").then_some("")) {
            Some(prefix) => {
                let segs: Vec<String> = prefix.split('/').filter(|s| !s.is_empty()).map(String::from).collect();
                rules.prefixes.retain(|(p, _)| *p != segs);
                rules.prefixes.push((segs, value));
            }
            None => {
                rules.exact.retain(|(p, _)| p != path);
                rules.exact.push((path.to_string(), value));
            }
        }
        Ok(())
    }

    fn find_in(&self, host: &str, path: &str) -> Option<JsValue> {
        let hosts = self.hosts.borrow();
        let rules = hosts.iter().find(|h| h.host == host)?;
        if let Some((_, v)) = rules.exact.iter().find(|(p, _)| p == path) {
            return Some(v.clone());
        }
        let segs: Vec<&str> = path[1..].split('/').collect();
        rules
            .prefixes
            .iter()
            .filter(|(p, _)| p.len() <= segs.len() && p.iter().zip(&segs).all(|(a, b)| a == b))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, v)| v.clone())
    }

    /// Exact host, then `*.` + the host without its first label, then host-less rules.
    fn find(&self, url: &str) -> Option<JsValue> {
        let path_start = url.find('/')?;
        let path_end = url[path_start..].find('?').map_or(url.len(), |i| path_start + i);
        let path = &url[path_start..path_end];
        let domain = &url[..path_start];
        let domain = domain.rfind(':').map_or(domain, |i| &domain[..i]);
        if !domain.is_empty() {
            if let Some(v) = self.find_in(domain, path) {
                return Some(v);
            }
            if let Some(v) = domain.find('.').and_then(|dot| self.find_in(&format!("*{}", &domain[dot..]), path)) {
                return Some(v);
            }
        }
        self.find_in("", path)
    }
}

impl Class for UrlRouter {
    const NAME: &'static str = "URLRouter";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let router = UrlRouter { hosts: GcRefCell::new(Vec::new()) };
        if let Some(rules) = args.first().and_then(|v| v.as_object()) {
            for key in rules.own_property_keys(ctx)? {
                let pattern = JsValue::from(key.clone()).to_string(ctx)?.to_std_string_escaped();
                let value = rules.get(key, ctx)?;
                router.add(&pattern, value)?;
            }
        }
        Ok(router)
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        method(
            class,
            "add",
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let pattern = arg(args, 0).to_string(ctx)?.to_std_string_escaped();
                with_router(this, |r| r.add(&pattern, arg(args, 1)))?;
                Ok(JsValue::undefined())
            }),
        );
        method(
            class,
            "find",
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let mut url = String::new();
                for a in args.iter().filter(|a| !a.is_null_or_undefined()) {
                    let s = a.to_string(ctx)?.to_std_string_escaped();
                    url = join(&url, &s);
                }
                with_router(this, |r| Ok(r.find(&url).unwrap_or_default()))
            }),
        );
        Ok(())
    }
}

/// Joins two URL parts with exactly one `/` between them.
fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        return b.to_string();
    }
    format!("{}/{}", a.trim_end_matches('/'), b.trim_start_matches('/'))
}

fn with_router<R>(this: &JsValue, f: impl FnOnce(&UrlRouter) -> JsResult<R>) -> JsResult<R> {
    let obj = this.as_object().ok_or_else(|| type_error("not a URLRouter"))?;
    let r = obj.downcast_ref::<UrlRouter>().ok_or_else(|| type_error("not a URLRouter"))?;
    f(&r)
}
