//! Simplified JSON: keys with dots stand for nested objects.

use super::Result;
use crate::bedrock::error::BedrockError;
use crate::rpc::config::json_type;
use serde_json::{Map, Value};

/// How deep simplified-JSON expansion may nest the document: the nesting
/// limit of the JSON parser itself. Without a bound, one key made of
/// thousands of dots builds an object so deep that every later recursive
/// walk of the document (filtering, validation, dropping) overflows the
/// stack.
pub const MAX_EXPANDED_DEPTH: usize = 128;

/// Simplified-JSON expansion of a parsed document: in every object
/// (recursively through objects, not through arrays) a key `"a.b.c": v`
/// becomes `{"a": {"b": {"c": v}}}`, merged with its siblings. Keys are
/// processed in sorted order; a later key wins where values conflict (a
/// non-object in the way of a dotted path is replaced by an object).
/// A key whose expansion would nest the document deeper than
/// [`MAX_EXPANDED_DEPTH`] objects is an error naming that key.
///
/// A `null` root becomes `{}`; a root array has each of its object
/// elements expanded (the per-process configuration form); a scalar root
/// is an error.
pub fn expand_simplified_json(v: Value) -> Result<Value> {
    match v {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(m) => Ok(Value::Object(expand_object(&m, 0)?)),
        Value::Array(items) => Ok(Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(m) => expand_object(&m, 1).map(Value::Object),
                    other => Ok(other),
                })
                .collect::<Result<_>>()?,
        )),
        other => Err(BedrockError::InvalidRoot(json_type(&other))),
    }
}

/// `depth`: how many objects enclose the members of the object built.
fn expand_object(input: &Map<String, Value>, depth: usize) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    expand_into(input, &mut out, depth)?;
    Ok(out)
}

fn expand_into(input: &Map<String, Value>, out: &mut Map<String, Value>, depth: usize) -> Result<()> {
    for (key, value) in input {
        let segments = key.split('.').count();
        if depth + segments > MAX_EXPANDED_DEPTH {
            return Err(BedrockError::KeyNestsTooDeep { key: abbreviate_key(key), limit: MAX_EXPANDED_DEPTH });
        }
        let segments: Vec<&str> = key.split('.').collect();
        insert_path(out, &segments, value, depth)?;
    }
    Ok(())
}

/// A key as error messages show it: whole when short, otherwise its start
/// and its length (such keys can be megabytes long).
pub(super) fn abbreviate_key(key: &str) -> String {
    const SHOWN: usize = 64;
    match key.char_indices().nth(SHOWN) {
        None => key.to_string(),
        Some((cut, _)) => format!("{}... ({} bytes)", &key[..cut], key.len()),
    }
}

/// Stores `value` at `segments` under `map` (whose members are `depth`
/// objects deep), creating (or replacing non-object values by) the
/// intermediate objects; an object value is merged into what is already
/// there, itself being expanded. Iterates over the segments, so the walk
/// itself does not recurse per level.
fn insert_path(map: &mut Map<String, Value>, segments: &[&str], value: &Value, depth: usize) -> Result<()> {
    let Some((last, path)) = segments.split_last() else { return Ok(()) };
    let mut target = map;
    for segment in path {
        target = object_slot(target, segment);
    }
    if let Value::Object(nested) = value {
        let target = object_slot(target, last);
        expand_into(nested, target, depth + segments.len())
    } else {
        target.insert((*last).to_string(), value.clone());
        Ok(())
    }
}

/// The object stored under `key` in `map`, created (or replacing a
/// non-object value) when needed.
fn object_slot<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let slot = map.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("the slot was just made an object"),
    }
}
