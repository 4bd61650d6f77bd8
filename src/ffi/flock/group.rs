//! `flock-group.h`: group handles, views, updates, metadata, subscriptions.
#![allow(non_camel_case_types)]

use super::callbacks::{flock_membership_update_fn, flock_metadata_update_fn, CCallbacks};
use super::client::flock_client_t;
use super::common::{flock_return_t, ret, ret_err, FLOCK_SUCCESS};
use super::view::{clear_c, fill_c, flock_group_view_t};
use crate::ffi::handles::{self, boxed_free, boxed_into_c, boxed_ref, Owned};
use crate::ffi::hg::hg_addr_t;
use crate::ffi::panic::guard;
use crate::flock::client::{GroupHandle, PendingUpdate};
use crate::flock::error::code;
use crate::flock::FlockError;
use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Opaque group handle (`struct flock_group_handle`).
pub struct flock_group_handle {
    _private: [u8; 0],
}
pub type flock_group_handle_t = *mut flock_group_handle;

/// What a `flock_group_handle_t` owns: the handle and its C reference count.
pub struct HandleBox {
    handle: GroupHandle,
    refs: AtomicUsize,
}

impl Owned for flock_group_handle {
    type Rust = HandleBox;
}

impl HandleBox {
    /// The handle (a Yokan group-aware database handle is made from it).
    pub(crate) fn handle(&self) -> &GroupHandle {
        &self.handle
    }
}

/// Opaque pending update (`struct flock_request`).
pub struct flock_request {
    _private: [u8; 0],
}
pub type flock_request_t = *mut flock_request;

impl Owned for flock_request {
    type Rust = PendingUpdate;
}

fn invalid(entry: &str, what: &str) -> flock_return_t {
    ret_err(entry, FlockError::InvalidArgs(what.to_string()))
}

/// # Safety
/// `out` must be writable.
unsafe fn hand_out(out: *mut flock_group_handle_t, r: Result<GroupHandle, FlockError>, entry: &str) -> flock_return_t {
    match r {
        Ok(handle) => {
            // SAFETY: writable by the contract.
            unsafe { *out = boxed_into_c::<flock_group_handle>(HandleBox { handle, refs: AtomicUsize::new(1) }) };
            FLOCK_SUCCESS
        }
        Err(e) => ret_err(entry, e),
    }
}

/// # Safety
/// Pointers must be NULL or valid handles / writable outputs.
#[no_mangle]
pub unsafe extern "C" fn flock_group_handle_create(
    client: flock_client_t,
    addr: hg_addr_t,
    provider_id: u16,
    mode: u32,
    handle: *mut flock_group_handle_t,
) -> flock_return_t {
    guard("flock_group_handle_create", code::OTHER, || {
        let entry = "flock_group_handle_create";
        // SAFETY: by the contract NULL or live client and address handles.
        let (Some(c), Some(a), false) = (unsafe { boxed_ref(client) }, unsafe { handles::addr_ref(addr) }, handle.is_null())
        else {
            return invalid(entry, "NULL client, address or output pointer");
        };
        // SAFETY: `handle` checked non-NULL above; writable by the contract.
        unsafe { hand_out(handle, GroupHandle::create(c, a, provider_id, mode), entry) }
    })
}

/// # Safety
/// Pointers must be NULL or valid; `filename` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn flock_group_handle_create_from_file(
    client: flock_client_t,
    filename: *const c_char,
    mode: u32,
    handle: *mut flock_group_handle_t,
) -> flock_return_t {
    guard("flock_group_handle_create_from_file", code::OTHER, || {
        let entry = "flock_group_handle_create_from_file";
        // SAFETY: by the contract NULL or a live client.
        let (Some(c), false, false) = (unsafe { boxed_ref(client) }, filename.is_null(), handle.is_null()) else {
            return invalid(entry, "NULL client, file name or output pointer");
        };
        // SAFETY: non-NULL (checked above), NUL-terminated by the contract.
        let path = std::path::PathBuf::from(unsafe { CStr::from_ptr(filename) }.to_string_lossy().into_owned());
        // SAFETY: `handle` checked non-NULL above; writable by the contract.
        unsafe { hand_out(handle, GroupHandle::from_file(c, &path, mode), entry) }
    })
}

/// # Safety
/// `serialized_view` must be readable for `view_size` bytes; others valid.
#[no_mangle]
pub unsafe extern "C" fn flock_group_handle_create_from_serialized(
    client: flock_client_t,
    serialized_view: *const c_char,
    view_size: usize,
    mode: u32,
    handle: *mut flock_group_handle_t,
) -> flock_return_t {
    guard("flock_group_handle_create_from_serialized", code::OTHER, || {
        let entry = "flock_group_handle_create_from_serialized";
        // SAFETY: by the contract NULL or a live client.
        let (Some(c), false, false) = (unsafe { boxed_ref(client) }, serialized_view.is_null(), handle.is_null()) else {
            return invalid(entry, "NULL client, view or output pointer");
        };
        // SAFETY: non-NULL (checked above), readable for view_size bytes by
        // the contract, and not written during this call.
        let bytes = unsafe { std::slice::from_raw_parts(serialized_view as *const u8, view_size) };
        // SAFETY: `handle` checked non-NULL above; writable by the contract.
        unsafe { hand_out(handle, GroupHandle::from_serialized(c, bytes, mode), entry) }
    })
}

/// # Safety
/// `handle` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn flock_group_handle_ref_incr(handle: flock_group_handle_t) -> flock_return_t {
    // SAFETY: by the contract NULL or a live handle.
    guard("flock_group_handle_ref_incr", code::OTHER, || match unsafe { boxed_ref(handle) } {
        Some(h) => {
            h.refs.fetch_add(1, Ordering::AcqRel);
            FLOCK_SUCCESS
        }
        None => invalid("flock_group_handle_ref_incr", "NULL handle"),
    })
}

/// Drops one reference; the last one frees the handle.
///
/// # Safety
/// `handle` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn flock_group_handle_release(handle: flock_group_handle_t) -> flock_return_t {
    guard("flock_group_handle_release", code::OTHER, || {
        // SAFETY: by the contract NULL or a live handle.
        let Some(h) = (unsafe { boxed_ref(handle) }) else { return invalid("flock_group_handle_release", "NULL handle") };
        if h.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: we dropped the last reference, so no one else uses the
            // handle any more (the reference counting contract).
            drop(unsafe { boxed_free(handle) });
        }
        FLOCK_SUCCESS
    })
}

/// Copies the cached view into `view` (cleared first). No RPC.
///
/// # Safety
/// `handle` NULL or live; `view` NULL or a valid view.
#[no_mangle]
pub unsafe extern "C" fn flock_group_get_view(handle: flock_group_handle_t, view: *mut flock_group_view_t) -> flock_return_t {
    guard("flock_group_get_view", code::OTHER, || {
        // SAFETY: by the contract `handle` is NULL or live and `view` NULL or valid.
        let (Some(h), Some(v)) = (unsafe { boxed_ref(handle) }, unsafe { view.as_mut() }) else {
            return invalid("flock_group_get_view", "NULL handle or view");
        };
        // SAFETY: `v` is a valid view (the contract).
        ret("flock_group_get_view", h.handle.with_view(|g| unsafe { fill_c(g, v) }))
    })
}

/// Calls `access(uargs, view)` with the cached view (NULL `access`: no-op).
///
/// # Safety
/// `handle` NULL or live; `access` a valid function.
#[no_mangle]
pub unsafe extern "C" fn flock_group_access_view(
    handle: flock_group_handle_t,
    access: Option<unsafe extern "C" fn(*mut c_void, *const flock_group_view_t)>,
    uargs: *mut c_void,
) -> flock_return_t {
    guard("flock_group_access_view", code::OTHER, || {
        // SAFETY: by the contract NULL or a live handle.
        let Some(h) = (unsafe { boxed_ref(handle) }) else { return invalid("flock_group_access_view", "NULL handle") };
        let Some(access) = access else { return FLOCK_SUCCESS };
        // SAFETY: all-zero is a valid empty view (NULL arrays, zero sizes,
        // an unused lock), and everything fill_c puts in it is malloc'd.
        let mut c_view: flock_group_view_t = unsafe { std::mem::zeroed() };
        // SAFETY: c_view is a valid view whose memory came from malloc.
        let filled = h.handle.with_view(|g| unsafe { fill_c(g, &mut c_view) });
        if let Err(e) = filled {
            // SAFETY: as above; frees what fill_c had allocated.
            unsafe { clear_c(&mut c_view) };
            return ret_err("flock_group_access_view", e);
        }
        // SAFETY: the user's callback (valid by the contract) gets a valid
        // view that lives until it returns; then we free what we allocated.
        unsafe {
            access(uargs, &c_view);
            clear_c(&mut c_view);
        }
        FLOCK_SUCCESS
    })
}

/// Sets `key` = `value` for the whole group (every member and subscriber).
///
/// # Safety
/// `handle` NULL or live; strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn flock_group_metadata_set(
    handle: flock_group_handle_t,
    key: *const c_char,
    value: *const c_char,
) -> flock_return_t {
    guard("flock_group_metadata_set", code::OTHER, || {
        let entry = "flock_group_metadata_set";
        // SAFETY: by the contract NULL or a live handle.
        let (Some(h), false, false) = (unsafe { boxed_ref(handle) }, key.is_null(), value.is_null()) else {
            return invalid(entry, "NULL handle, key or value");
        };
        // SAFETY: both non-NULL (checked above), NUL-terminated by the contract.
        let (k, v) = unsafe { (CStr::from_ptr(key).to_string_lossy(), CStr::from_ptr(value).to_string_lossy()) };
        ret(entry, h.handle.metadata_set(&k, &v))
    })
}

/// Refreshes the cached view; with `req` non-NULL returns at once and
/// `flock_request_wait` finishes it.
///
/// # Safety
/// `handle` NULL or live; `req` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn flock_group_update_view(handle: flock_group_handle_t, req: *mut flock_request_t) -> flock_return_t {
    guard("flock_group_update_view", code::OTHER, || {
        let entry = "flock_group_update_view";
        // SAFETY: by the contract NULL or a live handle.
        let Some(h) = (unsafe { boxed_ref(handle) }) else { return invalid(entry, "NULL handle") };
        match h.handle.update_async() {
            Err(e) => ret_err(entry, e),
            Ok(pending) if req.is_null() => ret(entry, pending.wait()),
            Ok(pending) => {
                // SAFETY: non-NULL (the arm above), writable by the contract.
                unsafe { *req = boxed_into_c::<flock_request>(pending) };
                FLOCK_SUCCESS
            }
        }
    })
}

/// Waits for an update and frees the request.
///
/// # Safety
/// `req` NULL or a live request, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn flock_request_wait(req: flock_request_t) -> flock_return_t {
    // SAFETY: by the contract NULL or a live request, not used afterwards.
    guard("flock_request_wait", code::OTHER, || match unsafe { boxed_free(req) } {
        Some(p) => ret("flock_request_wait", p.wait()),
        None => invalid("flock_request_wait", "NULL request"),
    })
}

/// # Safety
/// `req` NULL or live; `completed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn flock_request_test(req: flock_request_t, completed: *mut bool) -> flock_return_t {
    guard("flock_request_test", code::OTHER, || {
        // SAFETY: by the contract NULL or a live request.
        let (Some(p), false) = (unsafe { boxed_ref(req) }, completed.is_null()) else {
            return invalid("flock_request_test", "NULL request or output pointer");
        };
        // SAFETY: non-NULL (checked above), writable by the contract.
        unsafe { *completed = p.test() };
        FLOCK_SUCCESS
    })
}

/// Follows the group: callbacks fire for every membership and metadata change.
///
/// # Safety
/// `handle` NULL or live; callbacks valid for the subscription's life.
#[no_mangle]
pub unsafe extern "C" fn flock_group_subscribe(
    handle: flock_group_handle_t,
    member_update_fn: flock_membership_update_fn,
    metadata_update_fn: flock_metadata_update_fn,
    context: *mut c_void,
) -> flock_return_t {
    guard("flock_group_subscribe", code::OTHER, || {
        // SAFETY: by the contract NULL or a live handle.
        let Some(h) = (unsafe { boxed_ref(handle) }) else { return invalid("flock_group_subscribe", "NULL handle") };
        let cbs = Arc::new(CCallbacks { membership: member_update_fn, metadata: metadata_update_fn, context });
        ret("flock_group_subscribe", h.handle.subscribe(cbs))
    })
}

/// # Safety
/// `handle` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn flock_group_unsubscribe(handle: flock_group_handle_t) -> flock_return_t {
    // SAFETY: by the contract NULL or a live handle.
    guard("flock_group_unsubscribe", code::OTHER, || match unsafe { boxed_ref(handle) } {
        Some(h) => ret("flock_group_unsubscribe", h.handle.unsubscribe()),
        None => invalid("flock_group_unsubscribe", "NULL handle"),
    })
}
