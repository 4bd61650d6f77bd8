//! Margo runtime configuration: parsing, validation, defaults and reporting.
//!
//! This module reproduces the behaviour of the JSON configuration accepted by
//! `margo_init_ext` (mochi-margo 0.23.x, the version Bedrock 0.16 was measured
//! against) and the document reported by
//! `margo_get_config_opt(mid, MARGO_CONFIG_USE_NAMES)`.
//!
//! Input handling follows upstream closely:
//! * a key whose value is JSON `null` behaves as if it were absent (upstream's
//!   JSON library represents `null` as a missing object);
//! * unknown keys are ignored at every level;
//! * pools and xstreams given in `argobots` keep their order; a `__primary__`
//!   pool (appended at the end of the pool list) and a `__primary__` xstream
//!   are added when no `__primary__` xstream is defined;
//! * `use_progress_thread` / `rpc_thread_count` create extra pools and
//!   xstreams after that, unless `progress_pool` / `rpc_pool` are given.
//!
//! Where upstream would crash, silently misbehave or fail later at run time,
//! this module reports a `ConfigError` up front instead (see the notes on the
//! individual checks).
//!
//! Where things are: `parse` builds a [`MargoConfig`] from its document,
//! with `json` (typed access to members, error paths), `argobots` (pools,
//! xstreams, pool references), `mercury`, `settings` (plumber and numeric
//! settings) and `names` (given names checked, missing ones generated);
//! `edit` applies the run-time additions and removals; `report` writes the
//! effective configuration back and `sanity` lists upstream's layout
//! warnings.

mod argobots;
mod edit;
mod enums;
mod error;
mod json;
mod mercury;
mod names;
mod parse;
mod report;
mod sanity;
mod settings;
#[cfg(test)]
mod tests;
mod types;

pub use enums::{PoolAccess, PoolKind, SchedulerType};
pub use error::ConfigError;
pub(crate) use json::json_type;
pub use types::{InitOverrides, MargoConfig, PlumberConfig, PoolSpec, RuntimeInfo, XstreamSpec};

/// Version reported in the `version` key of the effective configuration.
pub const MARGO_VERSION: &str = "0.23.1";
/// Name of the pool and xstream that represent the caller's own thread.
pub const PRIMARY_NAME: &str = "__primary__";
/// The most xstreams (one thread each) an engine may have besides
/// `__primary__`, which every engine has: those declared in
/// `argobots.xstreams` and those `use_progress_thread` and
/// `rpc_thread_count` generate, together; also the most an engine accepts
/// at run time. So `rpc_thread_count` is at most 1024. Upstream has no bound, but a
/// configuration asking for more threads than this is a mistake (a typo'd
/// count, a fuzzer), and accepting it would start that many threads.
pub const MAX_XSTREAMS: usize = 1024;

/// Upstream stores these settings in a C `int`; larger values would be
/// silently truncated there, so they are rejected here.
const MAX_INT_SETTING: i64 = i32::MAX as i64;

const DEFAULT_PROGRESS_TIMEOUT_UB_MSEC: u64 = 100;
const DEFAULT_PROGRESS_SPINDOWN_MSEC: u64 = 10;
/// Margo 0.24 raised this to 256; the spec (margo 0.23.1) reports 32.
const DEFAULT_HANDLE_CACHE_SIZE: u64 = 32;
const DEFAULT_ABT_MEM_MAX_NUM_STACKS: u64 = 8;
const DEFAULT_ABT_THREAD_STACKSIZE: u64 = 2_097_152;
const DEFAULT_PROFILING_DIR: &str = ".";
