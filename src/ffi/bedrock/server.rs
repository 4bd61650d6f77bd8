//! `bedrock/server.h`: run a Bedrock server inside a program, and the
//! daemon's entry point.
#![allow(non_camel_case_types)]

use super::client::bedrock_return_t;
use crate::bedrock::config::ConfigFormat;
use crate::bedrock::server::Server;
use crate::ffi::handles::{boxed_free, boxed_into_c, boxed_ref, Owned};
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
                *error = malloc_string(msg);
            }
            crate::error!("bedrock_server_init: {msg}");
        };
        if server.is_null() {
            report("NULL output pointer");
            return super::client::BEDROCK_ERR_INVALID_ARGS;
        }
        let text = |p: *const c_char| if p.is_null() { String::new() } else { CStr::from_ptr(p).to_string_lossy().into_owned() };
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
                *server = boxed_into_c::<bedrock_server>(s);
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
    guard("bedrock_server_get_config", std::ptr::null_mut(), || match boxed_ref(server) {
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
    guard("bedrock_server_wait_for_finalize", super::client::BEDROCK_ERR_OTHER, || match boxed_ref(server) {
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
    guard("bedrock_server_finalize", super::client::BEDROCK_ERR_OTHER, || match boxed_free(server) {
        Some(s) => {
            s.finalize();
            super::client::BEDROCK_SUCCESS
        }
        None => super::client::BEDROCK_ERR_INVALID_ARGS,
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
                let p = *argv.add(i);
                (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
            })
            .collect();
        crate::bedrock::daemon::main_with_args(args)
    })
}
