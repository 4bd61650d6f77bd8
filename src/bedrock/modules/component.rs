//! A built-in provider as a Bedrock component: what the `flock` and `yokan`
//! modules share once their provider is registered.

use crate::bedrock::module::Component;
use serde_json::{Map, Value};
use std::any::Any;

/// What a component needs of the provider it runs.
pub trait BuiltinProvider: Send + Sync + 'static {
    /// The provider's effective configuration.
    fn config_json(&self) -> Value;
    /// Deregisters the provider.
    fn destroy(&self);
}

// Both forward to the providers' inherent methods of the same names (which
// method resolution prefers over the trait's).
impl BuiltinProvider for crate::flock::provider::Provider {
    fn config_json(&self) -> Value {
        self.config_json()
    }
    fn destroy(&self) {
        self.destroy()
    }
}

impl BuiltinProvider for crate::yokan::provider::Provider {
    fn config_json(&self) -> Value {
        self.config_json()
    }
    fn destroy(&self) {
        self.destroy()
    }
}

/// A running built-in provider as a Bedrock component. It reports the
/// provider's config, and destroys the provider when dropped.
pub struct ProviderComponent<P: BuiltinProvider> {
    provider: P,
    /// Members added to the reported config.
    reported: Map<String, Value>,
}

impl<P: BuiltinProvider> ProviderComponent<P> {
    pub fn new(provider: P) -> Self {
        Self::reporting(provider, Map::new())
    }

    /// A component whose reported config also has the members `reported`.
    pub fn reporting(provider: P, reported: Map<String, Value>) -> Self {
        ProviderComponent { provider, reported }
    }

    pub fn provider(&self) -> &P {
        &self.provider
    }
}

impl<P: BuiltinProvider> Component for ProviderComponent<P> {
    fn config(&self) -> Value {
        let mut v = self.provider.config_json();
        if let Value::Object(o) = &mut v {
            for (key, value) in &self.reported {
                o.insert(key.clone(), value.clone());
            }
        }
        v
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl<P: BuiltinProvider> Drop for ProviderComponent<P> {
    fn drop(&mut self) {
        self.provider.destroy();
    }
}
