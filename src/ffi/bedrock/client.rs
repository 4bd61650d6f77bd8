//! `bedrock/client.h`: a C client for Bedrock daemons (the C++ classes in
//! `bedrock/Client.hpp` & co. sit on top). Every call returns a
//! `bedrock_return_t`; the text of the last failure on the calling thread
//! is `bedrock_last_error()`.
#![allow(non_camel_case_types)]

use crate::bedrock::client::{ServiceGroupHandle, ServiceHandle};
use crate::bedrock::error::BedrockError;
use crate::ffi::handles::{self, boxed_free, boxed_into_c, boxed_ref, margo_instance_id, Owned};
use crate::ffi::panic::guard;
use crate::ffi::strings::malloc_string;
use crate::rpc::Engine;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};

pub type bedrock_return_t = c_int;
pub const BEDROCK_SUCCESS: bedrock_return_t = 0;
/// NULL or malformed argument.
pub const BEDROCK_ERR_INVALID_ARGS: bedrock_return_t = 1;
/// The daemon (or the network) reported an error; see `bedrock_last_error`.
pub const BEDROCK_ERR_REMOTE: bedrock_return_t = 2;
/// The feature is not provided by this implementation (Jx9 queries, ...).
pub const BEDROCK_ERR_NOT_SUPPORTED: bedrock_return_t = 3;
/// Out of memory.
pub const BEDROCK_ERR_ALLOCATION: bedrock_return_t = 4;
/// Internal error (a bug; see the log).
pub const BEDROCK_ERR_OTHER: bedrock_return_t = 5;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(super) fn set_error(entry: &str, message: &str) {
    crate::debug!("{entry}: {message}");
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

pub(super) fn invalid(entry: &str, what: &str) -> bedrock_return_t {
    set_error(entry, &format!("{entry}: {what}"));
    BEDROCK_ERR_INVALID_ARGS
}

fn fail(entry: &str, e: BedrockError) -> bedrock_return_t {
    set_error(entry, &e.to_string());
    match e {
        BedrockError::NotSupported(_) => BEDROCK_ERR_NOT_SUPPORTED,
        _ => BEDROCK_ERR_REMOTE,
    }
}

/// The message of the last failed call on this thread ("" if none). Valid
/// until the next failing call on this thread.
#[no_mangle]
pub extern "C" fn bedrock_last_error() -> *const c_char {
    guard("bedrock_last_error", c"".as_ptr(), || LAST_ERROR.with(|e| e.borrow().as_ptr()))
}

/// Opaque client (`struct bedrock_client`).
pub struct bedrock_client {
    _private: [u8; 0],
}
pub type bedrock_client_t = *mut bedrock_client;
impl Owned for bedrock_client {
    type Rust = Engine;
}

/// Opaque handle on one daemon (`struct bedrock_service`).
pub struct bedrock_service {
    _private: [u8; 0],
}
pub type bedrock_service_t = *mut bedrock_service;
impl Owned for bedrock_service {
    type Rust = ServiceHandle;
}

/// Opaque handle on several daemons (`struct bedrock_service_group`).
pub struct bedrock_service_group {
    _private: [u8; 0],
}
pub type bedrock_service_group_t = *mut bedrock_service_group;
impl Owned for bedrock_service_group {
    type Rust = ServiceGroupHandle;
}

/// # Safety
/// `p` must be NULL or a NUL-terminated string that outlives `'a`.
pub(super) unsafe fn text<'a>(p: *const c_char) -> Option<std::borrow::Cow<'a, str>> {
    // SAFETY: non-NULL here, and NUL-terminated by the contract.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy())
}

/// # Safety
/// `client` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bedrock_client_init(mid: margo_instance_id, client: *mut bedrock_client_t) -> bedrock_return_t {
    guard("bedrock_client_init", BEDROCK_ERR_OTHER, || {
        let entry = "bedrock_client_init";
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return invalid(entry, &e.to_string()),
        };
        if client.is_null() {
            return invalid(entry, "NULL output pointer");
        }
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *client = boxed_into_c::<bedrock_client>(engine) };
        BEDROCK_SUCCESS
    })
}

/// # Safety
/// `client` NULL or live, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn bedrock_client_finalize(client: bedrock_client_t) -> bedrock_return_t {
    // SAFETY: by the contract NULL or a live client, not used afterwards.
    guard("bedrock_client_finalize", BEDROCK_ERR_OTHER, || match unsafe { boxed_free(client) } {
        Some(_) => BEDROCK_SUCCESS,
        None => invalid("bedrock_client_finalize", "NULL client"),
    })
}

/// A handle on the daemon at `address` whose Bedrock provider id is
/// `provider_id` (0 by default). No RPC is sent.
///
/// # Safety
/// `client` NULL or live; `address` NULL or NUL-terminated; `handle` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_handle_create(
    client: bedrock_client_t,
    address: *const c_char,
    provider_id: u16,
    handle: *mut bedrock_service_t,
) -> bedrock_return_t {
    guard("bedrock_service_handle_create", BEDROCK_ERR_OTHER, || {
        let entry = "bedrock_service_handle_create";
        // SAFETY: by the contract `client` is NULL or live and `address` NULL
        // or NUL-terminated.
        let (Some(engine), Some(addr), false) = (unsafe { boxed_ref(client) }, unsafe { text(address) }, handle.is_null()) else {
            return invalid(entry, "NULL client, address or output pointer");
        };
        match ServiceHandle::new(engine, &addr, provider_id) {
            Ok(h) => {
                // SAFETY: checked non-NULL above; writable by the contract.
                unsafe { *handle = boxed_into_c::<bedrock_service>(h) };
                BEDROCK_SUCCESS
            }
            Err(e) => fail(entry, e),
        }
    })
}

/// # Safety
/// `handle` NULL or live, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_handle_release(handle: bedrock_service_t) -> bedrock_return_t {
    // SAFETY: by the contract NULL or a live handle, not used afterwards.
    guard("bedrock_service_handle_release", BEDROCK_ERR_OTHER, || match unsafe { boxed_free(handle) } {
        Some(_) => BEDROCK_SUCCESS,
        None => invalid("bedrock_service_handle_release", "NULL handle"),
    })
}

/// Runs `f` on the service behind `handle`; a string result goes to `*out`.
///
/// # Safety
/// `handle` must be NULL or a live service handle; `out` NULL or writable.
unsafe fn with_service(
    entry: &str,
    handle: bedrock_service_t,
    f: impl FnOnce(&ServiceHandle) -> Result<Option<String>, BedrockError>,
    out: *mut *mut c_char,
) -> bedrock_return_t {
    // SAFETY: by the contract NULL or a live service handle.
    let Some(h) = (unsafe { boxed_ref(handle) }) else { return invalid(entry, "NULL handle") };
    match f(h) {
        Ok(Some(s)) if !out.is_null() => {
            // SAFETY: non-NULL (the guard above) and writable by the contract.
            let failed = unsafe {
                *out = malloc_string(&s);
                (*out).is_null()
            };
            if failed {
                return BEDROCK_ERR_ALLOCATION;
            }
            BEDROCK_SUCCESS
        }
        Ok(_) => BEDROCK_SUCCESS,
        Err(e) => fail(entry, e),
    }
}

/// The daemon's effective config as JSON (`*config` malloc'd; free()).
///
/// # Safety
/// `handle` NULL or live; `config` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_get_config(handle: bedrock_service_t, config: *mut *mut c_char) -> bedrock_return_t {
    guard("bedrock_service_get_config", BEDROCK_ERR_OTHER, || {
        if config.is_null() {
            return invalid("bedrock_service_get_config", "NULL output pointer");
        }
        // SAFETY: the caller's contract: `handle` NULL or live, `config` writable.
        unsafe { with_service("bedrock_service_get_config", handle, |h| h.get_config().map(Some), config) }
    })
}

/// Jx9 queries are not supported: `BEDROCK_ERR_NOT_SUPPORTED`.
///
/// # Safety
/// As `bedrock_service_get_config`; `script` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_query_config(
    handle: bedrock_service_t,
    script: *const c_char,
    result: *mut *mut c_char,
) -> bedrock_return_t {
    guard("bedrock_service_query_config", BEDROCK_ERR_OTHER, || {
        let entry = "bedrock_service_query_config";
        // SAFETY: by the contract NULL or NUL-terminated.
        let Some(s) = (unsafe { text(script) }) else { return invalid(entry, "NULL script") };
        if result.is_null() {
            return invalid(entry, "NULL output pointer");
        }
        // SAFETY: the caller's contract: `handle` NULL or live, `result` writable.
        unsafe { with_service(entry, handle, |h| h.query_config(&s).map(Some), result) }
    })
}

/// The management calls that take one string (a library path, a pool or
/// xstream description or name, a provider description or spec), on a
/// remote daemon (`bedrock_service_*`) or a server in the process
/// (`bedrock_server_*`): checks the handle (`noun` names it in the
/// message) and the string, runs `f`, and turns its error into a code with
/// `on_error`. Failures set `bedrock_last_error()`.
///
/// # Safety
/// `handle` must be NULL or a live handle from boxed_into_c; `arg` NULL or
/// NUL-terminated.
pub(super) unsafe fn string_call<C: Owned>(
    entry: &'static str,
    (handle, noun): (*mut C, &str),
    (arg, what): (*const c_char, &str),
    on_error: fn(&str, BedrockError) -> bedrock_return_t,
    f: impl FnOnce(&C::Rust, &str) -> Result<(), BedrockError>,
) -> bedrock_return_t {
    guard(entry, BEDROCK_ERR_OTHER, || {
        // SAFETY: by the contract NULL or a live handle.
        let Some(h) = (unsafe { boxed_ref(handle) }) else { return invalid(entry, &format!("NULL {noun}")) };
        // SAFETY: by the contract NULL or NUL-terminated.
        let Some(a) = (unsafe { text(arg) }) else { return invalid(entry, &format!("NULL {what}")) };
        match f(h, &a) {
            Ok(()) => BEDROCK_SUCCESS,
            Err(e) => on_error(entry, e),
        }
    })
}

/// A `bedrock_service_*` call with one string argument.
///
/// # Safety
/// As [`string_call`].
unsafe fn service_call(
    entry: &'static str,
    handle: bedrock_service_t,
    arg: *const c_char,
    what: &str,
    f: impl FnOnce(&ServiceHandle, &str) -> Result<(), BedrockError>,
) -> bedrock_return_t {
    // SAFETY: the same contract.
    unsafe { string_call(entry, (handle, "handle"), (arg, what), fail, f) }
}

/// Loads a module library in the daemon.
///
/// # Safety
/// `handle` NULL or live; the string NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_load_module(handle: bedrock_service_t, arg: *const c_char) -> bedrock_return_t {
    // SAFETY: the caller's contract is service_call's.
    unsafe { service_call("bedrock_service_load_module", handle, arg, "library path", |h, a| h.load_module(a)) }
}

/// Adds a pool (JSON config, as in `margo.argobots.pools`).
///
/// # Safety
/// `handle` NULL or live; the string NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_add_pool(handle: bedrock_service_t, arg: *const c_char) -> bedrock_return_t {
    // SAFETY: the caller's contract is service_call's.
    unsafe { service_call("bedrock_service_add_pool", handle, arg, "pool config", |h, a| h.add_pool(a)) }
}

/// Removes a pool no one uses.
///
/// # Safety
/// `handle` NULL or live; the string NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_remove_pool(handle: bedrock_service_t, arg: *const c_char) -> bedrock_return_t {
    // SAFETY: the caller's contract is service_call's.
    unsafe { service_call("bedrock_service_remove_pool", handle, arg, "pool name", |h, a| h.remove_pool(a)) }
}

/// Adds an execution stream (JSON config).
///
/// # Safety
/// `handle` NULL or live; the string NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_add_xstream(handle: bedrock_service_t, arg: *const c_char) -> bedrock_return_t {
    // SAFETY: the caller's contract is service_call's.
    unsafe { service_call("bedrock_service_add_xstream", handle, arg, "xstream config", |h, a| h.add_xstream(a)) }
}

/// Removes an execution stream.
///
/// # Safety
/// `handle` NULL or live; the string NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_remove_xstream(handle: bedrock_service_t, arg: *const c_char) -> bedrock_return_t {
    // SAFETY: the caller's contract is service_call's.
    unsafe { service_call("bedrock_service_remove_xstream", handle, arg, "xstream name", |h, a| h.remove_xstream(a)) }
}

/// Starts a provider from its JSON description; `*provider_id` (if not
/// NULL) receives the id it got.
///
/// # Safety
/// `handle` NULL or live; `description` NUL-terminated; `provider_id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_add_provider(
    handle: bedrock_service_t,
    description: *const c_char,
    provider_id: *mut u16,
) -> bedrock_return_t {
    guard("bedrock_service_add_provider", BEDROCK_ERR_OTHER, || {
        let entry = "bedrock_service_add_provider";
        // SAFETY: by the contract NULL or NUL-terminated.
        let Some(d) = (unsafe { text(description) }) else { return invalid(entry, "NULL description") };
        // SAFETY: by the contract NULL or a live service handle.
        let Some(h) = (unsafe { boxed_ref(handle) }) else { return invalid(entry, "NULL handle") };
        match h.add_provider(&d) {
            Ok(id) => {
                if !provider_id.is_null() {
                    // SAFETY: non-NULL, writable by the contract.
                    unsafe { *provider_id = id };
                }
                BEDROCK_SUCCESS
            }
            Err(e) => fail(entry, e),
        }
    })
}

/// Asks a provider to move to another pool (components here do not
/// support it: the daemon's error is returned).
///
/// # Safety
/// `handle` NULL or live; strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_change_provider_pool(
    handle: bedrock_service_t,
    provider: *const c_char,
    pool: *const c_char,
) -> bedrock_return_t {
    guard("bedrock_service_change_provider_pool", BEDROCK_ERR_OTHER, || {
        let entry = "bedrock_service_change_provider_pool";
        // SAFETY: by the contract both NULL or NUL-terminated.
        let (Some(p), Some(q)) = (unsafe { text(provider) }, unsafe { text(pool) }) else {
            return invalid(entry, "NULL provider or pool");
        };
        // SAFETY: by the contract `handle` is NULL or live; no output.
        unsafe { with_service(entry, handle, |h| h.change_provider_pool(&p, &q).map(|_| None), std::ptr::null_mut()) }
    })
}

/// Stops the daemon (remote shutdown).
///
/// # Safety
/// `handle` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_shutdown(handle: bedrock_service_t) -> bedrock_return_t {
    guard("bedrock_service_shutdown", BEDROCK_ERR_OTHER, || {
        // SAFETY: by the contract `handle` is NULL or live; no output.
        unsafe { with_service("bedrock_service_shutdown", handle, |h| h.shutdown().map(|_| None), std::ptr::null_mut()) }
    })
}

/// Handles on every distinct process of a Flock group file.
///
/// # Safety
/// `client` NULL or live; `filename` NUL-terminated; `group` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_group_create_from_file(
    client: bedrock_client_t,
    filename: *const c_char,
    provider_id: u16,
    group: *mut bedrock_service_group_t,
) -> bedrock_return_t {
    guard("bedrock_service_group_create_from_file", BEDROCK_ERR_OTHER, || {
        let entry = "bedrock_service_group_create_from_file";
        // SAFETY: by the contract `client` is NULL or live and `filename` NULL
        // or NUL-terminated.
        let (Some(engine), Some(f), false) = (unsafe { boxed_ref(client) }, unsafe { text(filename) }, group.is_null()) else {
            return invalid(entry, "NULL client, file name or output pointer");
        };
        match ServiceGroupHandle::from_flock_file(engine, std::path::Path::new(&*f), provider_id) {
            Ok(g) => {
                // SAFETY: checked non-NULL above; writable by the contract.
                unsafe { *group = boxed_into_c::<bedrock_service_group>(g) };
                BEDROCK_SUCCESS
            }
            Err(e) => fail(entry, e),
        }
    })
}

/// Handles on `count` daemons given by address.
///
/// # Safety
/// `addresses` readable for `count` NUL-terminated strings; others as above.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_group_create(
    client: bedrock_client_t,
    addresses: *const *const c_char,
    count: usize,
    provider_id: u16,
    group: *mut bedrock_service_group_t,
) -> bedrock_return_t {
    guard("bedrock_service_group_create", BEDROCK_ERR_OTHER, || {
        let entry = "bedrock_service_group_create";
        // SAFETY: by the contract `client` is NULL or live.
        let (Some(engine), false) = (unsafe { boxed_ref(client) }, group.is_null() || (addresses.is_null() && count > 0)) else {
            return invalid(entry, "NULL client, address list or output pointer");
        };
        let mut list = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: `addresses` is non-NULL when count > 0 (checked above)
            // and readable for `count` NUL-terminated strings (the contract).
            match unsafe { text(*addresses.add(i)) } {
                Some(a) => list.push(a.into_owned()),
                None => return invalid(entry, "NULL address in the list"),
            }
        }
        match ServiceGroupHandle::from_addresses(engine, &list, provider_id) {
            Ok(g) => {
                // SAFETY: checked non-NULL above; writable by the contract.
                unsafe { *group = boxed_into_c::<bedrock_service_group>(g) };
                BEDROCK_SUCCESS
            }
            Err(e) => fail(entry, e),
        }
    })
}

/// # Safety
/// `group` NULL or live, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_group_release(group: bedrock_service_group_t) -> bedrock_return_t {
    // SAFETY: by the contract NULL or a live group, not used afterwards.
    guard("bedrock_service_group_release", BEDROCK_ERR_OTHER, || match unsafe { boxed_free(group) } {
        Some(_) => BEDROCK_SUCCESS,
        None => invalid("bedrock_service_group_release", "NULL group"),
    })
}

/// Number of daemons in the group (0 for NULL).
///
/// # Safety
/// `group` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_group_size(group: bedrock_service_group_t) -> usize {
    // SAFETY: by the contract NULL or a live group.
    guard("bedrock_service_group_size", 0, || unsafe { boxed_ref(group) }.map_or(0, |g| g.len()))
}

/// `{"<address>": <config>, ...}` over the group (`*config` malloc'd).
///
/// # Safety
/// `group` NULL or live; `config` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_group_get_config(
    group: bedrock_service_group_t,
    config: *mut *mut c_char,
) -> bedrock_return_t {
    guard("bedrock_service_group_get_config", BEDROCK_ERR_OTHER, || {
        let entry = "bedrock_service_group_get_config";
        // SAFETY: by the contract NULL or a live group.
        let (Some(g), false) = (unsafe { boxed_ref(group) }, config.is_null()) else {
            return invalid(entry, "NULL group or output pointer");
        };
        match g.get_config() {
            Ok(s) => {
                // SAFETY: checked non-NULL above; writable by the contract.
                let failed = unsafe {
                    *config = malloc_string(&s);
                    (*config).is_null()
                };
                if failed {
                    BEDROCK_ERR_ALLOCATION
                } else {
                    BEDROCK_SUCCESS
                }
            }
            Err(e) => fail(entry, e),
        }
    })
}

/// Shuts every daemon of the group down; failures are logged per address
/// and the last one is reported.
///
/// # Safety
/// `group` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn bedrock_service_group_shutdown(group: bedrock_service_group_t) -> bedrock_return_t {
    guard("bedrock_service_group_shutdown", BEDROCK_ERR_OTHER, || {
        // SAFETY: by the contract NULL or a live group.
        let Some(g) = (unsafe { boxed_ref(group) }) else { return invalid("bedrock_service_group_shutdown", "NULL group") };
        let mut rc = BEDROCK_SUCCESS;
        for (addr, r) in g.shutdown() {
            if let Err(e) = r {
                crate::error!("Could not shutdown {addr}: {e}");
                rc = fail("bedrock_service_group_shutdown", e);
            }
        }
        rc
    })
}
