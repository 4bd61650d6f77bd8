//! The gateway plug-in interface: which address a provider publishes to the
//! group (public) and which it uses locally. The built-in `default` gateway
//! publishes the engine's own address.

use super::error::Result;
use super::registry::{Named, Registry};
use crate::rpc::{Engine, Pool};
use std::sync::Arc;

pub struct GatewayInit {
    pub engine: Engine,
    pub provider_id: u16,
    pub pool: Arc<Pool>,
    pub config: serde_json::Value,
}

pub trait Gateway: Send + Sync {
    fn config(&self) -> serde_json::Value;
    fn public_address(&self) -> String;
    fn local_address(&self) -> String;
    fn destroy(&self) -> Result<()> {
        Ok(())
    }
}

pub trait GatewayFactory: Named {
    fn create(&self, init: GatewayInit) -> Result<Arc<dyn Gateway>>;
}

pub static GATEWAYS: Registry<dyn GatewayFactory> = Registry::new("gateway");

pub fn register_builtins() {
    let _ = GATEWAYS.register(Arc::new(DefaultFactory));
}

pub fn lookup(name: &str) -> Option<Arc<dyn GatewayFactory>> {
    register_builtins();
    GATEWAYS.lookup(name)
}

/// Publishes the engine's own address; its config is always `{}`.
pub struct DefaultFactory;

impl Named for DefaultFactory {
    fn name(&self) -> &str {
        "default"
    }
}

impl GatewayFactory for DefaultFactory {
    fn create(&self, init: GatewayInit) -> Result<Arc<dyn Gateway>> {
        Ok(Arc::new(DefaultGateway { address: init.engine.self_address().to_string() }))
    }
}

struct DefaultGateway {
    address: String,
}

impl Gateway for DefaultGateway {
    fn config(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    fn public_address(&self) -> String {
        self.address.clone()
    }
    fn local_address(&self) -> String {
        self.address.clone()
    }
}
