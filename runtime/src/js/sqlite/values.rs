//! SQLite values to and from script values.

use boa_engine::{Context, JsBigInt, JsResult, JsString, JsValue};
use rusqlite::types::{Value, ValueRef};

use crate::js::data::Data;

/// The largest integer a JS number holds exactly.
const SAFE: i64 = (1 << 53) - 1;

/// A column as a script value: numbers, text, `Data` for a blob, `null`. An integer past
/// what a number holds exactly is a BigInt (Pipy's is its own 64-bit `Int`).
pub fn to_js(v: Value, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(match v {
        Value::Null => JsValue::null(),
        Value::Integer(i) if (-SAFE..=SAFE).contains(&i) => (i as f64).into(),
        Value::Integer(i) => JsBigInt::from(i).into(),
        Value::Real(f) => f.into(),
        Value::Text(s) => JsString::from(s.as_str()).into(),
        Value::Blob(b) => Data::to_js(b, ctx)?,
    })
}

/// A script value bound to a parameter, as Pipy binds it: a number as a real, a boolean as
/// 0 or 1, `Data` as a blob, `undefined`/`null` as NULL, anything else as its text.
pub fn from_js(v: &JsValue, ctx: &mut Context) -> JsResult<Value> {
    if v.is_null_or_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = v.as_boolean() {
        return Ok(Value::Integer(b as i64));
    }
    if let Some(n) = v.as_number() {
        return Ok(Value::Real(n));
    }
    if let Some(b) = v.as_bigint() {
        return Ok(b.to_string().parse().map(Value::Integer).unwrap_or(Value::Null));
    }
    if let Some(bytes) = Data::bytes_of(v) {
        return Ok(Value::Blob(bytes.to_vec()));
    }
    Ok(Value::Text(v.to_string(ctx)?.to_std_string_escaped()))
}

/// A column as `sqlite3_exec` gives it: text, or `None` for NULL.
pub fn as_text(v: ValueRef<'_>) -> Option<String> {
    Some(match v {
        ValueRef::Null => return None,
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => real_text(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    })
}

/// A real as SQLite writes one (`%!.15g`): 15 significant digits, and `.0` on a whole number.
fn real_text(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            String::new()
        } else if f > 0.0 {
            "Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:.14e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, digits) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = digits.chars().filter(|c| *c != '.').collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    if !(-5..15).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        return format!("{sign}{first}.{rest}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let point = exp + 1;
    if point <= 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-point) as usize));
    }
    let point = point as usize;
    if digits.len() <= point {
        format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

#[cfg(test)]
mod tests {
    use super::real_text;

    #[test]
    fn reals_read_as_sqlite_writes_them() {
        assert_eq!(real_text(1.0), "1.0");
        assert_eq!(real_text(0.1 + 0.2), "0.3");
        assert_eq!(real_text(-2.5), "-2.5");
        assert_eq!(real_text(1234.5678), "1234.5678");
        assert_eq!(real_text(0.00012), "0.00012");
        assert_eq!(real_text(1e20), "1.0e+20");
        assert_eq!(real_text(0.0), "0.0");
    }
}
