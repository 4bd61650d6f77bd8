//! Argobots' work-unit-specific values (`ABT_key_*`, `ABT_self_*_specific`),
//! part of `abt.h`; the core is `rpc/sync/keys.rs`.
#![allow(non_camel_case_types)]

use super::abt::{create, free, with, ABT_ERR_INV_KEY, ABT_SUCCESS};
use super::callback::CCallback;
use super::handles::Owned;
use crate::rpc::sync::keys::Key;
use std::ffi::{c_int, c_void};
use std::sync::Arc;

/// Opaque key (`ABT_key`).
pub struct ABT_key_opaque {
    _private: [u8; 0],
}
pub type ABT_key = *mut ABT_key_opaque;
impl Owned for ABT_key_opaque {
    type Rust = Key;
}

/// A key whose values `destructor` (if not NULL) receives when their
/// user-level thread ends.
///
/// # Safety
/// `destructor` must be callable with the values set, on any thread;
/// `newkey` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_key_create(destructor: Option<unsafe extern "C" fn(*mut c_void)>, newkey: *mut ABT_key) -> c_int {
    let destructor = destructor.map(|f| {
        let d: crate::rpc::sync::keys::Destructor = Arc::new(move |value| CCallback::new(f, value as *mut c_void).call());
        d
    });
    // SAFETY: forwarded contract.
    unsafe { create("ABT_key_create", newkey, || Key::new(destructor)) }
}

/// Frees the key; its values are forgotten without their destructor (as
/// Argobots does).
///
/// # Safety
/// `key` must be NULL or point to NULL or a live key.
#[no_mangle]
pub unsafe extern "C" fn ABT_key_free(key: *mut ABT_key) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { free("ABT_key_free", key, ABT_ERR_INV_KEY) }
}

/// Sets the calling user-level thread's value (see `rpc/sync/keys.rs` for
/// what counts as one).
///
/// # Safety
/// `key` must be NULL or a live key.
#[no_mangle]
pub unsafe extern "C" fn ABT_key_set(key: ABT_key, value: *mut c_void) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_key_set", key, ABT_ERR_INV_KEY, |k| {
            k.set(value as usize);
            ABT_SUCCESS
        })
    }
}

/// The calling user-level thread's value (NULL if it set none).
///
/// # Safety
/// `key` must be NULL or a live key; `value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_key_get(key: ABT_key, value: *mut *mut c_void) -> c_int {
    if value.is_null() {
        return super::abt::ABT_ERR_INV_ARG;
    }
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_key_get", key, ABT_ERR_INV_KEY, |k| {
            // SAFETY: checked non-NULL, writable by the contract.
            *value = k.get() as *mut c_void;
            ABT_SUCCESS
        })
    }
}

/// # Safety
/// As `ABT_key_set`.
#[no_mangle]
pub unsafe extern "C" fn ABT_self_set_specific(key: ABT_key, value: *mut c_void) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_key_set(key, value) }
}

/// # Safety
/// As `ABT_key_get`.
#[no_mangle]
pub unsafe extern "C" fn ABT_self_get_specific(key: ABT_key, value: *mut *mut c_void) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_key_get(key, value) }
}
