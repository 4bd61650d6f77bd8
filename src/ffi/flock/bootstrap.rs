//! `flock-bootstrap.h`: initial views from ourselves or from a file.

use super::common::{flock_return_t, ret, ret_err};
use super::view::{fill_c, flock_group_view_t};
use crate::ffi::handles::{self, margo_instance_id};
use crate::ffi::panic::guard;
use crate::flock::error::code;
use crate::flock::{bootstrap, FlockError};
use std::ffi::{c_char, CStr};

/// Clears `view` and adds this process's (address, `provider_id`).
///
/// # Safety
/// `view` must be NULL or a valid view.
#[no_mangle]
pub unsafe extern "C" fn flock_group_view_init_from_self(
    mid: margo_instance_id,
    provider_id: u16,
    view: *mut flock_group_view_t,
) -> flock_return_t {
    guard("flock_group_view_init_from_self", code::OTHER, || {
        let entry = "flock_group_view_init_from_self";
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return ret_err(entry, FlockError::InvalidArgs(e.to_string())),
        };
        // SAFETY: by the contract NULL or a valid view.
        let Some(v) = (unsafe { view.as_mut() }) else { return ret_err(entry, FlockError::InvalidArgs("NULL view".into())) };
        // SAFETY: a valid view whose memory came from malloc (the contract).
        ret(entry, unsafe { fill_c(&bootstrap::from_self(&engine, provider_id), v) })
    })
}

/// Same as `flock_group_view_from_file`.
///
/// # Safety
/// `filename` NULL or NUL-terminated; `view` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn flock_group_view_init_from_file(
    filename: *const c_char,
    view: *mut flock_group_view_t,
) -> flock_return_t {
    guard("flock_group_view_init_from_file", code::OTHER, || {
        let entry = "flock_group_view_init_from_file";
        // SAFETY: by the contract NULL or a valid view.
        let (Some(v), false) = (unsafe { view.as_mut() }, filename.is_null()) else {
            return ret_err(entry, FlockError::InvalidArgs("NULL file name or view".into()));
        };
        // SAFETY: non-NULL (checked above), NUL-terminated by the contract.
        let path = std::path::PathBuf::from(unsafe { CStr::from_ptr(filename) }.to_string_lossy().into_owned());
        // SAFETY: a valid view whose memory came from malloc (the contract).
        ret(entry, bootstrap::from_file(&path).and_then(|g| unsafe { fill_c(&g, v) }))
    })
}
