// Placeholder until the full Margo config module lands (being written in parallel).
use serde_json::{json, Value};
pub struct PoolSpec { pub name: String }
pub struct XstreamSpec { pub name: String, pub pools: Vec<usize> }
pub struct MargoConfig { pub pools: Vec<PoolSpec>, pub xstreams: Vec<XstreamSpec>, pub progress_pool: usize, pub rpc_pool: usize }
#[derive(Default)]
pub struct InitOverrides { pub use_progress_thread: Option<bool>, pub rpc_thread_count: Option<i32> }
pub struct RuntimeInfo { pub address: String, pub listening: bool, pub version: String }
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);
impl MargoConfig {
    pub fn from_json_str(_text: &str, _o: &InitOverrides) -> Result<MargoConfig, ConfigError> {
        Ok(MargoConfig { pools: vec![PoolSpec { name: "__primary__".into() }], xstreams: vec![XstreamSpec { name: "__primary__".into(), pools: vec![0] }], progress_pool: 0, rpc_pool: 0 })
    }
    pub fn to_json(&self, rt: &RuntimeInfo) -> Value { json!({"mercury": {"address": rt.address}}) }
}
