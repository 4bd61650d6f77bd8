//! One entry of `providers`, and the checks of provider names and ids made
//! while providers are created.

use super::provider_schema::{schema_error, validate_provider_schema};
use super::{Result, AUTO_PROVIDER_ID};
use crate::bedrock::error::BedrockError;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// One entry of `providers`, validated against upstream's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSpec {
    pub name: String,
    pub type_name: String,
    /// `None` when absent or 65535: chosen at creation
    /// ([`auto_provider_id`]).
    pub provider_id: Option<u16>,
    pub tags: Vec<String>,
    /// Always an object (`{}` when absent).
    pub config: Value,
    /// As given (values: string, integer, or array of strings/integers);
    /// read them with [`crate::bedrock::dependency_spec::dependency_specs`].
    pub dependencies: Map<String, Value>,
    /// Engine index (default 0).
    pub engine: usize,
}

impl ProviderSpec {
    /// Step 1 of provider creation: schema validation (JSON-Schema of
    /// upstream's ProviderManager; failures →
    /// `Error validating JSON (ProviderManager): <validator message>`).
    /// Keys other than those of the schema are ignored.
    pub fn from_value(v: &Value) -> Result<ProviderSpec> {
        validate_provider_schema(v).map_err(BedrockError::provider_validation)?;
        let m = match v {
            Value::Object(m) => m,
            _ => return Err(BedrockError::provider_validation(schema_error("", v, "unexpected instance type"))),
        };
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let provider_id = match m.get("provider_id").and_then(Value::as_u64) {
            Some(id) if id < u64::from(AUTO_PROVIDER_ID) => Some(id as u16),
            _ => None,
        };
        let tags = match m.get("tags") {
            Some(Value::Array(a)) => a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        let config = match m.get("config") {
            Some(Value::Object(c)) => Value::Object(c.clone()),
            _ => Value::Object(Map::new()),
        };
        let dependencies = match m.get("dependencies") {
            Some(Value::Object(d)) => d.clone(),
            _ => Map::new(),
        };
        let engine = match m.get("engine").and_then(Value::as_u64) {
            Some(e) => usize::try_from(e).unwrap_or(usize::MAX),
            None => 0,
        };
        Ok(ProviderSpec { name: text("name"), type_name: text("type"), provider_id, tags, config, dependencies, engine })
    }

    /// Parses a provider description given as JSON text (as received by
    /// the `bedrock_start_provider` RPC), then validates it.
    pub fn from_json_str(text: &str) -> Result<ProviderSpec> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| BedrockError::JsonParseContext { context: "ProviderManager".to_string(), message: e.to_string() })?;
        ProviderSpec::from_value(&v)
    }

    /// The requested id as upstream sees it (65535 = automatic).
    pub fn requested_provider_id(&self) -> u16 {
        self.provider_id.unwrap_or(AUTO_PROVIDER_ID)
    }

    /// Steps 2–3 of provider creation: the engine index exists, and the
    /// requested provider id is not Bedrock's own (as upstream, this
    /// compares the *requested* id, 65535 when automatic).
    pub fn check_engine_and_bedrock_id(&self, num_engines: usize, bedrock_provider_id: u16) -> Result<()> {
        if self.engine >= num_engines {
            return Err(BedrockError::InvalidEngineIndex { index: self.engine as u64, count: num_engines });
        }
        if self.requested_provider_id() == bedrock_provider_id {
            return Err(BedrockError::BedrockProviderIdInUse(bedrock_provider_id));
        }
        Ok(())
    }
}

/// Step 7 of provider creation: the smallest provider id in `[0, 65534)`
/// used neither by Bedrock itself nor by an existing provider.
pub fn auto_provider_id(used: &[u16], bedrock_id: u16) -> Option<u16> {
    let used: HashSet<u16> = used.iter().copied().chain(std::iter::once(bedrock_id)).collect();
    (0..AUTO_PROVIDER_ID - 1).find(|id| !used.contains(id))
}

/// Steps 6–8 of provider creation, against the providers that already
/// exist (`(name, provider_id)` pairs): the name is free, the id is chosen
/// if automatic, and the id is free. Returns the provider's id.
pub fn check_new_provider<'a>(
    name: &str,
    requested: Option<u16>,
    existing: impl IntoIterator<Item = (&'a str, u16)>,
    bedrock_id: u16,
) -> Result<u16> {
    let existing: Vec<(&str, u16)> = existing.into_iter().collect();
    if existing.iter().any(|(n, _)| *n == name) {
        return Err(BedrockError::NameInUse(name.to_string()));
    }
    let id = match requested.filter(|id| *id != AUTO_PROVIDER_ID) {
        Some(id) => id,
        None => {
            let used: Vec<u16> = existing.iter().map(|(_, id)| *id).collect();
            auto_provider_id(&used, bedrock_id).ok_or(BedrockError::NoProviderIdAvailable)?
        }
    };
    if existing.iter().any(|(_, i)| *i == id) {
        return Err(BedrockError::ProviderIdInUse(id));
    }
    Ok(id)
}
