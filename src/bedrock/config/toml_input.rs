//! TOML documents, read as the JSON they stand for.

use super::Result;
use crate::bedrock::error::BedrockError;
use serde_json::{Map, Value};

/// Converts a TOML document: tables → objects, arrays, strings, integers,
/// floats, booleans; dates and times are rejected.
pub fn toml_to_json(text: &str) -> Result<Value> {
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| BedrockError::TomlParse(e.to_string().trim_end().to_string()))?;
    toml_table_to_json(&table)
}

fn toml_table_to_json(table: &toml::Table) -> Result<Value> {
    let mut m = Map::new();
    for (k, v) in table {
        m.insert(k.clone(), toml_value_to_json(v)?);
    }
    Ok(Value::Object(m))
}

fn toml_value_to_json(v: &toml::Value) -> Result<Value> {
    Ok(match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => Value::Number(n),
            None => return Err(BedrockError::NonFiniteTomlFloat(f.to_string())),
        },
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(_) => return Err(BedrockError::InvalidTomlValue),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_value_to_json).collect::<Result<_>>()?),
        toml::Value::Table(t) => toml_table_to_json(t)?,
    })
}
