//! Option values as Pipy scripts write them: durations and sizes.

use std::time::Duration;

use boa_engine::{Context, JsNativeError, JsResult, JsValue, js_string};

/// A number of seconds, or a string with a unit: `'5s'`, `'1.5m'`, `'2h'`, `'1d'`, `'100ms'`.
///
/// Pipy reads `'100ms'` as 100 minutes; Weir reads it as milliseconds (a named deviation).
pub fn duration(v: &JsValue, ctx: &mut Context) -> JsResult<Duration> {
    if let Some(s) = v.as_string() {
        let s = s.to_std_string_escaped();
        return parse_duration(&s)
            .ok_or_else(|| JsNativeError::typ().with_message(format!("invalid duration: {s}")).into());
    }
    let secs = v.to_number(ctx)?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(JsNativeError::range().with_message(format!("invalid duration: {secs}")).into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The `bufferSize` option: a number of bytes or a string with a binary suffix (`'16k'`,
/// `'1m'`, `'1g'`); 0 or absent means the filter's default.
pub fn buffer_size(options: Option<&JsValue>, ctx: &mut Context) -> JsResult<usize> {
    let Some(o) = options.and_then(|o| o.as_object()) else {
        return Ok(0);
    };
    let v = o.get(js_string!("bufferSize"), ctx)?;
    if v.is_null_or_undefined() {
        return Ok(0);
    }
    let Some(s) = v.as_string() else {
        return Ok(v.to_length(ctx)? as usize);
    };
    let s = s.to_std_string_escaped();
    let invalid = || JsNativeError::typ().with_message(format!("invalid size: {s}"));
    let t = s.trim().to_ascii_lowercase();
    let (num, scale) = match t.as_bytes().last() {
        Some(b'k') => (&t[..t.len() - 1], 1 << 10),
        Some(b'm') => (&t[..t.len() - 1], 1 << 20),
        Some(b'g') => (&t[..t.len() - 1], 1 << 30),
        _ => (&t[..], 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| invalid())?;
    if !n.is_finite() || n < 0.0 {
        return Err(invalid().into());
    }
    Ok((n * scale as f64) as usize)
}

pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(n * scale))
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
    }
}
