//! `yokan/client.h`: clients and database handles.
#![allow(non_camel_case_types)]

use crate::ffi::flock::group::{flock_group_handle, flock_group_handle_t};
use crate::ffi::handles::{self, boxed_free, boxed_into_c, boxed_ref, margo_instance_id, Owned};
use crate::ffi::hg::hg_addr_t;
use crate::ffi::panic::guard;
use crate::yokan::client::{Client, Database};
use crate::yokan::dist::handle::GroupSource;
use crate::yokan::error::{code, YokanError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub type yk_return_t = i32;

/// Logs the error (one line) and returns its code. Outcomes that are
/// answers rather than failures (an absent key, a key that exists under
/// `NEW_ONLY`, a buffer too small, a stopped iteration) log at debug level:
/// a program that asks whether a key is there must not fill its log.
pub fn ret_err(entry: &str, e: YokanError) -> yk_return_t {
    let level = match e.code {
        code::STOP_ITERATION => return e.code,
        code::KEY_NOT_FOUND | code::KEY_EXISTS | code::BUFFER_SIZE => crate::log::Level::Debug,
        _ => crate::log::Level::Error,
    };
    crate::log::emit(level, &format!("{entry}: {e}"));
    e.code
}

/// Opaque client (`struct yk_client`).
pub struct yk_client {
    _private: [u8; 0],
}
pub type yk_client_t = *mut yk_client;

pub struct ClientBox {
    pub client: Client,
    /// The margo instance it was made on (its bulk handles' table).
    pub mid: margo_instance_id,
    pub handles: Arc<AtomicUsize>,
}

impl Owned for yk_client {
    type Rust = ClientBox;
}

/// Opaque database handle (`struct yk_database_handle`).
pub struct yk_database_handle {
    _private: [u8; 0],
}
pub type yk_database_handle_t = *mut yk_database_handle;

pub struct HandleBox {
    pub db: Database,
    pub client: yk_client_t,
    /// The client's margo instance (which the `_bulk` operations transfer
    /// with; the client itself may be finalized before its handles).
    pub mid: margo_instance_id,
    refs: AtomicUsize,
    live: Arc<AtomicUsize>,
}

impl Owned for yk_database_handle {
    type Rust = HandleBox;
}

/// Creates a client on `mid`.
///
/// # Safety
/// `client` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn yk_client_init(mid: margo_instance_id, client: *mut yk_client_t) -> yk_return_t {
    guard("yk_client_init", code::OTHER, || {
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return ret_err("yk_client_init", YokanError::new(code::INVALID_MID, e.to_string())),
        };
        if client.is_null() {
            return ret_err("yk_client_init", YokanError::args("NULL output pointer"));
        }
        let value = ClientBox { client: Client::new(&engine), mid, handles: Arc::new(AtomicUsize::new(0)) };
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *client = boxed_into_c::<yk_client>(value) };
        code::SUCCESS
    })
}

/// Frees a client (warns about handles still alive; they keep working).
///
/// # Safety
/// `client` must be NULL or a live client, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn yk_client_finalize(client: yk_client_t) -> yk_return_t {
    // SAFETY: NULL or a live client that the caller gives up here (the contract).
    guard("yk_client_finalize", code::OTHER, || match unsafe { boxed_free(client) } {
        None => ret_err("yk_client_finalize", YokanError::args("NULL client")),
        Some(c) => {
            let live = c.handles.load(Ordering::Acquire);
            if live > 0 {
                crate::warning!("yk_client_finalize: {live} database handle(s) still alive");
            }
            code::SUCCESS
        }
    })
}

/// Creates a handle on the database of provider `provider_id` at `addr`;
/// with `check`, asks the provider first.
///
/// # Safety
/// `client` NULL or live; `addr` NULL or a live address; `handle` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn yk_database_handle_create(
    client: yk_client_t,
    addr: hg_addr_t,
    provider_id: u16,
    check: bool,
    handle: *mut yk_database_handle_t,
) -> yk_return_t {
    guard("yk_database_handle_create", code::OTHER, || {
        let entry = "yk_database_handle_create";
        // SAFETY: NULL or a live client (the contract).
        let Some(c) = (unsafe { boxed_ref(client) }) else { return ret_err(entry, YokanError::args("NULL client")) };
        // SAFETY: NULL or a live address (the contract).
        let Some(address) = (unsafe { handles::addr_ref(addr) }) else {
            return ret_err(entry, YokanError::args("NULL address"));
        };
        if handle.is_null() {
            return ret_err(entry, YokanError::args("NULL output pointer"));
        }
        match c.client.database(address, provider_id, check) {
            // SAFETY: `client` is the live client `c` came from; `handle` checked non-NULL.
            Ok(db) => unsafe { hand_out(c, client, db, handle) },
            Err(e) => ret_err(entry, e),
        }
    })
}

/// Hands a new database handle out through `handle`.
///
/// # Safety
/// `client` must be the live client `c` came from; `handle` non-NULL and writable.
unsafe fn hand_out(c: &ClientBox, client: yk_client_t, db: Database, handle: *mut yk_database_handle_t) -> yk_return_t {
    c.handles.fetch_add(1, Ordering::AcqRel);
    let value = HandleBox { db, client, mid: c.mid, refs: AtomicUsize::new(1), live: c.handles.clone() };
    // SAFETY: non-NULL and writable (this function's contract).
    unsafe { *handle = boxed_into_c::<yk_database_handle>(value) };
    code::SUCCESS
}

/// Extension: a group-aware handle on the distributed database whose
/// shards are the Yokan providers `provider_id` of the members of `group`
/// (a Flock group handle; it may be released afterwards). Each key goes
/// straight to its primary owner, the handle follows the group's view, and
/// every `yk_*` operation works on it.
///
/// # Safety
/// `client` NULL or live; `group` NULL or a live Flock group handle;
/// `handle` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn yk_database_handle_create_from_group(
    client: yk_client_t,
    group: flock_group_handle_t,
    provider_id: u16,
    handle: *mut yk_database_handle_t,
) -> yk_return_t {
    guard("yk_database_handle_create_from_group", code::OTHER, || {
        let entry = "yk_database_handle_create_from_group";
        // SAFETY: NULL or a live client (the contract).
        let Some(c) = (unsafe { boxed_ref(client) }) else { return ret_err(entry, YokanError::args("NULL client")) };
        // SAFETY: NULL or a live group handle (the contract).
        let Some(g) = (unsafe { boxed_ref::<flock_group_handle>(group) }) else {
            return ret_err(entry, YokanError::args("NULL group handle"));
        };
        if handle.is_null() {
            return ret_err(entry, YokanError::args("NULL output pointer"));
        }
        match c.client.group_database(GroupSource::Handle(g.handle()), provider_id) {
            // SAFETY: `client` is the live client `c` came from; `handle` checked non-NULL.
            Ok(db) => unsafe { hand_out(c, client, db, handle) },
            Err(e) => ret_err(entry, e),
        }
    })
}

/// Extension: as `yk_database_handle_create_from_group`, from a Flock group
/// file (`filename`, as `flock_group_handle_create_from_file` reads it).
///
/// # Safety
/// `client` NULL or live; `filename` NULL or NUL-terminated; `handle` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn yk_database_handle_create_from_group_file(
    client: yk_client_t,
    filename: *const std::ffi::c_char,
    provider_id: u16,
    handle: *mut yk_database_handle_t,
) -> yk_return_t {
    guard("yk_database_handle_create_from_group_file", code::OTHER, || {
        let entry = "yk_database_handle_create_from_group_file";
        // SAFETY: NULL or a live client (the contract).
        let Some(c) = (unsafe { boxed_ref(client) }) else { return ret_err(entry, YokanError::args("NULL client")) };
        if filename.is_null() {
            return ret_err(entry, YokanError::args("NULL file name"));
        }
        // SAFETY: non-NULL (just checked), NUL-terminated by the contract.
        let path = unsafe { std::ffi::CStr::from_ptr(filename) }.to_string_lossy().into_owned();
        if handle.is_null() {
            return ret_err(entry, YokanError::args("NULL output pointer"));
        }
        match c.client.group_database(GroupSource::File(std::path::Path::new(&path)), provider_id) {
            // SAFETY: `client` is the live client `c` came from; `handle` checked non-NULL.
            Ok(db) => unsafe { hand_out(c, client, db, handle) },
            Err(e) => ret_err(entry, e),
        }
    })
}

/// Fills the non-NULL outputs (`*addr` is a copy: free it with `margo_addr_free`).
///
/// # Safety
/// `handle` NULL or live; outputs NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn yk_database_handle_get_info(
    handle: yk_database_handle_t,
    client: *mut yk_client_t,
    addr: *mut hg_addr_t,
    provider_id: *mut u16,
) -> yk_return_t {
    guard("yk_database_handle_get_info", code::OTHER, || {
        // SAFETY: NULL or a live handle (the contract).
        let Some(h) = (unsafe { boxed_ref(handle) }) else {
            return ret_err("yk_database_handle_get_info", YokanError::args("NULL handle"));
        };
        if !client.is_null() {
            // SAFETY: non-NULL (just checked), writable by the contract.
            unsafe { *client = h.client };
        }
        if !addr.is_null() {
            // SAFETY: non-NULL (just checked), writable by the contract.
            unsafe { *addr = handles::addr_into_c(h.db.address().clone()) };
        }
        if !provider_id.is_null() {
            // SAFETY: non-NULL (just checked), writable by the contract.
            unsafe { *provider_id = h.db.provider_id() };
        }
        code::SUCCESS
    })
}

/// # Safety
/// `handle` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn yk_database_handle_ref_incr(handle: yk_database_handle_t) -> yk_return_t {
    // SAFETY: NULL or a live handle (the contract).
    guard("yk_database_handle_ref_incr", code::OTHER, || match unsafe { boxed_ref(handle) } {
        None => ret_err("yk_database_handle_ref_incr", YokanError::args("NULL handle")),
        Some(h) => {
            h.refs.fetch_add(1, Ordering::AcqRel);
            code::SUCCESS
        }
    })
}

/// Drops one reference; the last one frees the handle.
///
/// # Safety
/// `handle` NULL or live; not used after its last release.
#[no_mangle]
pub unsafe extern "C" fn yk_database_handle_release(handle: yk_database_handle_t) -> yk_return_t {
    guard("yk_database_handle_release", code::OTHER, || {
        // SAFETY: NULL or a live handle (the contract).
        let Some(h) = (unsafe { boxed_ref(handle) }) else {
            return ret_err("yk_database_handle_release", YokanError::args("NULL handle"));
        };
        if h.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: that was the last reference, so no one uses the handle
            // afterwards (the contract); `h` is not used past this point.
            if let Some(h) = unsafe { boxed_free(handle) } {
                h.live.fetch_sub(1, Ordering::AcqRel);
            }
        }
        code::SUCCESS
    })
}

/// The message of a return code ("" for unknown codes).
#[no_mangle]
pub extern "C" fn yk_return_message(code: yk_return_t) -> *const std::ffi::c_char {
    // Static NUL-terminated copies of the messages.
    static TABLE: std::sync::OnceLock<Vec<std::ffi::CString>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        crate::yokan::error::RETURN_VALUES.iter().map(|(_, _, m)| std::ffi::CString::new(*m).unwrap_or_default()).collect()
    });
    usize::try_from(code).ok().and_then(|i| table.get(i)).map(|c| c.as_ptr()).unwrap_or(c"".as_ptr())
}
