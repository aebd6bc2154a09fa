//! What `pipy` tells about this running instance: `since` (when it started, in ms since the
//! epoch), `source` (the script as given), `uuid` (a random v4 made at start) and
//! `performance` (`timeOrigin`, and `now()` in ms from it with µs precision).
//!
//! The start is when the first worker registered its globals, a few ms after the process
//! started (Pipy takes it in `main`); every worker shares it.

use std::sync::LazyLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use boa_engine::object::{FunctionObjectBuilder, JsObject, ObjectInitializer};
use boa_engine::property::{Attribute, PropertyDescriptor};
use boa_engine::{Context, JsResult, JsString, JsValue, NativeFunction, js_string};

use super::state::with_state;

struct Start {
    /// Milliseconds since the epoch, whole (as Pipy's `timeOrigin`).
    epoch_ms: f64,
    at: Instant,
    uuid: String,
}

static START: LazyLock<Start> = LazyLock::new(|| {
    let epoch_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0);
    Start { epoch_ms, at: Instant::now(), uuid: uuid_v4() }
});

/// A random (version 4) UUID, in its usual text form.
fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    // Only a failing kernel RNG leaves it zero; a UUID is no secret.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn accessor(o: &JsObject, name: JsString, get: NativeFunction, ctx: &mut Context) -> JsResult<()> {
    let get = FunctionObjectBuilder::new(ctx.realm(), get).name(name.clone()).build();
    let desc = PropertyDescriptor::builder().get(get).enumerable(true).configurable(true);
    o.define_property_or_throw(name, desc, ctx)?;
    Ok(())
}

/// Defines `since`, `source`, `uuid` and `performance` on `pipy`.
pub fn install(pipy: &JsObject, ctx: &mut Context) -> JsResult<()> {
    let start = &*START;
    accessor(pipy, js_string!("since"), NativeFunction::from_fn_ptr(|_, _, _| Ok(START.epoch_ms.into())), ctx)?;
    let source = NativeFunction::from_fn_ptr(|_, _, _| {
        Ok(JsString::from(with_state(|s| s.script_path.display().to_string())).into())
    });
    accessor(pipy, js_string!("source"), source, ctx)?;
    pipy.set(js_string!("uuid"), JsString::from(start.uuid.as_str()), false, ctx)?;
    let now = NativeFunction::from_fn_ptr(|_, _, _| Ok(((START.at.elapsed().as_micros() as f64) / 1000.0).into()));
    let performance = ObjectInitializer::new(ctx)
        .property(js_string!("timeOrigin"), start.epoch_ms, Attribute::READONLY | Attribute::ENUMERABLE)
        .function(now, js_string!("now"), 0)
        .build();
    pipy.set(js_string!("performance"), JsValue::from(performance), false, ctx)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_are_version_4_and_differ() {
        let (a, b) = (super::uuid_v4(), super::uuid_v4());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!("89ab".contains(&a[19..20]), "{a}");
    }
}
