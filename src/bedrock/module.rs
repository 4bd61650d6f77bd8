//! Bedrock modules: a module is a named factory of components (providers).
//! The `flock` module is built in; C and C++ modules come from shared
//! libraries that register themselves when loaded (see `src/ffi/bedrock`).

use super::error::BedrockError;
use crate::rpc::{Address, Engine, Pool};
use parking_lot::RwLock;
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

type Result<T> = std::result::Result<T, BedrockError>;

/// A dependency a component declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencyDecl {
    pub name: String,
    /// `pool`, `xstream`, `margo`, or a module name (a provider of that type).
    pub type_name: String,
    pub is_required: bool,
    pub is_array: bool,
    pub is_updatable: bool,
}

/// What a dependency resolved to.
#[derive(Clone)]
pub enum Resolved {
    Pool(Arc<Pool>),
    Xstream(String),
    Margo(Engine),
    /// A provider of this process.
    Local(Arc<ProviderEntry>),
    /// A provider elsewhere, reached through its address.
    Remote {
        address: Address,
        provider_id: u16,
    },
}

/// One resolved dependency: the name Bedrock reports, and the target.
#[derive(Clone)]
pub struct ResolvedDependency {
    pub name: String,
    pub target: Resolved,
}

/// Everything a component is created from.
pub struct ComponentArgs {
    pub name: String,
    pub engine: Engine,
    pub provider_id: u16,
    pub tags: Vec<String>,
    pub config: serde_json::Value,
    pub dependencies: HashMap<String, Vec<ResolvedDependency>>,
    /// What the module declared (its `dependencies` answer), against which
    /// `dependencies` was resolved; empty while it is being asked.
    pub declared: Vec<DependencyDecl>,
}

/// A running provider made by a module.
pub trait Component: Send + Sync {
    /// The config reported in Bedrock's effective config.
    fn config(&self) -> serde_json::Value;
    /// For downcasts by the C face (a flock component's provider, ...).
    fn as_any(&self) -> &dyn Any;
}

pub trait Module: Send + Sync {
    fn name(&self) -> &str;
    /// Dependencies the component created from `args` will need (`args`
    /// has no dependencies yet and may still have provider id 65535).
    fn dependencies(&self, args: &ComponentArgs) -> Result<Vec<DependencyDecl>>;
    fn create(&self, args: ComponentArgs) -> Result<Box<dyn Component>>;
}

/// A provider Bedrock created: its description and its component.
pub struct ProviderEntry {
    pub name: String,
    pub type_name: String,
    pub provider_id: u16,
    pub engine_index: usize,
    pub tags: Vec<String>,
    /// Reported dependencies: name → resolved names.
    pub dependencies: Vec<(String, Vec<String>, bool)>,
    /// Names of this server's providers this one depends on (it may not
    /// outlive them).
    pub local_dependencies: Vec<String>,
    pub component: Box<dyn Component>,
}

impl ProviderEntry {
    /// The entry as Bedrock's effective config reports it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut deps = serde_json::Map::new();
        for (name, resolved, is_array) in &self.dependencies {
            let v = if *is_array {
                serde_json::Value::from(resolved.clone())
            } else {
                resolved.first().cloned().map(serde_json::Value::from).unwrap_or(serde_json::Value::Null)
            };
            deps.insert(name.clone(), v);
        }
        serde_json::json!({
            "config": self.component.config(),
            "dependencies": deps,
            "engine": self.engine_index,
            "name": self.name,
            "provider_id": self.provider_id,
            "tags": self.tags,
            "type": self.type_name,
        })
    }
}

static MODULES: RwLock<Option<HashMap<String, Arc<dyn Module>>>> = RwLock::new(None);

/// Registers a module; the first registration of a name wins (false after).
pub fn register(module: Arc<dyn Module>) -> bool {
    let mut guard = MODULES.write();
    let map = guard.get_or_insert_with(HashMap::new);
    let name = module.name().to_string();
    if map.contains_key(&name) {
        crate::error!("a module named \"{name}\" is already registered; keeping the first");
        return false;
    }
    map.insert(name, module);
    true
}

pub fn lookup(name: &str) -> Result<Arc<dyn Module>> {
    super::modules::register_builtins();
    MODULES
        .read()
        .as_ref()
        .and_then(|m| m.get(name).cloned())
        .ok_or_else(|| BedrockError::msg(format!("Could not find registration function for module \"{name}\"")))
}

pub fn is_registered(name: &str) -> bool {
    super::modules::register_builtins();
    MODULES.read().as_ref().is_some_and(|m| m.contains_key(name))
}
