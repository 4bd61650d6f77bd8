//! C update callbacks (`flock_membership_update_fn`, `flock_metadata_update_fn`)
//! adapted to [`UpdateCallbacks`].
#![allow(non_camel_case_types)]

use crate::flock::protocol::Update;
use crate::flock::provider::UpdateCallbacks;
use std::ffi::{c_char, c_void, CString};

pub type flock_membership_update_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, update: i32, address: *const c_char, provider_id: u16)>;
pub type flock_metadata_update_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, key: *const c_char, value: *const c_char)>;

pub struct CCallbacks {
    pub membership: flock_membership_update_fn,
    pub metadata: flock_metadata_update_fn,
    pub context: *mut c_void,
}

// SAFETY: the caller registers callbacks that Flock may call from its own
// threads, as upstream documents; the context is theirs to synchronize.
unsafe impl Send for CCallbacks {}
// SAFETY: shared use only calls the callbacks with their context, which the
// same promise covers (Flock may call them from several threads at once).
unsafe impl Sync for CCallbacks {}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("NULs removed")
}

impl UpdateCallbacks for CCallbacks {
    fn membership(&self, update: Update, address: &str, provider_id: u16) {
        if let Some(f) = self.membership {
            let a = c_string(address);
            // SAFETY: the user's callback with their context and a valid string.
            unsafe { f(self.context, update as i32, a.as_ptr(), provider_id) };
        }
    }

    fn metadata(&self, key: &str, value: &str) {
        if let Some(f) = self.metadata {
            let (k, v) = (c_string(key), c_string(value));
            // SAFETY: as above.
            unsafe { f(self.context, k.as_ptr(), v.as_ptr()) };
        }
    }
}
