//! The client side: service handles on one Bedrock daemon, and group
//! handles on several (from an address list or a Flock group file).

use super::error::BedrockError;
use super::protocol::{self, MAX_LOOKUP_WAIT};
use crate::flock::client::{Client as FlockClient, GroupHandle};
use crate::rpc::codec;
use crate::rpc::{Address, Engine};
use std::time::Duration;

type Result<T> = std::result::Result<T, BedrockError>;

/// A handle on the Bedrock daemon at (`address`, `provider_id`).
#[derive(Clone)]
pub struct ServiceHandle {
    engine: Engine,
    address: Address,
    provider_id: u16,
}

impl ServiceHandle {
    pub fn new(engine: &Engine, address: &str, provider_id: u16) -> Result<ServiceHandle> {
        let address =
            engine.lookup(address).map_err(|e| BedrockError::msg(format!("Failed to lookup address {address}: {e}")))?;
        Ok(ServiceHandle { engine: engine.clone(), address, provider_id })
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    pub fn provider_id(&self) -> u16 {
        self.provider_id
    }

    fn call(&self, rpc: &str, args: &[&str]) -> Result<String> {
        self.call_within(rpc, args, protocol::CLIENT_TIMEOUT)
    }

    fn call_within(&self, rpc: &str, args: &[&str], timeout: Duration) -> Result<String> {
        let bytes = self
            .engine
            .call(&self.address, rpc, self.provider_id, codec::encode(args), timeout)
            .map_err(|e| BedrockError::msg(format!("{rpc} to {}: {e}", self.address)))?;
        match codec::decode::<protocol::Answer>(&bytes)
            .map_err(|e| BedrockError::msg(format!("malformed answer to {rpc}: {e}")))?
        {
            Ok(value) => Ok(value),
            Err(protocol::Refusal::Failed(text)) => Err(BedrockError::msg(text)),
            Err(protocol::Refusal::NotSupported(text)) => Err(BedrockError::NotSupported(text)),
        }
    }

    /// The daemon's effective config (JSON text).
    pub fn get_config(&self) -> Result<String> {
        self.call(protocol::GET_CONFIG, &[])
    }

    /// Jx9 queries: answered with a clear "not supported" error.
    pub fn query_config(&self, script: &str) -> Result<String> {
        self.call(protocol::QUERY_CONFIG, &[script])
    }

    pub fn load_module(&self, path: &str) -> Result<()> {
        self.call(protocol::LOAD_MODULE, &[path]).map(|_| ())
    }

    /// Starts a provider from its JSON description; returns its provider id.
    pub fn add_provider(&self, description: &str) -> Result<u16> {
        let id = self.call(protocol::START_PROVIDER, &[description])?;
        id.parse().map_err(|_| BedrockError::msg(format!("malformed provider id \"{id}\"")))
    }

    pub fn add_pool(&self, config: &str) -> Result<()> {
        self.call(protocol::ADD_POOL, &[config]).map(|_| ())
    }

    pub fn remove_pool(&self, name: &str) -> Result<()> {
        self.call(protocol::REMOVE_POOL, &[name]).map(|_| ())
    }

    pub fn add_xstream(&self, config: &str) -> Result<()> {
        self.call(protocol::ADD_XSTREAM, &[config]).map(|_| ())
    }

    pub fn remove_xstream(&self, name: &str) -> Result<()> {
        self.call(protocol::REMOVE_XSTREAM, &[name]).map(|_| ())
    }

    pub fn change_provider_pool(&self, provider: &str, pool: &str) -> Result<()> {
        self.call(protocol::CHANGE_PROVIDER_POOL, &[provider, pool]).map(|_| ())
    }

    pub fn migrate_provider(&self, provider: &str, dest: &str, dest_id: u16, config: &str, remove_source: bool) -> Result<()> {
        let (id, rm) = (dest_id.to_string(), remove_source.to_string());
        self.call(protocol::MIGRATE_PROVIDER, &[provider, dest, &id, config, &rm]).map(|_| ())
    }

    pub fn snapshot_provider(&self, provider: &str, path: &str, config: &str, remove_source: bool) -> Result<()> {
        self.call(protocol::SNAPSHOT_PROVIDER, &[provider, path, config, &remove_source.to_string()]).map(|_| ())
    }

    pub fn restore_provider(&self, provider: &str, path: &str, config: &str) -> Result<()> {
        self.call(protocol::RESTORE_PROVIDER, &[provider, path, config]).map(|_| ())
    }

    /// Looks up a provider (`name` or `type:id`), waiting up to `timeout`
    /// (at most [`MAX_LOOKUP_WAIT`], the server's bound) for it to appear;
    /// returns (name, type, provider id).
    pub fn lookup_provider(&self, spec: &str, timeout: Duration) -> Result<(String, String, u16)> {
        let wait = timeout.min(MAX_LOOKUP_WAIT);
        // The call itself may take the wait plus an ordinary call's time.
        let text = self.call_within(
            protocol::LOOKUP_PROVIDER,
            &[spec, &wait.as_secs_f64().to_string()],
            wait + protocol::CLIENT_TIMEOUT,
        )?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| BedrockError::msg(e.to_string()))?;
        Ok((
            v["name"].as_str().unwrap_or_default().to_string(),
            v["type"].as_str().unwrap_or_default().to_string(),
            v["provider_id"].as_u64().unwrap_or_default() as u16,
        ))
    }

    /// Stops the daemon (Margo's remote shutdown).
    pub fn shutdown(&self) -> Result<()> {
        self.engine
            .shutdown_remote(&self.address, protocol::CLIENT_TIMEOUT)
            .map_err(|e| BedrockError::msg(format!("Could not shutdown {}: {e}", self.address)))
    }
}

/// Handles on several daemons.
#[derive(Clone)]
pub struct ServiceGroupHandle {
    engine: Engine,
    provider_id: u16,
    flock: Option<GroupHandle>,
    members: Vec<ServiceHandle>,
}

impl ServiceGroupHandle {
    pub fn from_addresses(engine: &Engine, addresses: &[String], provider_id: u16) -> Result<ServiceGroupHandle> {
        let members = addresses.iter().map(|a| ServiceHandle::new(engine, a, provider_id)).collect::<Result<Vec<_>>>()?;
        Ok(ServiceGroupHandle { engine: engine.clone(), provider_id, flock: None, members })
    }

    /// One handle per distinct process of a Flock group file.
    pub fn from_flock_file(engine: &Engine, path: &std::path::Path, provider_id: u16) -> Result<ServiceGroupHandle> {
        let client = FlockClient::new(engine, None);
        let group = GroupHandle::from_file(&client, path, 0)
            .map_err(|e| BedrockError::msg(format!("Could not create flock group handle: {} ({e})", e.code())))?;
        let mut g = ServiceGroupHandle { engine: engine.clone(), provider_id, flock: Some(group), members: Vec::new() };
        g.refresh()?;
        Ok(g)
    }

    /// Rebuilds the member list from the Flock group's cached view.
    pub fn refresh(&mut self) -> Result<()> {
        let Some(group) = &self.flock else {
            return Err(BedrockError::msg("ServiceGroupHandle not associated with an SSG or Flock group"));
        };
        let view = group.view();
        let mut members: Vec<ServiceHandle> = Vec::new();
        for m in view.members() {
            if members.last().is_some_and(|h| h.address.as_str() == m.address) {
                continue;
            }
            members.push(ServiceHandle::new(&self.engine, &m.address, self.provider_id)?);
        }
        self.members = members;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn get(&self, i: usize) -> Result<&ServiceHandle> {
        self.members.get(i).ok_or_else(|| BedrockError::msg(format!("Invalid index {i}")))
    }

    pub fn members(&self) -> &[ServiceHandle] {
        &self.members
    }

    /// `{ "<address>": <config> }` over every member, fetched concurrently;
    /// the first member error is returned after all have answered.
    pub fn get_config(&self) -> Result<String> {
        self.gather(|h| h.get_config())
    }

    pub fn query_config(&self, script: &str) -> Result<String> {
        self.gather(|h| h.query_config(script))
    }

    fn gather(&self, f: impl Fn(&ServiceHandle) -> Result<String> + Sync) -> Result<String> {
        let results: Vec<Result<String>> = std::thread::scope(|s| {
            let jobs: Vec<_> = self.members.iter().map(|h| s.spawn(|| f(h))).collect();
            jobs.into_iter().map(|j| j.join().unwrap_or_else(|_| Err(BedrockError::msg("a request thread panicked")))).collect()
        });
        let mut out = serde_json::Map::new();
        let mut first_error = None;
        for (h, r) in self.members.iter().zip(results) {
            match r {
                Ok(text) if text.is_empty() => {
                    out.insert(h.address.to_string(), serde_json::Value::Null);
                }
                Ok(text) => {
                    let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
                    out.insert(h.address.to_string(), v);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(serde_json::Value::Object(out).to_string()),
        }
    }

    /// Stops every member; failures are reported per address.
    pub fn shutdown(&self) -> Vec<(String, Result<()>)> {
        std::thread::scope(|s| {
            let jobs: Vec<_> = self.members.iter().map(|h| (h.address.to_string(), s.spawn(|| h.shutdown()))).collect();
            jobs.into_iter()
                .map(|(a, j)| (a, j.join().unwrap_or_else(|_| Err(BedrockError::msg("a shutdown thread panicked")))))
                .collect()
        })
    }
}
