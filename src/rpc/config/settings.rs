//! `plumber` and the numeric settings that top-level and child
//! configurations share.

use super::error::ConfigError;
use super::json::{field, member, opt_bool, opt_setting, opt_str, wrong_type};
use super::types::PlumberConfig;
use super::{DEFAULT_HANDLE_CACHE_SIZE, DEFAULT_PROGRESS_SPINDOWN_MSEC, DEFAULT_PROGRESS_TIMEOUT_UB_MSEC};
use serde_json::{Map, Value};

pub(super) fn parse_plumber(v: Option<&Value>, path: &str) -> Result<PlumberConfig, ConfigError> {
    let mut plumber = PlumberConfig::default();
    let obj = match v {
        None => return Ok(plumber),
        Some(Value::Object(m)) => m,
        Some(other) => return Err(wrong_type(path, "object", other)),
    };
    if let Some(s) = opt_str(obj, "bucket_policy", path)? {
        plumber.bucket_policy = s.to_string();
    }
    if let Some(s) = opt_str(obj, "nic_policy", path)? {
        plumber.nic_policy = s.to_string();
    }
    Ok(plumber)
}

/// Settings shared by top-level and child configurations (besides mercury,
/// which is validated first to keep upstream's error order).
pub(super) struct CommonSettings {
    pub(super) plumber: PlumberConfig,
    pub(super) progress_spindown_msec: u64,
    pub(super) progress_timeout_ub_msec: u64,
    pub(super) handle_cache_size: u64,
    pub(super) enable_abt_profiling: bool,
    pub(super) monitoring: Option<Value>,
}

pub(super) fn parse_common(obj: &Map<String, Value>, path: &str) -> Result<CommonSettings, ConfigError> {
    Ok(CommonSettings {
        plumber: parse_plumber(member(obj, "plumber"), &field(path, "plumber"))?,
        progress_spindown_msec: opt_setting(obj, "progress_spindown_msec", path)?.unwrap_or(DEFAULT_PROGRESS_SPINDOWN_MSEC),
        progress_timeout_ub_msec: opt_setting(obj, "progress_timeout_ub_msec", path)?.unwrap_or(DEFAULT_PROGRESS_TIMEOUT_UB_MSEC),
        handle_cache_size: opt_setting(obj, "handle_cache_size", path)?.unwrap_or(DEFAULT_HANDLE_CACHE_SIZE),
        // Upstream silently falls back to false for a non-boolean.
        enable_abt_profiling: opt_bool(obj, "enable_abt_profiling", path)?.unwrap_or(false),
        monitoring: member(obj, "monitoring").cloned(),
    })
}
