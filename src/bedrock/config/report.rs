//! The effective configuration Bedrock reports.

use super::sections::Libraries;
use serde_json::{Map, Value};

/// What a provider reports in the effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderReport {
    pub name: String,
    pub type_name: String,
    pub provider_id: u16,
    pub engine: usize,
    /// The component's own configuration.
    pub config: Value,
    pub tags: Vec<String>,
    /// Declared and resolved dependencies (see [`report_dependencies`]).
    pub dependencies: Map<String, Value>,
}

impl ProviderReport {
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("config".into(), self.config.clone());
        m.insert("dependencies".into(), Value::Object(self.dependencies.clone()));
        m.insert("engine".into(), Value::from(self.engine));
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert("provider_id".into(), Value::from(self.provider_id));
        m.insert("tags".into(), Value::Array(self.tags.iter().map(|t| Value::String(t.clone())).collect()));
        m.insert("type".into(), Value::String(self.type_name.clone()));
        Value::Object(m)
    }
}

/// The reported `dependencies` object from `(dependency name, resolved
/// names, declared as array)` triples, in declaration order: an array
/// dependency reports the list of resolved names, any other the single
/// resolved name; a dependency with nothing resolved is omitted.
pub fn report_dependencies<'a, I, N>(deps: I) -> Map<String, Value>
where
    I: IntoIterator<Item = (&'a str, N, bool)>,
    N: IntoIterator<Item = &'a str>,
{
    let mut m = Map::new();
    for (name, resolved, is_array) in deps {
        let resolved: Vec<Value> = resolved.into_iter().map(|s| Value::String(s.to_string())).collect();
        if resolved.is_empty() {
            continue;
        }
        let value = if is_array { Value::Array(resolved) } else { resolved.into_iter().next().unwrap_or(Value::Null) };
        m.insert(name.to_string(), value);
    }
    m
}

/// Assembles the effective configuration (keys sorted at every level, as
/// `serde_json`'s map is ordered): `bedrock {pool, provider_id}`,
/// `libraries`, `margo` (each engine's reported Margo configuration: an
/// object for one engine, an array for several) and `providers` (in
/// creation order).
pub fn output_config(
    margo: &[Value],
    bedrock_pool: &str,
    bedrock_provider_id: u16,
    libraries: &Libraries,
    providers: &[ProviderReport],
) -> Value {
    let mut bedrock = Map::new();
    bedrock.insert("pool".into(), Value::String(bedrock_pool.to_string()));
    bedrock.insert("provider_id".into(), Value::from(bedrock_provider_id));
    let margo = match margo {
        [single] => single.clone(),
        many => Value::Array(many.to_vec()),
    };
    let mut root = Map::new();
    root.insert("bedrock".into(), Value::Object(bedrock));
    root.insert("libraries".into(), libraries.to_json());
    root.insert("margo".into(), margo);
    root.insert("providers".into(), Value::Array(providers.iter().map(ProviderReport::to_json).collect()));
    Value::Object(root)
}
