//! The resolved configuration and what it is resolved with.

use super::enums::{PoolAccess, PoolKind, SchedulerType};
use super::{
    DEFAULT_ABT_MEM_MAX_NUM_STACKS, DEFAULT_ABT_THREAD_STACKSIZE, DEFAULT_HANDLE_CACHE_SIZE, DEFAULT_PROFILING_DIR,
    DEFAULT_PROGRESS_SPINDOWN_MSEC, DEFAULT_PROGRESS_TIMEOUT_UB_MSEC, PRIMARY_NAME,
};
use serde_json::{Map, Value};

/// One Argobots pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    pub name: String,
    pub kind: PoolKind,
    /// Not reported for `External` pools (upstream does not know it).
    pub access: PoolAccess,
}

/// One Argobots execution stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XstreamSpec {
    pub name: String,
    pub scheduler: SchedulerType,
    /// Indices into `MargoConfig::pools`, in scheduling order (never empty
    /// for a configuration produced by this module).
    pub pools: Vec<usize>,
    pub cpubind: Option<i64>,
    pub affinity: Option<Vec<i64>>,
}

/// NIC selection policy (`plumber` object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlumberConfig {
    pub bucket_policy: String,
    pub nic_policy: String,
}

impl Default for PlumberConfig {
    fn default() -> Self {
        PlumberConfig { bucket_policy: "package".to_string(), nic_policy: "roundrobin".to_string() }
    }
}

/// The validated, fully resolved Margo configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MargoConfig {
    pub pools: Vec<PoolSpec>,
    pub xstreams: Vec<XstreamSpec>,
    /// Index of the pool running the network progress loop.
    pub progress_pool: usize,
    /// Index of the default pool for RPC handlers.
    pub rpc_pool: usize,
    /// Mercury options as given (validated), without the output-only
    /// `version` key and without keys set to `null`.
    pub mercury: Map<String, Value>,
    pub progress_timeout_ub_msec: u64,
    pub progress_spindown_msec: u64,
    pub handle_cache_size: u64,
    pub enable_abt_profiling: bool,
    pub abt_mem_max_num_stacks: u64,
    pub abt_thread_stacksize: u64,
    pub profiling_dir: String,
    /// A property of the Argobots build: reported, never read from input
    /// (upstream ignores the input key as well).
    pub lazy_stack_alloc: bool,
    pub plumber: PlumberConfig,
    /// Kept exactly as given and reported back when present.
    pub monitoring: Option<Value>,
}

/// Arguments of `margo_init(addr, mode, use_progress_thread,
/// rpc_thread_count)`: when set they replace the JSON keys of the same name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InitOverrides {
    pub use_progress_thread: Option<bool>,
    pub rpc_thread_count: Option<i32>,
}

/// Run-time facts reported in the `mercury` section of the effective config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// Self address of the engine.
    pub address: String,
    pub listening: bool,
    /// Version of the network layer (Mercury's `version` field).
    pub version: String,
}

impl Default for MargoConfig {
    /// The configuration `{}` resolves to.
    fn default() -> Self {
        MargoConfig {
            pools: vec![PoolSpec { name: PRIMARY_NAME.to_string(), kind: PoolKind::FifoWait, access: PoolAccess::Mpmc }],
            xstreams: vec![XstreamSpec {
                name: PRIMARY_NAME.to_string(),
                scheduler: SchedulerType::BasicWait,
                pools: vec![0],
                cpubind: None,
                affinity: None,
            }],
            progress_pool: 0,
            rpc_pool: 0,
            mercury: Map::new(),
            progress_timeout_ub_msec: DEFAULT_PROGRESS_TIMEOUT_UB_MSEC,
            progress_spindown_msec: DEFAULT_PROGRESS_SPINDOWN_MSEC,
            handle_cache_size: DEFAULT_HANDLE_CACHE_SIZE,
            enable_abt_profiling: false,
            abt_mem_max_num_stacks: DEFAULT_ABT_MEM_MAX_NUM_STACKS,
            abt_thread_stacksize: DEFAULT_ABT_THREAD_STACKSIZE,
            profiling_dir: DEFAULT_PROFILING_DIR.to_string(),
            lazy_stack_alloc: false,
            plumber: PlumberConfig::default(),
            monitoring: None,
        }
    }
}

/// Lookups by name or index.
impl MargoConfig {
    /// Looks a pool up by name (string) or index (non-negative integer).
    pub fn pool_index(&self, name_or_index: &Value) -> Option<usize> {
        match name_or_index {
            Value::String(s) => self.pool_by_name(s),
            Value::Number(n) => n.as_u64().and_then(|i| usize::try_from(i).ok()).filter(|i| *i < self.pools.len()),
            _ => None,
        }
    }

    pub fn pool_by_name(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.name == name)
    }

    pub fn xstream_by_name(&self, name: &str) -> Option<usize> {
        self.xstreams.iter().position(|x| x.name == name)
    }
}
