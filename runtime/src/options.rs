//! Option values as Pipy scripts write them: durations and sizes.

use std::time::Duration;

use boa_engine::{Context, JsNativeError, JsResult, JsValue};

/// The longest duration Weir keeps: longer ones (up to infinity) mean "never" and are cut to
/// this, so that no deadline computed from a script's value can overflow.
pub const FOREVER: Duration = Duration::from_secs(100 * 365 * 86400);

/// `secs` as a duration, with anything past [`FOREVER`] cut to it.
pub fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).map_or(FOREVER, |d| d.min(FOREVER))
}

/// A number of seconds, or a string with a unit: `'5s'`, `'1.5m'`, `'2h'`, `'1d'`, `'100ms'`.
/// Durations past [`FOREVER`] are cut to it.
///
/// Pipy reads `'100ms'` as 100 minutes; Weir reads it as milliseconds (a named deviation).
pub fn duration(v: &JsValue, ctx: &mut Context) -> JsResult<Duration> {
    if let Some(s) = v.as_string() {
        let s = s.to_std_string_escaped();
        return parse_duration(&s)
            .ok_or_else(|| JsNativeError::typ().with_message(format!("invalid duration: {s}")).into());
    }
    let secs = v.to_number(ctx)?;
    if secs.is_nan() || secs < 0.0 {
        return Err(JsNativeError::range().with_message(format!("invalid duration: {secs}")).into());
    }
    Ok(seconds(secs))
}

/// How much of a message a filter that holds whole messages keeps at most, unless its
/// `bufferLimit` option says otherwise.
pub const MESSAGE_LIMIT: usize = 16 << 20;

/// A size: a number of bytes or a string with a binary suffix (`'16k'`, `'1m'`, `'1g'`).
pub fn size(v: &JsValue, ctx: &mut Context) -> JsResult<usize> {
    let Some(s) = v.as_string() else {
        return Ok(v.to_length(ctx)? as usize);
    };
    let s = s.to_std_string_escaped();
    parse_size(&s).ok_or_else(|| JsNativeError::typ().with_message(format!("invalid size: {s}")).into())
}

/// A number of bytes with an optional binary suffix (`16k`, `1m`, `1g`).
pub fn parse_size(s: &str) -> Option<usize> {
    let t = s.trim().to_ascii_lowercase();
    let (num, scale) = match t.as_bytes().last() {
        Some(b'k') => (&t[..t.len() - 1], 1 << 10),
        Some(b'm') => (&t[..t.len() - 1], 1 << 20),
        Some(b'g') => (&t[..t.len() - 1], 1 << 30),
        _ => (&t[..], 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some((n * scale as f64) as usize)
}

pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok().filter(|n: &f64| n.is_finite())?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    Some(seconds(n * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("100ms"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("1e400"), None);
        assert_eq!(parse_duration("99999999999999999999999d"), Some(FOREVER));
        assert_eq!(seconds(1e20), FOREVER);
        assert_eq!(seconds(f64::INFINITY), FOREVER);
        assert_eq!(seconds(0.5), Duration::from_millis(500));
    }
}
