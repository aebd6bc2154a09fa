//! The `http` namespace: `http.File` (one file of the script's folder, with its precompressed
//! variants) and `http.Directory` (a folder served to requests), one file each, and what
//! they share (content.rs); `http.Agent` (an HTTP client, agent.rs) and `http.Match` (path
//! patterns, matcher.rs).

mod agent;
mod content;
mod directory;
mod file;
mod matcher;
mod range;

use boa_engine::class::Class;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsResult, JsString, js_string};

use agent::Agent;
use directory::Directory;
use file::File;

pub fn register(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<File>()?;
    ctx.register_global_class::<Directory>()?;
    ctx.register_global_class::<Agent>()?;
    let global = ctx.global_object();
    let names = [File::NAME, Directory::NAME, Agent::NAME];
    let mut members = Vec::new();
    for name in names {
        members.push((JsString::from(name), global.get(JsString::from(name), ctx)?));
    }
    members.push((JsString::from(matcher::NAME), matcher::constructor(ctx).into()));
    let mut http = ObjectInitializer::new(ctx);
    for (name, ctor) in members {
        http.property(name, ctor, Attribute::WRITABLE | Attribute::CONFIGURABLE);
    }
    let http = http.build();
    // The classes live under `http`, not as globals (`File` would shadow nothing, but Pipy
    // has no such global either).
    for name in names {
        global.delete_property_or_throw(JsString::from(name), ctx)?;
    }
    ctx.register_global_property(js_string!("http"), http, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    Ok(())
}
