//! The `mercury` section: the options upstream understands, their types
//! and the values reported when they are not given.

use super::error::ConfigError;
use super::json::{as_i64, field, member, wrong_type};
use serde_json::{Map, Value};

pub(super) enum OptKind {
    Str,
    Bool,
    UInt,
    OneOf(&'static [&'static str]),
}

pub(super) enum Reported {
    /// Reported only when given.
    IfGiven,
    Bool(bool),
    UInt(u64),
    Str(&'static str),
}

/// Mercury options upstream understands, their types, and the value the
/// effective configuration reports when the option was not given.
pub(super) const MERCURY_OPTIONS: &[(&str, OptKind, Reported)] = &[
    ("address", OptKind::Str, Reported::IfGiven),
    ("version", OptKind::Str, Reported::IfGiven),
    ("listening", OptKind::Bool, Reported::IfGiven),
    ("request_post_incr", OptKind::UInt, Reported::UInt(256)),
    ("request_post_init", OptKind::UInt, Reported::UInt(256)),
    ("auto_sm", OptKind::Bool, Reported::Bool(false)),
    ("no_bulk_eager", OptKind::Bool, Reported::Bool(false)),
    ("no_loopback", OptKind::Bool, Reported::Bool(false)),
    ("stats", OptKind::Bool, Reported::Bool(false)),
    ("na_no_block", OptKind::Bool, Reported::Bool(false)),
    ("na_no_retry", OptKind::Bool, Reported::Bool(false)),
    ("max_contexts", OptKind::UInt, Reported::UInt(0)),
    ("ip_subnet", OptKind::Str, Reported::IfGiven),
    ("auth_key", OptKind::Str, Reported::IfGiven),
    ("input_eager_size", OptKind::UInt, Reported::IfGiven),
    ("output_eager_size", OptKind::UInt, Reported::IfGiven),
    ("log_level", OptKind::Str, Reported::Str("warning")),
    ("log_subsys", OptKind::Str, Reported::Str("hg,na")),
    ("na_max_unexpected_size", OptKind::UInt, Reported::UInt(0)),
    ("na_max_expected_size", OptKind::UInt, Reported::UInt(0)),
    ("sm_info_string", OptKind::Str, Reported::IfGiven),
    ("na_request_mem_device", OptKind::Bool, Reported::Bool(false)),
    ("checksum_level", OptKind::OneOf(&["none", "rpc_headers", "rpc_payload"]), Reported::Str("none")),
    ("na_addr_format", OptKind::OneOf(&["unspec", "ipv4", "ipv6", "native"]), Reported::Str("unspec")),
];

/// Keys filled in from the run time, never from the stored options.
pub(super) const MERCURY_RUNTIME_KEYS: &[&str] = &["address", "listening", "version"];

pub(super) fn parse_mercury(v: Option<&Value>, path: &str) -> Result<Map<String, Value>, ConfigError> {
    let obj = match v {
        None => return Ok(Map::new()),
        Some(Value::Object(m)) => m,
        Some(other) => return Err(wrong_type(path, "object", other)),
    };
    for (key, kind, _) in MERCURY_OPTIONS {
        let value = match member(obj, key) {
            None => continue,
            Some(value) => value,
        };
        let kpath = field(path, key);
        match kind {
            OptKind::Str => {
                if !value.is_string() {
                    return Err(wrong_type(&kpath, "string", value));
                }
            }
            OptKind::Bool => {
                if !value.is_boolean() {
                    return Err(wrong_type(&kpath, "boolean", value));
                }
            }
            OptKind::UInt => {
                // Upstream reads these as unsigned; a negative value would
                // wrap around, so it is rejected.
                let n = as_i64(value, &kpath)?;
                if n < 0 {
                    return Err(ConfigError::OutOfRange {
                        path: kpath,
                        value: n.to_string(),
                        expected: "a non-negative integer".to_string(),
                    });
                }
            }
            OptKind::OneOf(choices) => match value {
                Value::String(s) if choices.contains(&s.as_str()) => {}
                Value::String(s) => {
                    return Err(ConfigError::NotOneOf { path: kpath, value: s.clone(), allowed: choices.join(", ") })
                }
                other => return Err(wrong_type(&kpath, "string", other)),
            },
        }
    }
    Ok(obj.iter().filter(|(k, v)| !v.is_null() && k.as_str() != "version").map(|(k, v)| (k.clone(), v.clone())).collect())
}
