//! `__if__` members: parts of the document kept or dropped.

use super::Result;
use crate::bedrock::error::BedrockError;
use serde_json::{Map, Value};

/// `__if__` filtering: an object with an `__if__` member is kept only when
/// it is `true` (the member itself stays); removed objects vanish from
/// arrays and become `null` as object members. `None` means the value
/// itself was removed. As upstream, `null` array elements are dropped too.
/// A string condition is a Jx9 expression: the literals `"true"` and
/// `"false"` are evaluated (upstream's tests write them); any other is
/// refused, Jx9 not being supported.
pub fn filter_if_conditions(v: Value) -> Result<Option<Value>> {
    match v {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match filter_if_conditions(item)? {
                    None | Some(Value::Null) => {}
                    Some(kept) => out.push(kept),
                }
            }
            Ok(Some(Value::Array(out)))
        }
        Value::Object(m) => {
            if let Some(cond) = m.get("__if__") {
                match cond {
                    Value::Bool(true) => {}
                    Value::Bool(false) => return Ok(None),
                    Value::String(s) if s.trim() == "true" => {}
                    Value::String(s) if s.trim() == "false" => return Ok(None),
                    Value::String(s) => return Err(BedrockError::Jx9ConditionNotSupported(s.clone())),
                    _ => return Err(BedrockError::InvalidIfCondition),
                }
            }
            let mut out = Map::new();
            for (k, child) in m {
                let kept = filter_if_conditions(child)?.unwrap_or(Value::Null);
                out.insert(k, kept);
            }
            Ok(Some(Value::Object(out)))
        }
        other => Ok(Some(other)),
    }
}
