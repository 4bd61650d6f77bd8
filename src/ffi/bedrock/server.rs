//! `bedrock/server.h`: run a Bedrock server inside a program, and the
//! daemon's entry point.
#![allow(non_camel_case_types)]

use super::client::{bedrock_return_t, set_error, BEDROCK_ERR_INVALID_ARGS, BEDROCK_ERR_NOT_SUPPORTED};
use crate::bedrock::config::{ConfigFormat, ProviderSpec};
use crate::bedrock::error::BedrockError;
use crate::bedrock::server::Server;
use crate::ffi::handles::{self, boxed_free, boxed_into_c, boxed_ref, margo_instance_id, Owned};
use crate::ffi::panic::guard;
use crate::ffi::strings::malloc_string;
use std::ffi::{c_char, c_int, CStr};

/// Opaque server (`struct bedrock_server`).
pub struct bedrock_server {
    _private: [u8; 0],
}
pub type bedrock_server_t = *mut bedrock_server;
impl Owned for bedrock_server {
    type Rust = Server;
}

pub const BEDROCK_CONFIG_JSON: c_int = 0;
pub const BEDROCK_CONFIG_TOML: c_int = 1;

/// Starts a server on `address` from `config` (JSON or TOML text; NULL or
/// "" for defaults). On failure returns non-zero and, if `error` is not
/// NULL, a malloc'd message in `*error`.
///
/// # Safety
/// Strings NULL or NUL-terminated; `server` and `error` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_init(
    address: *const c_char,
    config: *const c_char,
    format: c_int,
    server: *mut bedrock_server_t,
    error: *mut *mut c_char,
) -> bedrock_return_t {
    guard("bedrock_server_init", super::client::BEDROCK_ERR_OTHER, || {
        let report = |msg: &str| {
            if !error.is_null() {
                // SAFETY: non-NULL, writable by the contract.
                unsafe { *error = malloc_string(msg) };
            }
            crate::error!("bedrock_server_init: {msg}");
        };
        if server.is_null() {
            report("NULL output pointer");
            return super::client::BEDROCK_ERR_INVALID_ARGS;
        }
        let text = |p: *const c_char| {
            if p.is_null() {
                String::new()
            } else {
                // SAFETY: non-NULL, and the contract makes it NUL-terminated.
                unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
            }
        };
        let format = match format {
            BEDROCK_CONFIG_JSON => ConfigFormat::Json,
            BEDROCK_CONFIG_TOML => ConfigFormat::Toml,
            other => {
                report(&format!("unknown config format {other}"));
                return super::client::BEDROCK_ERR_INVALID_ARGS;
            }
        };
        match Server::start(&text(address), &text(config), format) {
            Ok(s) => {
                // SAFETY: checked non-NULL above; writable by the contract.
                unsafe { *server = boxed_into_c::<bedrock_server>(s) };
                super::client::BEDROCK_SUCCESS
            }
            Err(e) => {
                report(&e.to_string());
                super::client::BEDROCK_ERR_INVALID_ARGS
            }
        }
    })
}

/// The effective config as JSON (malloc'd; free()), NULL for NULL.
///
/// # Safety
/// `server` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_get_config(server: bedrock_server_t) -> *mut c_char {
    // SAFETY: by the contract NULL or a live server.
    guard("bedrock_server_get_config", std::ptr::null_mut(), || match unsafe { boxed_ref(server) } {
        Some(s) => malloc_string(&s.config_json().to_string()),
        None => std::ptr::null_mut(),
    })
}

/// Blocks until the server is shut down (remotely or by `bedrock_server_finalize`).
///
/// # Safety
/// `server` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_wait_for_finalize(server: bedrock_server_t) -> bedrock_return_t {
    // SAFETY: by the contract NULL or a live server.
    guard("bedrock_server_wait_for_finalize", super::client::BEDROCK_ERR_OTHER, || match unsafe { boxed_ref(server) } {
        Some(s) => {
            s.wait_for_finalize();
            super::client::BEDROCK_SUCCESS
        }
        None => super::client::BEDROCK_ERR_INVALID_ARGS,
    })
}

/// Stops the server and frees the handle.
///
/// # Safety
/// `server` NULL or live, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_finalize(server: bedrock_server_t) -> bedrock_return_t {
    // SAFETY: by the contract NULL or a live server, not used afterwards.
    guard("bedrock_server_finalize", super::client::BEDROCK_ERR_OTHER, || match unsafe { boxed_free(server) } {
        Some(s) => {
            s.finalize();
            super::client::BEDROCK_SUCCESS
        }
        None => super::client::BEDROCK_ERR_INVALID_ARGS,
    })
}

// ----- Managing a running server (what upstream's C++ MargoManager and
// ProviderManager offer; the Python bindings' `Server.margo` and
// `Server.providers` sit on these). Failures set `bedrock_last_error()`.

/// A local server refuses what it cannot do as invalid arguments.
fn server_error(entry: &str, e: BedrockError) -> bedrock_return_t {
    set_error(entry, &format!("{entry}: {e}"));
    match e {
        BedrockError::NotSupported(_) => BEDROCK_ERR_NOT_SUPPORTED,
        _ => BEDROCK_ERR_INVALID_ARGS,
    }
}

/// Runs `f` on a live server with one string argument.
///
/// # Safety
/// `server` must be NULL or a live server; `arg` NULL or NUL-terminated.
unsafe fn with_server(
    entry: &'static str,
    server: bedrock_server_t,
    arg: *const c_char,
    what: &str,
    f: impl FnOnce(&Server, &str) -> Result<(), BedrockError>,
) -> bedrock_return_t {
    // SAFETY: the same contract as string_call's.
    unsafe { super::client::string_call(entry, (server, "server"), (arg, what), server_error, f) }
}

/// Loads a module library (as `libraries` in the config would).
///
/// # Safety
/// `server` NULL or live; `path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_load_module(server: bedrock_server_t, path: *const c_char) -> bedrock_return_t {
    // SAFETY: the caller's contract is with_server's.
    unsafe { with_server("bedrock_server_load_module", server, path, "path", |s, p| s.load_module(p)) }
}

/// Adds an Argobots pool from its JSON description (`{"name": …}`).
///
/// # Safety
/// As `bedrock_server_load_module`.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_add_pool(server: bedrock_server_t, pool_json: *const c_char) -> bedrock_return_t {
    // SAFETY: the caller's contract is with_server's.
    unsafe { with_server("bedrock_server_add_pool", server, pool_json, "pool description", |s, j| s.add_pool(j)) }
}

/// Removes a pool no execution stream or provider uses.
///
/// # Safety
/// As `bedrock_server_load_module`.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_remove_pool(server: bedrock_server_t, name: *const c_char) -> bedrock_return_t {
    // SAFETY: the caller's contract is with_server's.
    unsafe { with_server("bedrock_server_remove_pool", server, name, "pool name", |s, n| s.remove_pool(n)) }
}

/// Adds an execution stream from its JSON description.
///
/// # Safety
/// As `bedrock_server_load_module`.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_add_xstream(server: bedrock_server_t, xstream_json: *const c_char) -> bedrock_return_t {
    // SAFETY: the caller's contract is with_server's.
    unsafe { with_server("bedrock_server_add_xstream", server, xstream_json, "xstream description", |s, j| s.add_xstream(j)) }
}

/// Stops and removes an execution stream.
///
/// # Safety
/// As `bedrock_server_load_module`.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_remove_xstream(server: bedrock_server_t, name: *const c_char) -> bedrock_return_t {
    // SAFETY: the caller's contract is with_server's.
    unsafe { with_server("bedrock_server_remove_xstream", server, name, "xstream name", |s, n| s.remove_xstream(n)) }
}

/// Starts a provider from its JSON description (as an entry of
/// `providers`); its provider id goes to `*provider_id` when not NULL.
///
/// # Safety
/// As `bedrock_server_load_module`; `provider_id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_add_provider(
    server: bedrock_server_t,
    provider_json: *const c_char,
    provider_id: *mut u16,
) -> bedrock_return_t {
    let add = |s: &Server, j: &str| {
        let spec = ProviderSpec::from_json_str(j)?;
        let id = s.add_provider(spec)?;
        if !provider_id.is_null() {
            // SAFETY: non-NULL, writable by the contract.
            unsafe { *provider_id = id };
        }
        Ok(())
    };
    // SAFETY: the caller's contract is with_server's.
    unsafe { with_server("bedrock_server_add_provider", server, provider_json, "provider description", add) }
}

/// Destroys a provider given by name or `type:id`; refused while another
/// provider of the server depends on it.
///
/// # Safety
/// As `bedrock_server_load_module`.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_remove_provider(server: bedrock_server_t, spec: *const c_char) -> bedrock_return_t {
    // SAFETY: the caller's contract is with_server's.
    unsafe { with_server("bedrock_server_remove_provider", server, spec, "provider spec", |s, p| s.remove_provider(p)) }
}

/// The margo instance of the server's engine `index` (0 for the first),
/// NULL for a NULL server or an index out of range. Owned by the server.
///
/// # Safety
/// `server` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn bedrock_server_get_margo_instance(server: bedrock_server_t, index: usize) -> margo_instance_id {
    // SAFETY: by the contract NULL or a live server.
    guard("bedrock_server_get_margo_instance", std::ptr::null_mut(), || match unsafe { boxed_ref(server) } {
        Some(s) => s.engines().get(index).map_or(std::ptr::null_mut(), handles::instance_for),
        None => std::ptr::null_mut(),
    })
}

/// The `bedrock` daemon (what the `bedrock` program runs): returns its exit
/// status.
///
/// # Safety
/// `argv` must hold `argc` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn bedrock_daemon_main(argc: c_int, argv: *const *const c_char) -> c_int {
    guard("bedrock_daemon_main", 1, || {
        let args = (0..argc.max(0) as usize)
            .filter_map(|i| {
                // SAFETY: i < argc, and by the contract `argv` holds argc
                // pointers, each NULL or NUL-terminated.
                let p = unsafe { *argv.add(i) };
                // SAFETY: as above: non-NULL here, so NUL-terminated.
                (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
            })
            .collect();
        crate::bedrock::daemon::main_with_args(args)
    })
}
