//! The Margo C functions Mochi clients call (`margo.h`).
//!
//! Each entry point checks its arguments, runs its body through the panic
//! boundary, logs one line on failure and returns an error code.
#![allow(non_camel_case_types)]

use super::callback::CCallback;
use super::handles::{self, margo_instance_id, HandleError};
use super::hg::{hg_addr_t, hg_bool_t, hg_return, hg_return_t, hg_size_t, ABT_pool};
use super::panic::guard;
use crate::log::{self, Level};
use crate::rpc::{Engine, InitOverrides, Mode, RpcError};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::time::Duration;

pub const MARGO_CLIENT_MODE: c_int = 0;
pub const MARGO_SERVER_MODE: c_int = 1;
pub const MARGO_DEFAULT_PROVIDER_ID: u16 = 0xFFFF;
/// `margo_get_config_opt` options.
pub const MARGO_CONFIG_PRETTY_JSON: c_int = 0x1;
pub const MARGO_CONFIG_HIDE_EXTERNAL: c_int = 0x2;
pub const MARGO_CONFIG_USE_NAMES: c_int = 0x4;

/// How long `margo_shutdown_remote_instance` waits for the peer.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Arguments of `margo_init_ext`. Fields we cannot honour (`hg_class`,
/// `hg_context`, `hg_init_info`, `monitor`, `parent_mid`, pools of another
/// runtime) make the call fail with a message naming them.
#[repr(C)]
pub struct margo_init_info {
    pub json_config: *const c_char,
    pub progress_pool: ABT_pool,
    pub rpc_pool: ABT_pool,
    pub hg_class: *mut c_void,
    pub hg_context: *mut c_void,
    pub hg_init_info: *mut c_void,
    pub logger: *mut c_void,
    pub monitor: *mut c_void,
    pub parent_mid: margo_instance_id,
}

pub(super) fn fail(entry: &str, what: impl std::fmt::Display) {
    log::emit(Level::Error, &format!("{entry}: {what}"));
}

pub(super) fn handle_code(entry: &str, e: HandleError) -> hg_return_t {
    fail(entry, e);
    hg_return::HG_INVALID_ARG
}

pub(super) fn rpc_code(entry: &str, e: &RpcError) -> hg_return_t {
    fail(entry, e);
    e.into()
}

/// # Safety
/// `p` must be NULL or a NUL-terminated string.
pub(super) unsafe fn text<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL, and by the contract NUL-terminated.
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

fn mode_of(mode: c_int) -> Option<Mode> {
    match mode {
        MARGO_CLIENT_MODE => Some(Mode::Client),
        MARGO_SERVER_MODE => Some(Mode::Server),
        _ => None,
    }
}

fn start(entry: &str, addr: *const c_char, mode: c_int, json: &str, overrides: InitOverrides) -> margo_instance_id {
    // SAFETY: C callers pass NUL-terminated strings or NULL.
    let Some(addr) = (unsafe { text(addr) }) else {
        fail(entry, "address is NULL or not UTF-8");
        return std::ptr::null_mut();
    };
    let Some(mode) = mode_of(mode) else {
        fail(entry, format!("mode {mode} is neither MARGO_CLIENT_MODE nor MARGO_SERVER_MODE"));
        return std::ptr::null_mut();
    };
    match Engine::new(addr, mode, json, &overrides) {
        Ok(e) => handles::instance_into_c(e),
        Err(e) => {
            fail(entry, e);
            std::ptr::null_mut()
        }
    }
}

/// Starts an engine. Returns `MARGO_INSTANCE_NULL` on failure.
#[no_mangle]
pub extern "C" fn margo_init(
    addr_str: *const c_char,
    mode: c_int,
    use_progress_thread: c_int,
    rpc_thread_count: c_int,
) -> margo_instance_id {
    guard("margo_init", std::ptr::null_mut(), || {
        let overrides =
            InitOverrides { use_progress_thread: Some(use_progress_thread != 0), rpc_thread_count: Some(rpc_thread_count) };
        start("margo_init", addr_str, mode, "", overrides)
    })
}

/// Starts an engine from a JSON config. `args` may be NULL.
///
/// # Safety
/// `args` must be NULL or point to a valid `margo_init_info`.
#[no_mangle]
pub unsafe extern "C" fn margo_init_ext(address: *const c_char, mode: c_int, args: *const margo_init_info) -> margo_instance_id {
    guard("margo_init_ext", std::ptr::null_mut(), || {
        let entry = "margo_init_ext";
        let mut json = "";
        // SAFETY: by the contract `args` is NULL or a valid margo_init_info.
        if let Some(info) = unsafe { args.as_ref() } {
            let unsupported = [
                (!info.progress_pool.is_null(), "progress_pool (pools of another runtime)"),
                (!info.rpc_pool.is_null(), "rpc_pool (pools of another runtime)"),
                (!info.hg_class.is_null(), "hg_class (no Mercury here)"),
                (!info.hg_context.is_null(), "hg_context (no Mercury here)"),
                (!info.hg_init_info.is_null(), "hg_init_info (no Mercury here)"),
                (!info.monitor.is_null(), "monitor"),
                (!info.parent_mid.is_null(), "parent_mid (child engines)"),
            ];
            if let Some((_, what)) = unsupported.iter().find(|(set, _)| *set) {
                fail(entry, format!("margo_init_info.{what} is not supported by this implementation"));
                return std::ptr::null_mut();
            }
            if !info.json_config.is_null() {
                // SAFETY: the caller's margo_init_info holds a NUL-terminated
                // json_config (checked non-NULL above).
                match unsafe { text(info.json_config) } {
                    Some(j) => json = j,
                    None => {
                        fail(entry, "json_config is not UTF-8");
                        return std::ptr::null_mut();
                    }
                }
            }
        }
        start(entry, address, mode, json, InitOverrides::default())
    })
}

/// Finalizes the engine. The handle stays safe to pass (calls then fail).
#[no_mangle]
pub extern "C" fn margo_finalize(mid: margo_instance_id) {
    guard("margo_finalize", (), || match handles::instance_finalize(mid) {
        Ok(()) => super::rpc::release_registrations(mid),
        Err(e) => fail("margo_finalize", e),
    })
}

/// Blocks until the engine is finalized (locally or remotely).
#[no_mangle]
pub extern "C" fn margo_wait_for_finalize(mid: margo_instance_id) {
    guard("margo_wait_for_finalize", (), || match handles::engine_any(mid) {
        Ok(e) => {
            e.wait_for_finalize();
            // A remote shutdown finalized it: release what C registered.
            super::rpc::release_registrations(mid);
        }
        Err(HandleError::Finalized) => {}
        Err(e) => fail("margo_wait_for_finalize", e),
    })
}

#[no_mangle]
pub extern "C" fn margo_finalize_and_wait(mid: margo_instance_id) {
    margo_finalize(mid);
    margo_wait_for_finalize(mid);
}

#[no_mangle]
pub extern "C" fn margo_instance_ref_incr(mid: margo_instance_id) -> hg_return_t {
    guard("margo_instance_ref_incr", hg_return::HG_OTHER_ERROR, || match handles::instance_ref_incr(mid) {
        Ok(()) => hg_return::HG_SUCCESS,
        Err(e) => handle_code("margo_instance_ref_incr", e),
    })
}

/// The references held on the instance (`margo_instance_ref_incr`, plus
/// the one `margo_init` returned until finalized).
///
/// # Safety
/// `refcount` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_instance_ref_count(mid: margo_instance_id, refcount: *mut c_uint) -> hg_return_t {
    guard("margo_instance_ref_count", hg_return::HG_OTHER_ERROR, || {
        if refcount.is_null() {
            fail("margo_instance_ref_count", "refcount pointer is NULL");
            return hg_return::HG_INVALID_ARG;
        }
        match handles::instance_ref_count(mid) {
            Ok(n) => {
                // SAFETY: non-NULL, and writable by the contract.
                unsafe { *refcount = n };
                hg_return::HG_SUCCESS
            }
            Err(e) => handle_code("margo_instance_ref_count", e),
        }
    })
}

/// Whether the instance was finalized (its memory still held by a
/// reference).
///
/// # Safety
/// `flag` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_instance_is_finalized(mid: margo_instance_id, flag: *mut bool) -> hg_return_t {
    guard("margo_instance_is_finalized", hg_return::HG_OTHER_ERROR, || {
        if flag.is_null() {
            fail("margo_instance_is_finalized", "flag pointer is NULL");
            return hg_return::HG_INVALID_ARG;
        }
        let finalized = match handles::engine(mid) {
            Ok(_) => false,
            Err(HandleError::Finalized) => true,
            Err(e) => return handle_code("margo_instance_is_finalized", e),
        };
        // SAFETY: non-NULL, and writable by the contract.
        unsafe { *flag = finalized };
        hg_return::HG_SUCCESS
    })
}

#[no_mangle]
pub extern "C" fn margo_instance_release(mid: margo_instance_id) -> hg_return_t {
    guard("margo_instance_release", hg_return::HG_OTHER_ERROR, || match handles::instance_release(mid) {
        Ok(()) => {
            if handles::engine(mid).is_err() {
                super::rpc::release_registrations(mid);
            }
            hg_return::HG_SUCCESS
        }
        Err(e) => handle_code("margo_instance_release", e),
    })
}

#[no_mangle]
pub extern "C" fn margo_is_listening(mid: margo_instance_id) -> hg_bool_t {
    guard("margo_is_listening", 0, || match handles::engine(mid) {
        Ok(e) => e.is_listening() as hg_bool_t,
        Err(e) => {
            fail("margo_is_listening", e);
            0
        }
    })
}

/// Resolves `name` into a new address handle (free with `margo_addr_free`).
///
/// # Safety
/// `name` must be NULL or NUL-terminated; `addr` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_addr_lookup(mid: margo_instance_id, name: *const c_char, addr: *mut hg_addr_t) -> hg_return_t {
    guard("margo_addr_lookup", hg_return::HG_OTHER_ERROR, || {
        let entry = "margo_addr_lookup";
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return handle_code(entry, e),
        };
        if addr.is_null() {
            fail(entry, "output pointer is NULL");
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: by the contract `name` is NULL or NUL-terminated.
        let Some(name) = (unsafe { text(name) }) else {
            fail(entry, "address string is NULL or not UTF-8");
            return hg_return::HG_INVALID_ARG;
        };
        match engine.lookup(name) {
            Ok(a) => {
                // SAFETY: checked non-NULL above; writable by the contract.
                unsafe { *addr = handles::addr_into_c(a) };
                hg_return::HG_SUCCESS
            }
            Err(e) => rpc_code(entry, &e),
        }
    })
}

/// # Safety
/// `addr` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_addr_self(mid: margo_instance_id, addr: *mut hg_addr_t) -> hg_return_t {
    guard("margo_addr_self", hg_return::HG_OTHER_ERROR, || {
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return handle_code("margo_addr_self", e),
        };
        if addr.is_null() {
            fail("margo_addr_self", "output pointer is NULL");
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *addr = handles::addr_into_c(engine.self_address()) };
        hg_return::HG_SUCCESS
    })
}

/// # Safety
/// `addr` must be NULL or a live address handle; `new_addr` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_addr_dup(mid: margo_instance_id, addr: hg_addr_t, new_addr: *mut hg_addr_t) -> hg_return_t {
    guard("margo_addr_dup", hg_return::HG_OTHER_ERROR, || {
        if let Err(e) = handles::engine(mid) {
            return handle_code("margo_addr_dup", e);
        }
        // SAFETY: by the contract `addr` is NULL or a live address handle.
        let (Some(a), false) = (unsafe { handles::addr_ref(addr) }, new_addr.is_null()) else {
            fail("margo_addr_dup", "NULL address or output pointer");
            return hg_return::HG_INVALID_ARG;
        };
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *new_addr = handles::addr_into_c(a.clone()) };
        hg_return::HG_SUCCESS
    })
}

/// True if both handles name the same endpoint.
///
/// # Safety
/// `a` and `b` must be NULL or live address handles.
#[no_mangle]
pub unsafe extern "C" fn margo_addr_cmp(mid: margo_instance_id, a: hg_addr_t, b: hg_addr_t) -> hg_bool_t {
    guard("margo_addr_cmp", 0, || {
        if let Err(e) = handles::engine(mid) {
            fail("margo_addr_cmp", e);
            return 0;
        }
        // SAFETY: by the contract both are NULL or live address handles.
        match unsafe { (handles::addr_ref(a), handles::addr_ref(b)) } {
            (Some(x), Some(y)) => (x == y) as hg_bool_t,
            (None, None) => 1,
            _ => 0,
        }
    })
}

/// Writes the address text into `buf`. With `buf` NULL, or too small, sets
/// `*buf_size` to the size needed (NUL included); too small → `HG_OVERFLOW`.
///
/// # Safety
/// `buf` must be NULL or writable for `*buf_size` bytes; `buf_size` NULL or
/// valid; `addr` NULL or a live address handle.
#[no_mangle]
pub unsafe extern "C" fn margo_addr_to_string(
    mid: margo_instance_id,
    buf: *mut c_char,
    buf_size: *mut hg_size_t,
    addr: hg_addr_t,
) -> hg_return_t {
    guard("margo_addr_to_string", hg_return::HG_OTHER_ERROR, || {
        let entry = "margo_addr_to_string";
        if let Err(e) = handles::engine(mid) {
            return handle_code(entry, e);
        }
        // SAFETY: by the contract `addr` is NULL or a live address handle.
        let (Some(a), false) = (unsafe { handles::addr_ref(addr) }, buf_size.is_null()) else {
            fail(entry, "NULL address or size pointer");
            return hg_return::HG_INVALID_ARG;
        };
        let text = a.as_str().as_bytes();
        let needed = text.len() as hg_size_t + 1;
        // SAFETY: `buf_size` is non-NULL (checked above) and valid by the
        // contract; `buf`, when non-NULL, is writable for `*buf_size` bytes,
        // and we write `needed` <= `*buf_size` bytes into it; `text` is our
        // own string, so the ranges cannot overlap.
        unsafe {
            if buf.is_null() {
                *buf_size = needed;
                return hg_return::HG_SUCCESS;
            }
            if *buf_size < needed {
                fail(entry, format!("buffer of {} bytes is too small ({needed} needed)", *buf_size));
                *buf_size = needed;
                return hg_return::HG_OVERFLOW;
            }
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf as *mut u8, text.len());
            *buf.add(text.len()) = 0;
            *buf_size = needed;
        }
        hg_return::HG_SUCCESS
    })
}

/// Frees an address handle (NULL is a no-op).
///
/// # Safety
/// `addr` must be NULL or a live address handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn margo_addr_free(mid: margo_instance_id, addr: hg_addr_t) -> hg_return_t {
    guard("margo_addr_free", hg_return::HG_OTHER_ERROR, || {
        // Freeing after finalize is fine: the address does not need the engine.
        if let Err(e @ (HandleError::Null | HandleError::Unknown)) = handles::engine_any(mid) {
            return handle_code("margo_addr_free", e);
        }
        // SAFETY: by the contract NULL or a live handle, not used afterwards.
        unsafe { handles::addr_free(addr) };
        hg_return::HG_SUCCESS
    })
}

/// # Safety
/// `pool` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_get_handler_pool(mid: margo_instance_id, pool: *mut ABT_pool) -> c_int {
    guard("margo_get_handler_pool", -1, || {
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => {
                fail("margo_get_handler_pool", e);
                return -1;
            }
        };
        if pool.is_null() {
            fail("margo_get_handler_pool", "output pointer is NULL");
            return -1;
        }
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *pool = handles::pool_into_c(&engine.handler_pool()) };
        0
    })
}

/// # Safety
/// `pool` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_get_progress_pool(mid: margo_instance_id, pool: *mut ABT_pool) -> c_int {
    guard("margo_get_progress_pool", -1, || {
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => {
                fail("margo_get_progress_pool", e);
                return -1;
            }
        };
        if pool.is_null() {
            fail("margo_get_progress_pool", "output pointer is NULL");
            return -1;
        }
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *pool = handles::pool_into_c(&engine.progress_pool()) };
        0
    })
}

#[no_mangle]
pub extern "C" fn margo_enable_remote_shutdown(mid: margo_instance_id) {
    guard("margo_enable_remote_shutdown", (), || match handles::engine(mid) {
        Ok(e) => e.enable_remote_shutdown(),
        Err(e) => fail("margo_enable_remote_shutdown", e),
    })
}

/// Asks the engine at `remote_addr` to finalize (it must have enabled remote
/// shutdown). Returns an `hg_return_t` value.
///
/// # Safety
/// `remote_addr` must be NULL or a live address handle.
#[no_mangle]
pub unsafe extern "C" fn margo_shutdown_remote_instance(mid: margo_instance_id, remote_addr: hg_addr_t) -> c_int {
    guard("margo_shutdown_remote_instance", hg_return::HG_OTHER_ERROR as c_int, || {
        let entry = "margo_shutdown_remote_instance";
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return handle_code(entry, e) as c_int,
        };
        // SAFETY: by the contract NULL or a live address handle.
        let Some(addr) = (unsafe { handles::addr_ref(remote_addr) }) else {
            fail(entry, "remote address is NULL");
            return hg_return::HG_INVALID_ARG as c_int;
        };
        match engine.shutdown_remote(addr, SHUTDOWN_TIMEOUT) {
            Ok(()) => hg_return::HG_SUCCESS as c_int,
            Err(RpcError::Remote { message, .. }) => {
                fail(entry, &message);
                hg_return::HG_PERMISSION as c_int
            }
            Err(e) => rpc_code(entry, &e) as c_int,
        }
    })
}

/// Sleeps the calling thread (handlers and progress keep running). A
/// handler that sleeps lends its execution stream meanwhile, as a
/// sleeping user-level thread yields its stream under Margo.
#[no_mangle]
pub extern "C" fn margo_thread_sleep(mid: margo_instance_id, timeout_ms: f64) {
    let _ = mid; // sleeping does not need the engine
    guard("margo_thread_sleep", (), || {
        // NaN, negative or unrepresentable: no sleep (as for 0).
        if let Ok(pause) = Duration::try_from_secs_f64(timeout_ms / 1000.0) {
            if !pause.is_zero() {
                crate::rpc::sync::lending(|| std::thread::sleep(pause));
            }
        }
    })
}

fn config_string(mid: margo_instance_id, options: c_int, entry: &str) -> *mut c_char {
    let engine = match handles::engine(mid) {
        Ok(e) => e,
        Err(e) => {
            fail(entry, e);
            return std::ptr::null_mut();
        }
    };
    let json = engine.config_json();
    let text =
        if options & MARGO_CONFIG_PRETTY_JSON != 0 { serde_json::to_string_pretty(&json) } else { serde_json::to_string(&json) }
            .unwrap_or_default();
    super::strings::malloc_string(&text)
}

/// The effective config as JSON; free the result with `free()`.
#[no_mangle]
pub extern "C" fn margo_get_config(mid: margo_instance_id) -> *mut c_char {
    guard("margo_get_config", std::ptr::null_mut(), || config_string(mid, 0, "margo_get_config"))
}

/// Like `margo_get_config`, with `MARGO_CONFIG_*` options (pools are always
/// referred to by name).
#[no_mangle]
pub extern "C" fn margo_get_config_opt(mid: margo_instance_id, options: c_int) -> *mut c_char {
    guard("margo_get_config_opt", std::ptr::null_mut(), || config_string(mid, options, "margo_get_config_opt"))
}

/// A finalize callback (`margo_finalize_callback_t`).
pub type margo_finalize_callback_t = Option<unsafe extern "C" fn(uargs: *mut c_void)>;

/// Runs `cb(uargs)` when `mid` is finalized (newest first), tagged with
/// `owner` so `margo_provider_pop_finalize_callback` can take it back.
#[no_mangle]
pub extern "C" fn margo_provider_push_finalize_callback(
    mid: margo_instance_id,
    owner: *const c_void,
    cb: margo_finalize_callback_t,
    uargs: *mut c_void,
) {
    guard("margo_provider_push_finalize_callback", (), || {
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return fail("margo_provider_push_finalize_callback", e),
        };
        let Some(cb) = cb else { return fail("margo_provider_push_finalize_callback", "NULL callback") };
        // Run at finalize from whichever thread finalizes (as upstream).
        let call = CCallback::new(cb, uargs);
        engine.push_tagged_finalize_callback(owner as usize, call.words(), Box::new(move || call.call()));
    })
}

/// The newest finalize callback of `owner` and its argument, without
/// removing it: 1 if there is one (`cb` and `uargs` set when not NULL),
/// 0 otherwise.
///
/// # Safety
/// `cb` and `uargs` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_top_finalize_callback(
    mid: margo_instance_id,
    owner: *const c_void,
    cb: *mut margo_finalize_callback_t,
    uargs: *mut *mut c_void,
) -> c_int {
    guard("margo_provider_top_finalize_callback", 0, || {
        let Some(tag) = handles::engine(mid).ok().and_then(|e| e.top_finalize_callback(owner as usize)) else {
            return 0;
        };
        let (func, arg) = CCallback::parts_from_words(tag);
        // SAFETY: each NULL or writable by the contract.
        unsafe {
            if !cb.is_null() {
                *cb = func;
            }
            if !uargs.is_null() {
                *uargs = arg;
            }
        }
        1
    })
}

/// `margo_provider_top_finalize_callback` for callbacks pushed without an
/// owner.
///
/// # Safety
/// As for `margo_provider_top_finalize_callback`.
#[no_mangle]
pub unsafe extern "C" fn margo_top_finalize_callback(
    mid: margo_instance_id,
    cb: *mut margo_finalize_callback_t,
    uargs: *mut *mut c_void,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { margo_provider_top_finalize_callback(mid, std::ptr::null(), cb, uargs) }
}

/// Removes the newest finalize callback pushed without an owner; 1 if one
/// was removed.
#[no_mangle]
pub extern "C" fn margo_pop_finalize_callback(mid: margo_instance_id) -> c_int {
    margo_provider_pop_finalize_callback(mid, std::ptr::null())
}

/// See `margo_provider_push_prefinalize_callback`.
///
/// # Safety
/// As for `margo_provider_top_finalize_callback`.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_top_prefinalize_callback(
    mid: margo_instance_id,
    owner: *const c_void,
    cb: *mut margo_finalize_callback_t,
    uargs: *mut *mut c_void,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { margo_provider_top_finalize_callback(mid, owner, cb, uargs) }
}

/// See `margo_provider_push_prefinalize_callback`.
///
/// # Safety
/// As for `margo_provider_top_finalize_callback`.
#[no_mangle]
pub unsafe extern "C" fn margo_top_prefinalize_callback(
    mid: margo_instance_id,
    cb: *mut margo_finalize_callback_t,
    uargs: *mut *mut c_void,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { margo_provider_top_finalize_callback(mid, std::ptr::null(), cb, uargs) }
}

/// See `margo_provider_push_prefinalize_callback`.
#[no_mangle]
pub extern "C" fn margo_pop_prefinalize_callback(mid: margo_instance_id) -> c_int {
    margo_provider_pop_finalize_callback(mid, std::ptr::null())
}

/// Removes the newest finalize callback of `owner`; 1 if one was removed.
#[no_mangle]
pub extern "C" fn margo_provider_pop_finalize_callback(mid: margo_instance_id, owner: *const c_void) -> c_int {
    guard("margo_provider_pop_finalize_callback", 0, || match handles::engine(mid) {
        Ok(e) => e.pop_finalize_callback(owner as usize) as c_int,
        Err(_) => 0,
    })
}

/// Upstream runs "pre-finalize" callbacks while the instance can still
/// communicate; ours all run then (newest first, one list with the
/// finalize callbacks), so these are the same calls.
#[no_mangle]
pub extern "C" fn margo_provider_push_prefinalize_callback(
    mid: margo_instance_id,
    owner: *const c_void,
    cb: margo_finalize_callback_t,
    uargs: *mut c_void,
) {
    margo_provider_push_finalize_callback(mid, owner, cb, uargs)
}

/// See `margo_provider_push_prefinalize_callback`.
#[no_mangle]
pub extern "C" fn margo_provider_pop_prefinalize_callback(mid: margo_instance_id, owner: *const c_void) -> c_int {
    margo_provider_pop_finalize_callback(mid, owner)
}

/// See `margo_provider_push_prefinalize_callback`.
#[no_mangle]
pub extern "C" fn margo_push_prefinalize_callback(mid: margo_instance_id, cb: margo_finalize_callback_t, uargs: *mut c_void) {
    margo_provider_push_finalize_callback(mid, std::ptr::null(), cb, uargs)
}

/// Same as the provider variant (upstream has both).
#[no_mangle]
pub extern "C" fn margo_push_finalize_callback(mid: margo_instance_id, cb: margo_finalize_callback_t, uargs: *mut c_void) {
    margo_provider_push_finalize_callback(mid, std::ptr::null(), cb, uargs)
}
