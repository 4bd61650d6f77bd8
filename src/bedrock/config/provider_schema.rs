//! The provider schema: upstream's JSON-Schema, validated by hand so that
//! the first error reported is the one upstream's validator reports, in its
//! words: `At <json pointer> of <instance> - <message>`.

use super::PROVIDER_NAME_PATTERN;
use serde_json::Value;

pub(super) fn schema_error(pointer: &str, instance: &Value, message: &str) -> String {
    let dumped = serde_json::to_string(instance).unwrap_or_default();
    format!("At {pointer} of {dumped} - {message}")
}

fn is_integer(v: &Value) -> bool {
    matches!(v, Value::Number(n) if n.is_i64() || n.is_u64())
}

/// The integer as upstream's validator sees it (a signed 64-bit value).
fn as_signed(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or_else(|| n.as_u64().map_or(0, |u| u as i64)),
        _ => 0,
    }
}

fn matches_name_pattern(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && (b[0].is_ascii_alphabetic() || b[0] == b'_') && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn check_integer_range(pointer: &str, v: &Value, min: i64, max: Option<i64>) -> std::result::Result<(), String> {
    if !is_integer(v) {
        return Err(schema_error(pointer, v, "unexpected instance type"));
    }
    let x = as_signed(v);
    if let Some(max) = max {
        if x > max {
            return Err(schema_error(pointer, v, &format!("instance exceeds maximum of {max}")));
        }
    }
    if x < min {
        return Err(schema_error(pointer, v, &format!("instance is below minimum of {min}")));
    }
    Ok(())
}

fn is_dependency_value(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        v if is_integer(v) => true,
        Value::Array(items) => items.iter().all(|i| i.is_string() || is_integer(i)),
        _ => false,
    }
}

pub(super) fn validate_provider_schema(v: &Value) -> std::result::Result<(), String> {
    let m = match v {
        Value::Object(m) => m,
        _ => return Err(schema_error("", v, "unexpected instance type")),
    };
    for required in ["name", "type"] {
        if !m.contains_key(required) {
            return Err(schema_error("", v, &format!("required property '{required}' not found in object")));
        }
    }
    // Properties in key order (upstream's JSON objects are sorted maps).
    for (key, value) in m {
        let pointer = format!("/{key}");
        match key.as_str() {
            "config" if !value.is_object() => {
                return Err(schema_error(&pointer, value, "unexpected instance type"));
            }
            "dependencies" => {
                let deps = match value {
                    Value::Object(d) => d,
                    _ => return Err(schema_error(&pointer, value, "unexpected instance type")),
                };
                for (dep, dv) in deps {
                    if !is_dependency_value(dv) {
                        return Err(schema_error(
                            &pointer,
                            value,
                            &format!(
                                "validation failed for additional property '{dep}': no subschema has succeeded, \
                                 but one of them is required to validate. Type: anyOf, number of failed subschemas: 3"
                            ),
                        ));
                    }
                }
            }
            "engine" => check_integer_range(&pointer, value, 0, None)?,
            "name" => match value {
                Value::String(s) if matches_name_pattern(s) => {}
                Value::String(_) => {
                    return Err(schema_error(
                        &pointer,
                        value,
                        &format!("instance does not match regex pattern: {PROVIDER_NAME_PATTERN}"),
                    ))
                }
                _ => return Err(schema_error(&pointer, value, "unexpected instance type")),
            },
            "provider_id" => check_integer_range(&pointer, value, 0, Some(i64::from(u16::MAX)))?,
            "tags" => {
                let items = match value {
                    Value::Array(a) => a,
                    _ => return Err(schema_error(&pointer, value, "unexpected instance type")),
                };
                if let Some((i, bad)) = items.iter().enumerate().find(|(_, t)| !t.is_string()) {
                    return Err(schema_error(&format!("{pointer}/{i}"), bad, "unexpected instance type"));
                }
            }
            "type" if !value.is_string() => {
                return Err(schema_error(&pointer, value, "unexpected instance type"));
            }
            _ => {}
        }
    }
    Ok(())
}
