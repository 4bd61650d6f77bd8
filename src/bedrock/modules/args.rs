//! What the built-in modules read alike from the arguments of a provider.

use crate::bedrock::error::BedrockError;
use crate::bedrock::module::{ComponentArgs, DependencyDecl, Resolved};
use crate::rpc::Pool;
use serde_json::{Map, Value};
use std::sync::Arc;

/// The provider's configuration, which must be a JSON object.
pub fn config_object(args: &ComponentArgs) -> Result<&Map<String, Value>, BedrockError> {
    match &args.config {
        Value::Object(config) => Ok(config),
        _ => Err(BedrockError::msg("JSON provider configuration should be an object")),
    }
}

/// An optional dependency on one `type_name` (neither an array nor
/// updatable).
pub fn optional(name: &str, type_name: &str) -> DependencyDecl {
    DependencyDecl { name: name.into(), type_name: type_name.into(), is_required: false, is_array: false, is_updatable: false }
}

/// The pool given as the `pool` dependency, if any: where the provider's
/// handlers run.
pub fn handler_pool(args: &ComponentArgs) -> Option<Arc<Pool>> {
    args.dependencies.get("pool").and_then(|d| d.first()).and_then(|d| match &d.target {
        Resolved::Pool(p) => Some(p.clone()),
        _ => None,
    })
}
