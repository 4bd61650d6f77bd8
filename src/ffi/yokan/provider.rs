//! `yokan/server.h`: a Yokan provider registered by the program itself
//! (Bedrock's `yokan` module makes the same provider from its config).
#![allow(non_camel_case_types)]

use super::client::{ret_err, yk_return_t};
use crate::ffi::handles::{self, boxed_free, boxed_ref, margo_instance_id, Owned};
use crate::ffi::hg::ABT_pool;
use crate::ffi::panic::guard;
use crate::ffi::strings::malloc_string;
use crate::yokan::error::{code, YokanError};
use crate::yokan::provider::{Provider, ProviderArgs};
use std::ffi::{c_char, c_void, CStr};

/// Opaque provider (`struct yk_provider`).
pub struct yk_provider {
    _private: [u8; 0],
}
pub type yk_provider_t = *mut yk_provider;

impl Owned for yk_provider {
    type Rust = Provider;
}

/// REMI's client and provider (`remi_client_t`, `remi_provider_t`): the
/// migration they serve is not available here, so they must be NULL.
#[repr(C)]
pub struct yk_remi_args {
    pub client: *mut c_void,
    pub provider: *mut c_void,
}

/// Optional arguments of `yk_provider_register` (`YOKAN_PROVIDER_ARGS_INIT`).
#[repr(C)]
pub struct yk_provider_args {
    /// Pool for the provider's handlers (`ABT_POOL_NULL`: the handler pool).
    pub pool: ABT_pool,
    /// A bulk-buffer cache (`yk_bulk_cache_t`): not used (transfers here
    /// use no intermediate buffers).
    pub cache: *mut c_void,
    pub remi: yk_remi_args,
}

/// Registers a Yokan provider at `provider_id` with a JSON `config` (as
/// under Bedrock: `{"database": {"type": "map", "config": {…}}}`).
/// `provider` may be `YOKAN_PROVIDER_IGNORE` (NULL): the provider then lives
/// until the margo instance is finalized.
///
/// # Safety
/// Pointers must be NULL or valid; `config` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn yk_provider_register(
    mid: margo_instance_id,
    provider_id: u16,
    config: *const c_char,
    args: *const yk_provider_args,
    provider: *mut yk_provider_t,
) -> yk_return_t {
    const E: &str = "yk_provider_register";
    guard(E, code::OTHER, || {
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return ret_err(E, YokanError::new(code::INVALID_MID, e.to_string())),
        };
        let config = if config.is_null() {
            "{}".to_string()
        } else {
            // SAFETY: non-NULL, NUL-terminated by the contract.
            match unsafe { CStr::from_ptr(config) }.to_str() {
                Ok(c) => c.to_string(),
                Err(_) => return ret_err(E, YokanError::new(code::INVALID_CONFIG, "config is not UTF-8")),
            }
        };
        let mut rust_args = ProviderArgs::default();
        // SAFETY: by the contract NULL or valid provider arguments.
        if let Some(a) = unsafe { args.as_ref() } {
            if !a.pool.is_null() {
                match handles::pool_of(&engine, a.pool) {
                    Some(p) => rust_args.pool = Some(p),
                    None => return ret_err(E, YokanError::new(code::INVALID_ARGS, "the pool belongs to no live margo instance")),
                }
            }
            if !a.remi.client.is_null() || !a.remi.provider.is_null() {
                return ret_err(
                    E,
                    YokanError::new(code::OP_UNSUPPORTED, "REMI (database migration) is not available: pass NULL remi handles"),
                );
            }
        }
        match Provider::register(&engine, provider_id, &config, rust_args) {
            Ok(p) => {
                // SAFETY: NULL (YOKAN_PROVIDER_IGNORE) or writable by the contract.
                unsafe { handles::provider_into_c::<yk_provider>(&engine, provider, p, Provider::destroy) };
                code::SUCCESS
            }
            Err(e) => ret_err(E, e),
        }
    })
}

/// Stops the provider (its RPCs are deregistered; a shard hands its keys
/// off first) and frees it.
///
/// # Safety
/// `provider` must be NULL or live, and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn yk_provider_destroy(provider: yk_provider_t) -> yk_return_t {
    // SAFETY: by the contract NULL or a live provider, not used afterwards.
    guard("yk_provider_destroy", code::OTHER, || match unsafe { boxed_free(provider) } {
        Some(p) => {
            p.destroy();
            code::SUCCESS
        }
        None => ret_err("yk_provider_destroy", YokanError::new(code::INVALID_PROVIDER, "NULL provider")),
    })
}

/// The provider's effective config as JSON (free with `free()`); NULL for
/// NULL.
///
/// # Safety
/// `provider` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn yk_provider_get_config(provider: yk_provider_t) -> *mut c_char {
    // SAFETY: by the contract NULL or live.
    guard("yk_provider_get_config", std::ptr::null_mut(), || match unsafe { boxed_ref(provider) } {
        Some(p) => malloc_string(&p.config_string()),
        None => std::ptr::null_mut(),
    })
}

fn unsupported(entry: &str, what: &str) -> yk_return_t {
    ret_err(entry, YokanError::new(code::OP_UNSUPPORTED, format!("{what} is not available (no REMI here)")))
}

/// Moving a database to another provider needs REMI: not available.
#[no_mangle]
pub extern "C" fn yk_provider_migrate_database(
    _provider: yk_provider_t,
    _dest_addr: *const c_char,
    _dest_provider_id: u16,
    _options: *const c_void,
) -> yk_return_t {
    unsupported("yk_provider_migrate_database", "database migration")
}

/// Snapshots need REMI's file copies: not available.
#[no_mangle]
pub extern "C" fn yk_provider_snapshot_database(
    _provider: yk_provider_t,
    _dest_path: *const c_char,
    _remove_source: bool,
    _options: *const c_void,
) -> yk_return_t {
    unsupported("yk_provider_snapshot_database", "a database snapshot")
}

/// Restoring a snapshot: not available (see `yk_provider_snapshot_database`).
#[no_mangle]
pub extern "C" fn yk_provider_restore_database(
    _provider: yk_provider_t,
    _src_path: *const c_char,
    _options: *const c_void,
) -> yk_return_t {
    unsupported("yk_provider_restore_database", "restoring a database snapshot")
}
