//! The built-in `yokan` module: a Bedrock provider of type `yokan` is a Yokan
//! provider. Dependencies: `pool` (its handlers' pool), and a Flock group
//! under `group` or `flock_group` (the names the Flock tutorial uses), which
//! is resolved and handed to the provider.

use super::args::{config_object, handler_pool, optional};
use super::component::ProviderComponent;
use super::flock::FlockComponent;
use crate::bedrock::error::BedrockError;
use crate::bedrock::module::{Component, ComponentArgs, DependencyDecl, Module, Resolved};
use crate::yokan::provider::{GroupRef, Provider, ProviderArgs};

type Result<T> = std::result::Result<T, BedrockError>;

pub struct YokanModule;

/// Dependency names under which a Flock group may be given.
const GROUP_NAMES: [&str; 2] = ["group", "flock_group"];

impl Module for YokanModule {
    fn name(&self) -> &str {
        "yokan"
    }

    fn dependencies(&self, _args: &ComponentArgs) -> Result<Vec<DependencyDecl>> {
        let mut v = vec![optional("pool", "pool")];
        v.extend(GROUP_NAMES.iter().map(|n| optional(n, "flock")));
        Ok(v)
    }

    fn create(&self, args: ComponentArgs) -> Result<Box<dyn Component>> {
        config_object(&args)?;
        let pool = handler_pool(&args);
        let mut group = None;
        for name in GROUP_NAMES {
            let Some(dep) = args.dependencies.get(name).and_then(|d| d.first()) else { continue };
            if group.is_some() {
                return Err(BedrockError::msg(
                    "a yokan provider takes one Flock group: give either \"group\" or \"flock_group\"",
                ));
            }
            let target = match &dep.target {
                Resolved::Local(entry) => match entry.component.as_any().downcast_ref::<FlockComponent>() {
                    Some(f) => GroupRef::Local(f.provider().clone()),
                    None => {
                        return Err(BedrockError::msg(format!("dependency \"{name}\" ({}) is not a Flock provider", entry.name)))
                    }
                },
                Resolved::Remote { address, provider_id } => {
                    GroupRef::Remote { address: address.clone(), provider_id: *provider_id }
                }
                _ => return Err(BedrockError::msg(format!("dependency \"{name}\" must name a Flock provider"))),
            };
            group = Some((name.to_string(), target));
        }
        let provider = Provider::register(&args.engine, args.provider_id, &args.config.to_string(), ProviderArgs { pool, group })
            .map_err(|e| BedrockError::msg(format!("[yokan] {e}")))?;
        Ok(Box::new(YokanComponent::new(provider)))
    }
}

/// A running Yokan provider as a Bedrock component.
pub type YokanComponent = ProviderComponent<Provider>;
