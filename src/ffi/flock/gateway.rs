//! `flock-gateway.h`: C gateways registered with `flock_register_gateway`,
//! adapted to the Rust [`Gateway`] trait.
#![allow(non_camel_case_types)]

use super::common::{flock_return_t, ret_err, FLOCK_SUCCESS};
use super::jsonc::{self, json_object, Json};
use crate::ffi::handles::{self, margo_instance_id};
use crate::ffi::hg::ABT_pool;
use crate::ffi::panic::guard;
use crate::flock::error::{code, FlockError, Result};
use crate::flock::gateway::{Gateway, GatewayFactory, GatewayInit, GATEWAYS};
use crate::flock::registry::Named;
use std::ffi::{c_char, c_void, CStr};
use std::sync::Arc;

#[repr(C)]
pub struct flock_gateway_init_args {
    pub mid: margo_instance_id,
    pub provider_id: u16,
    pub pool: ABT_pool,
    pub config: *mut json_object,
}
pub type flock_gateway_init_args_t = flock_gateway_init_args;

pub type flock_gateway_init_fn =
    Option<unsafe extern "C" fn(args: *mut flock_gateway_init_args_t, state: *mut *mut c_void) -> flock_return_t>;
pub type flock_gateway_finalize_fn = Option<unsafe extern "C" fn(state: *mut c_void) -> flock_return_t>;
pub type flock_gateway_get_config_fn = Option<
    unsafe extern "C" fn(
        state: *mut c_void,
        f: Option<unsafe extern "C" fn(*mut c_void, *const json_object)>,
        uargs: *mut c_void,
    ) -> flock_return_t,
>;
pub type flock_gateway_get_public_address_fn = Option<unsafe extern "C" fn(state: *mut c_void) -> *const c_char>;
pub type flock_gateway_get_local_address_fn = Option<unsafe extern "C" fn(state: *mut c_void) -> *const c_char>;

#[repr(C)]
pub struct flock_gateway_impl {
    pub name: *const c_char,
    pub init_gateway: flock_gateway_init_fn,
    pub destroy_gateway: flock_gateway_finalize_fn,
    pub get_config: flock_gateway_get_config_fn,
    pub get_public_address: flock_gateway_get_public_address_fn,
    pub get_local_address: flock_gateway_get_local_address_fn,
}

struct CGatewayFactory {
    name: String,
    table: *const flock_gateway_impl,
}

// SAFETY: the table is immutable and outlives its use (upstream's rule).
unsafe impl Send for CGatewayFactory {}
// SAFETY: shared use only reads the immutable table and calls its functions,
// which the plug-in must allow from several threads (upstream calls them so).
unsafe impl Sync for CGatewayFactory {}

impl Named for CGatewayFactory {
    fn name(&self) -> &str {
        &self.name
    }
}

impl GatewayFactory for CGatewayFactory {
    fn create(&self, init: GatewayInit) -> Result<Arc<dyn Gateway>> {
        // SAFETY: the table outlives its registration.
        let table = unsafe { &*self.table };
        let (Some(init_gateway), Some(_), Some(_)) = (table.init_gateway, table.get_public_address, table.get_local_address)
        else {
            return Err(FlockError::InvalidArgs(format!("gateway \"{}\" lacks init or address functions", self.name)));
        };
        let config = Json::from_value(&init.config)
            .ok_or_else(|| FlockError::InvalidConfig("cannot hand the gateway config to json-c".into()))?;
        let mut args = flock_gateway_init_args {
            mid: handles::instance_for(&init.engine),
            provider_id: init.provider_id,
            pool: handles::pool_into_c(&init.pool),
            config: config.as_ptr(),
        };
        let mut state = std::ptr::null_mut();
        // SAFETY: the plug-in's init with valid arguments.
        match unsafe { init_gateway(&mut args, &mut state) } {
            FLOCK_SUCCESS => Ok(Arc::new(CGateway { table: self.table, state, _config: config })),
            c => Err(FlockError::from_code(c, format!("gateway \"{}\" failed to start", self.name))),
        }
    }
}

struct CGateway {
    table: *const flock_gateway_impl,
    state: *mut c_void,
    _config: Json,
}

// SAFETY: as CGatewayFactory; the state belongs to the plug-in.
unsafe impl Send for CGateway {}
// SAFETY: shared use only calls the table's functions on the plug-in's state,
// which the plug-in must allow from several threads, as upstream does.
unsafe impl Sync for CGateway {}

impl CGateway {
    fn address(&self, f: flock_gateway_get_public_address_fn) -> String {
        let Some(f) = f else { return String::new() };
        // SAFETY: the plug-in's function; it returns NULL or a string it owns.
        let p = unsafe { f(self.state) };
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: non-NULL, so a NUL-terminated string the plug-in owns.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    }
}

impl Gateway for CGateway {
    fn config(&self) -> serde_json::Value {
        let mut out = serde_json::json!({});
        // SAFETY: the table is valid for the gateway's life (factory_of's contract).
        if let Some(f) = unsafe { (*self.table).get_config } {
            // SAFETY: the plug-in's function with its state and our out-pointer.
            unsafe { f(self.state, Some(jsonc::config_trampoline), &mut out as *mut _ as *mut c_void) };
        }
        out
    }
    fn public_address(&self) -> String {
        // SAFETY: the table is valid for the gateway's life (factory_of's contract).
        self.address(unsafe { (*self.table).get_public_address })
    }
    fn local_address(&self) -> String {
        // SAFETY: the table is valid for the gateway's life (factory_of's contract).
        self.address(unsafe { (*self.table).get_local_address })
    }
    fn destroy(&self) -> Result<()> {
        // SAFETY: the table is valid for the gateway's life (factory_of's contract).
        match unsafe { (*self.table).destroy_gateway } {
            // SAFETY: the plug-in's function with its state, called once.
            Some(f) => match unsafe { f(self.state) } {
                FLOCK_SUCCESS => Ok(()),
                c => Err(FlockError::from_code(c, "gateway destroy failed")),
            },
            None => Ok(()),
        }
    }
}

/// Wraps a C table as a factory (for `flock_provider_args.gateway`).
///
/// # Safety
/// `table` must be a valid table that outlives its use.
pub unsafe fn factory_of(table: *const flock_gateway_impl) -> Result<Arc<dyn GatewayFactory>> {
    // SAFETY: by the contract NULL or a valid table.
    let t = unsafe { table.as_ref() }.ok_or_else(|| FlockError::InvalidArgs("NULL gateway table".into()))?;
    if t.name.is_null() {
        return Err(FlockError::InvalidArgs("gateway table without a name".into()));
    }
    // SAFETY: non-NULL (checked above); a valid table's name is NUL-terminated.
    let name = unsafe { CStr::from_ptr(t.name) }.to_string_lossy().into_owned();
    Ok(Arc::new(CGatewayFactory { name, table }))
}

/// # Safety
/// `gateway_impl` must be NULL or a valid table that outlives its use.
#[no_mangle]
pub unsafe extern "C" fn flock_register_gateway(gateway_impl: *mut flock_gateway_impl) -> flock_return_t {
    guard("flock_register_gateway", code::OTHER, || {
        crate::flock::gateway::register_builtins();
        // SAFETY: the caller's contract is factory_of's.
        match unsafe { factory_of(gateway_impl) }.and_then(|f| GATEWAYS.register(f)) {
            Ok(()) => FLOCK_SUCCESS,
            Err(e) => ret_err("flock_register_gateway", e),
        }
    })
}

/// Upstream exports this alias too.
///
/// # Safety
/// As `flock_register_gateway`.
#[no_mangle]
pub unsafe extern "C" fn flock_provider_register_gateway(gateway_impl: *mut flock_gateway_impl) -> flock_return_t {
    // SAFETY: the same contract.
    unsafe { flock_register_gateway(gateway_impl) }
}
