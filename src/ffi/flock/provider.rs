//! `flock-server.h`: providers.
#![allow(non_camel_case_types)]

use super::backend::{self, flock_backend_impl};
use super::callbacks::{flock_membership_update_fn, flock_metadata_update_fn, CCallbacks};
use super::common::{flock_return_t, ret_err, FLOCK_SUCCESS};
use super::gateway::{self, flock_gateway_impl};
use super::view::{clear_c, flock_group_view_t, from_c};
use crate::ffi::handles::{self, boxed_free, boxed_ref, margo_instance_id, Owned};
use crate::ffi::hg::ABT_pool;
use crate::ffi::panic::guard;
use crate::ffi::strings::malloc_string;
use crate::flock::error::code;
use crate::flock::provider::{Provider, ProviderArgs};
use crate::flock::FlockError;
use std::ffi::{c_char, c_void, CStr};
use std::sync::Arc;

/// Opaque provider (`struct flock_provider`).
pub struct flock_provider {
    _private: [u8; 0],
}
pub type flock_provider_t = *mut flock_provider;

impl Owned for flock_provider {
    type Rust = Provider;
}

/// Optional arguments of `flock_provider_register` (`FLOCK_PROVIDER_ARGS_INIT`).
#[repr(C)]
pub struct flock_provider_args {
    /// Pool for the provider's handlers (`ABT_POOL_NULL`: the handler pool).
    pub pool: ABT_pool,
    /// Initial view; its content is moved out (left empty).
    pub initial_view: *mut flock_group_view_t,
    /// Overrides the config's `group.type`.
    pub backend: *mut flock_backend_impl,
    /// Overrides the config's `gateway.type`.
    pub gateway: *mut flock_gateway_impl,
}

/// Registers a Flock provider. `provider` may be `FLOCK_PROVIDER_IGNORE`
/// (NULL): the provider then lives until the margo instance is finalized.
///
/// # Safety
/// Pointers must be NULL or valid; `config` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn flock_provider_register(
    mid: margo_instance_id,
    provider_id: u16,
    config: *const c_char,
    args: *const flock_provider_args,
    provider: *mut flock_provider_t,
) -> flock_return_t {
    guard("flock_provider_register", code::OTHER, || {
        let entry = "flock_provider_register";
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return ret_err(entry, FlockError::InvalidArgs(e.to_string())),
        };
        let config = if config.is_null() {
            String::new()
        } else {
            // SAFETY: non-NULL, NUL-terminated by the contract.
            unsafe { CStr::from_ptr(config) }.to_string_lossy().into_owned()
        };
        let mut rust_args = ProviderArgs::default();
        // SAFETY: by the contract NULL or valid provider arguments.
        if let Some(a) = unsafe { args.as_ref() } {
            if !a.pool.is_null() {
                match handles::pool_of(&engine, a.pool) {
                    Some(p) => rust_args.pool = Some(p),
                    None => return ret_err(entry, FlockError::InvalidArgs("pool does not belong to this margo instance".into())),
                }
            }
            // SAFETY: valid arguments hold NULL or a valid, malloc'd view
            // whose content the provider takes over (upstream clears it too).
            if let Some(v) = unsafe { a.initial_view.as_mut() } {
                // SAFETY: as above.
                match unsafe { from_c(v) } {
                    Ok(g) => rust_args.initial_view = g,
                    Err(e) => return ret_err(entry, e),
                }
                // SAFETY: as above.
                unsafe { clear_c(v) };
            }
            if !a.backend.is_null() {
                // SAFETY: non-NULL, and valid arguments hold a valid table
                // that outlives the provider (upstream's rule).
                match unsafe { backend::factory_of(a.backend) } {
                    Ok(f) => rust_args.backend = Some(f),
                    Err(e) => return ret_err(entry, e),
                }
            }
            if !a.gateway.is_null() {
                // SAFETY: as for the backend table.
                match unsafe { gateway::factory_of(a.gateway) } {
                    Ok(f) => rust_args.gateway = Some(f),
                    Err(e) => return ret_err(entry, e),
                }
            }
        }
        match Provider::register(&engine, provider_id, &config, rust_args) {
            Ok(p) => {
                // SAFETY: NULL (FLOCK_PROVIDER_IGNORE) or writable by the contract.
                unsafe { handles::provider_into_c::<flock_provider>(&engine, provider, p, Provider::destroy) };
                FLOCK_SUCCESS
            }
            Err(e) => ret_err(entry, e),
        }
    })
}

/// With `crash` true, a later `flock_provider_destroy` stops the provider
/// without its leave announcement, as a crashed member would (upstream's
/// swim backend exports this for tests of failure detection).
/// `FLOCK_ERR_INVALID_BACKEND` for a backend other than `swim`.
///
/// # Safety
/// `provider` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn flock_swim_set_crash_mode(provider: flock_provider_t, crash: bool) -> flock_return_t {
    const E: &str = "flock_swim_set_crash_mode";
    // SAFETY: by the contract NULL or live.
    guard(E, code::OTHER, || match unsafe { boxed_ref(provider) } {
        Some(p) => match p.set_crash_mode(crash) {
            Ok(()) => FLOCK_SUCCESS,
            Err(e) => ret_err(E, e),
        },
        None => ret_err(E, FlockError::InvalidArgs("NULL provider".into())),
    })
}

/// Destroys a provider (leaving its group as the backend defines).
///
/// # Safety
/// `provider` must be NULL or live, and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn flock_provider_destroy(provider: flock_provider_t) -> flock_return_t {
    // SAFETY: by the contract NULL or a live provider, not used afterwards.
    guard("flock_provider_destroy", code::OTHER, || match unsafe { boxed_free(provider) } {
        Some(p) => {
            p.destroy();
            FLOCK_SUCCESS
        }
        None => ret_err("flock_provider_destroy", FlockError::InvalidArgs("NULL provider".into())),
    })
}

/// The effective config as JSON (free with `free()`); NULL for NULL.
///
/// # Safety
/// `provider` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn flock_provider_get_config(provider: flock_provider_t) -> *mut c_char {
    // SAFETY: by the contract NULL or a live provider.
    guard("flock_provider_get_config", std::ptr::null_mut(), || match unsafe { boxed_ref(provider) } {
        Some(p) => malloc_string(&p.config_string()),
        None => std::ptr::null_mut(),
    })
}

/// Adds callbacks; the same `context` replaces an earlier registration.
///
/// # Safety
/// `provider` NULL or live; callbacks valid while registered.
#[no_mangle]
pub unsafe extern "C" fn flock_provider_add_update_callbacks(
    provider: flock_provider_t,
    member_update_fn: flock_membership_update_fn,
    metadata_update_fn: flock_metadata_update_fn,
    context: *mut c_void,
) -> flock_return_t {
    // SAFETY: by the contract NULL or a live provider.
    guard("flock_provider_add_update_callbacks", code::OTHER, || match unsafe { boxed_ref(provider) } {
        Some(p) => {
            let cbs = Arc::new(CCallbacks { membership: member_update_fn, metadata: metadata_update_fn, context });
            p.add_update_callbacks(context as usize, cbs);
            FLOCK_SUCCESS
        }
        None => ret_err("flock_provider_add_update_callbacks", FlockError::InvalidArgs("NULL provider".into())),
    })
}

/// Removes the callbacks registered with `context` (unknown context:
/// `FLOCK_ERR_INVALID_ARGS`, where upstream crashes).
///
/// # Safety
/// `provider` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn flock_provider_remove_update_callbacks(
    provider: flock_provider_t,
    context: *mut c_void,
) -> flock_return_t {
    guard("flock_provider_remove_update_callbacks", code::OTHER, || {
        let entry = "flock_provider_remove_update_callbacks";
        // SAFETY: by the contract NULL or a live provider.
        match unsafe { boxed_ref(provider) } {
            Some(p) if p.remove_update_callbacks(context as usize) => FLOCK_SUCCESS,
            Some(_) => ret_err(entry, FlockError::InvalidArgs("no callbacks registered with this context".into())),
            None => ret_err(entry, FlockError::InvalidArgs("NULL provider".into())),
        }
    })
}
