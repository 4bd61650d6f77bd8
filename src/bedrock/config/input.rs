//! The input pipeline: configuration text to the JSON object of this
//! process.

use super::dotted_keys::expand_simplified_json;
use super::if_conditions::filter_if_conditions;
use super::toml_input::toml_to_json;
use super::Result;
use crate::bedrock::error::BedrockError;
use crate::rpc::config::json_type;
use serde_json::{Map, Value};

/// Language of a configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    Json,
    Toml,
    /// Accepted as a value so callers can say what they were given; loading
    /// always fails with [`BedrockError::Jx9NotSupported`].
    Jx9,
}

/// Turns configuration text into the JSON object the server is configured
/// from: parsing (an empty or blank text means `{}`), simplified-JSON
/// expansion of dotted keys (JSON only), `__if__` filtering, then
/// resolution of a root array (one element: that element; otherwise the
/// element of this process's MPI rank, `mpi` being `(rank, size)`, when
/// the array has one element per process).
pub fn load(text: &str, format: ConfigFormat, mpi: Option<(i32, i32)>) -> Result<Value> {
    select(parse_document(text, format)?, mpi)
}

/// The whole document as JSON, before `__if__` filtering and the choice of
/// this rank's part.
pub(super) fn parse_document(text: &str, format: ConfigFormat) -> Result<Value> {
    match format {
        ConfigFormat::Jx9 => Err(BedrockError::Jx9NotSupported),
        ConfigFormat::Json => expand_simplified_json(parse_json(text)?),
        ConfigFormat::Toml => toml_to_json(text),
    }
}

/// True if a `dependencies` object anywhere in the document (the parts of
/// every rank included) names a provider by MPI rank (`name@3`,
/// `type:id@3`). Decided on the whole document so that every process of a
/// job started from one file decides alike: the address exchange this
/// triggers is collective.
pub(super) fn uses_rank_locators(doc: &Value) -> bool {
    let is_rank_locator = |v: &Value| {
        v.as_str().and_then(|s| s.rsplit_once('@')).is_some_and(|(_, r)| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
    };
    match doc {
        Value::Object(m) => m.iter().any(|(k, v)| {
            let direct = k == "dependencies"
                && v.as_object().is_some_and(|deps| {
                    deps.values().any(|d| is_rank_locator(d) || d.as_array().is_some_and(|a| a.iter().any(is_rank_locator)))
                });
            direct || uses_rank_locators(v)
        }),
        Value::Array(a) => a.iter().any(uses_rank_locators),
        _ => false,
    }
}

/// `__if__` filtering, then this rank's part of the document.
pub(super) fn select(parsed: Value, mpi: Option<(i32, i32)>) -> Result<Value> {
    let filtered = filter_if_conditions(parsed)?.unwrap_or(Value::Null);
    let resolved = resolve_root_array(filtered, mpi)?;
    match resolved {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(m) => Ok(Value::Object(m)),
        other => Err(BedrockError::InvalidRoot(json_type(&other))),
    }
}

/// Parses JSON text (blank → `null`); errors read like upstream's parser
/// messages: `parse error at line L, column C: <what>`.
fn parse_json(text: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let what = full.strip_suffix(&suffix).unwrap_or(&full);
        BedrockError::JsonParse(format!("parse error at line {}, column {}: {}", e.line(), e.column(), what))
    })
}

/// A root array resolves to its only element, or to the element of this
/// process's rank when it has one element per MPI process.
fn resolve_root_array(v: Value, mpi: Option<(i32, i32)>) -> Result<Value> {
    let mut items = match v {
        Value::Array(items) => items,
        other => return Ok(other),
    };
    if items.len() == 1 {
        return Ok(items.swap_remove(0));
    }
    let (rank, size) = mpi.ok_or(BedrockError::ArrayWithoutMpi)?;
    if usize::try_from(size).ok() != Some(items.len()) {
        return Err(BedrockError::AmbiguousConfiguration);
    }
    match usize::try_from(rank) {
        Ok(r) if r < items.len() => Ok(items.swap_remove(r)),
        _ => Err(BedrockError::InvalidRank(rank.to_string())),
    }
}
