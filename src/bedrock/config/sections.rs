//! The `bedrock` and `libraries` sections.

use super::{Result, DEFAULT_BEDROCK_PROVIDER_ID, DEFAULT_DEPENDENCY_RESOLUTION_TIMEOUT};
use crate::bedrock::error::BedrockError;
use crate::rpc::config::MargoConfig;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The `bedrock` section.
#[derive(Debug, Clone, PartialEq)]
pub struct BedrockSection {
    pub provider_id: u16,
    /// Pool of Bedrock's own RPCs, by name; `None`: engine 0's RPC pool.
    pub pool: Option<String>,
    /// Seconds a remote provider lookup waits for the provider to appear.
    pub dependency_resolution_timeout: f64,
}

impl Default for BedrockSection {
    fn default() -> Self {
        BedrockSection {
            provider_id: DEFAULT_BEDROCK_PROVIDER_ID,
            pool: None,
            dependency_resolution_timeout: DEFAULT_DEPENDENCY_RESOLUTION_TIMEOUT,
        }
    }
}

impl BedrockSection {
    /// Parses the `bedrock` entry (`None` or `null`: defaults).
    pub fn from_value(v: Option<&Value>) -> Result<BedrockSection> {
        let m = match v {
            None | Some(Value::Null) => return Ok(BedrockSection::default()),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(BedrockError::BedrockNotObject),
        };
        let mut section = BedrockSection::default();
        match m.get("dependency_resolution_timeout") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => {
                section.dependency_resolution_timeout = n.as_f64().ok_or(BedrockError::BedrockTimeoutType)?
            }
            Some(_) => return Err(BedrockError::BedrockTimeoutType),
        }
        match m.get("provider_id") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => {
                section.provider_id = n.as_u64().and_then(|u| u16::try_from(u).ok()).ok_or(BedrockError::BedrockProviderIdType)?
            }
            Some(_) => return Err(BedrockError::BedrockProviderIdType),
        }
        match m.get("pool") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => section.pool = Some(s.clone()),
            Some(_) => return Err(BedrockError::BedrockPoolType),
        }
        Ok(section)
    }

    /// Name of the pool Bedrock's RPCs run in, checked against engine 0's
    /// configuration (default: its RPC pool).
    pub fn pool_name(&self, engine0: &MargoConfig) -> Result<String> {
        match &self.pool {
            None => engine0.pools.get(engine0.rpc_pool).map(|p| p.name.clone()).ok_or_else(|| BedrockError::PoolIndexNotFound {
                index: engine0.rpc_pool as u64,
                reason: "no such pool".to_string(),
            }),
            Some(name) => match engine0.pool_by_name(name) {
                Some(_) => Ok(name.clone()),
                None => Err(BedrockError::PoolNotFound {
                    name: name.clone(),
                    reason: "no pool with this name in the Margo configuration".to_string(),
                }),
            },
        }
    }
}

/// How `libraries` was written; the effective configuration reports it in
/// the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibrariesForm {
    /// `["libfoo.so", ...]` (upstream's current form).
    Array,
    /// `{"<module>": "libfoo.so", ...}` (older tutorials' form).
    Object,
}

/// One library to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibrarySpec {
    /// The key in the object form; `None` in the array form and for
    /// libraries loaded at run time.
    pub module: Option<String>,
    pub path: String,
}

/// The `libraries` section; the loaded set grows when modules are loaded at
/// run time ([`Libraries::record_loaded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Libraries {
    pub form: LibrariesForm,
    /// In load order (object form: sorted by module name).
    pub entries: Vec<LibrarySpec>,
}

impl Default for Libraries {
    fn default() -> Self {
        Libraries { form: LibrariesForm::Array, entries: Vec::new() }
    }
}

impl Libraries {
    /// Parses the `libraries` entry: an array of strings or an object whose
    /// values are strings (`None` or `null`: nothing to load). Every element
    /// is checked before anything is loaded, as upstream does.
    pub fn from_value(v: Option<&Value>) -> Result<Libraries> {
        match v {
            None | Some(Value::Null) => Ok(Libraries::default()),
            Some(Value::Array(items)) => {
                let entries = items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(LibrarySpec { module: None, path: s.clone() }),
                        _ => Err(BedrockError::LibraryNotString),
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Libraries { form: LibrariesForm::Array, entries })
            }
            Some(Value::Object(m)) => {
                let entries = m
                    .iter()
                    .map(|(module, item)| match item {
                        Value::String(s) => Ok(LibrarySpec { module: Some(module.clone()), path: s.clone() }),
                        _ => Err(BedrockError::LibraryNotString),
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Libraries { form: LibrariesForm::Object, entries })
            }
            Some(_) => Err(BedrockError::LibrariesNotArray),
        }
    }

    /// Paths in load order, each once (a library is loaded only once).
    pub fn paths(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.entries.iter().map(|e| e.path.as_str()).filter(|p| seen.insert(*p)).collect()
    }

    /// Records a library loaded at run time; false if it was already there.
    pub fn record_loaded(&mut self, path: &str) -> bool {
        if self.entries.iter().any(|e| e.path == path) {
            return false;
        }
        self.entries.push(LibrarySpec { module: None, path: path.to_string() });
        true
    }

    /// The reported `libraries`: the array of paths (each once, load order),
    /// or for the object form the object `{module: path}` (a library loaded
    /// at run time is keyed by its path).
    pub fn to_json(&self) -> Value {
        match self.form {
            LibrariesForm::Array => Value::Array(self.paths().into_iter().map(|p| Value::String(p.to_string())).collect()),
            LibrariesForm::Object => {
                let mut m = Map::new();
                for e in &self.entries {
                    let key = e.module.clone().unwrap_or_else(|| e.path.clone());
                    m.entry(key).or_insert_with(|| Value::String(e.path.clone()));
                }
                Value::Object(m)
            }
        }
    }
}
