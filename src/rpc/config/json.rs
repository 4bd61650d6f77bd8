//! Typed access to the JSON input, with the field path every error names.
//! A member whose value is `null` counts as absent, as upstream.

use super::error::ConfigError;
use super::MAX_INT_SETTING;
use serde_json::{Map, Value};

pub(super) fn field(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(super) fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// The JSON type name of `v`, as config errors print it.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(super) fn wrong_type(path: &str, expected: &'static str, found: &Value) -> ConfigError {
    ConfigError::WrongType { path: path.to_string(), expected, found: json_type(found) }
}

/// Member lookup where `null` counts as absent (upstream semantics).
pub(super) fn member<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// An object, with `null` standing for an empty one.
pub(super) fn object_or_empty<'a>(
    v: &'a Value,
    empty: &'a Map<String, Value>,
    path: &str,
) -> Result<&'a Map<String, Value>, ConfigError> {
    match v {
        Value::Null => Ok(empty),
        Value::Object(m) => Ok(m),
        other => Err(wrong_type(path, "object", other)),
    }
}

/// Any JSON integer (signed or unsigned 64-bit) widened to i128.
pub(super) fn as_wide_int(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)),
        _ => None,
    }
}

pub(super) fn as_i64(v: &Value, path: &str) -> Result<i64, ConfigError> {
    match as_wide_int(v) {
        Some(w) => i64::try_from(w).map_err(|_| ConfigError::OutOfRange {
            path: path.to_string(),
            value: w.to_string(),
            expected: "a 64-bit signed integer".to_string(),
        }),
        None => Err(wrong_type(path, "integer", v)),
    }
}

pub(super) fn opt_bool(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<bool>, ConfigError> {
    match member(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong_type(&field(path, key), "boolean", other)),
    }
}

pub(super) fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<Option<&'a str>, ConfigError> {
    match member(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(wrong_type(&field(path, key), "string", other)),
    }
}

pub(super) fn opt_int(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<i64>, ConfigError> {
    match member(obj, key) {
        None => Ok(None),
        Some(v) => as_i64(v, &field(path, key)).map(Some),
    }
}

pub(super) fn opt_array<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<Option<&'a Vec<Value>>, ConfigError> {
    match member(obj, key) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(other) => Err(wrong_type(&field(path, key), "array", other)),
    }
}

/// A non-negative integer setting that upstream keeps in a C `int`.
pub(super) fn opt_setting(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<u64>, ConfigError> {
    match opt_int(obj, key, path)? {
        None => Ok(None),
        Some(v) if (0..=MAX_INT_SETTING).contains(&v) => Ok(Some(v as u64)),
        Some(v) => Err(ConfigError::OutOfRange {
            path: field(path, key),
            value: v.to_string(),
            expected: format!("an integer between 0 and {MAX_INT_SETTING}"),
        }),
    }
}
