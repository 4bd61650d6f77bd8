//! Strings handed to C: allocated with `malloc` when the caller frees them
//! (with `free()`, as upstream documents), or interned when C only
//! borrows them (a provider's identity, a pool's name).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::{c_char, CString};

/// Strings lent to C. Each distinct text is allocated once and kept while
/// its owner (a margo instance) lives, so a pointer C holds stays valid
/// after what it names is renamed, replaced or removed (a few bytes per
/// distinct text).
#[derive(Default)]
pub struct Interned(Mutex<HashMap<String, CString>>);

impl Interned {
    /// The text as a C string (NULL if it holds a NUL byte).
    pub fn c_str(&self, text: &str) -> *const c_char {
        let mut map = self.0.lock();
        if let Some(c) = map.get(text) {
            return c.as_ptr();
        }
        let Ok(c) = CString::new(text) else { return std::ptr::null() };
        let ptr = c.as_ptr();
        map.insert(text.to_string(), c);
        ptr
    }
}

/// Copies `s` into a new malloc'd NUL-terminated buffer (NULL if out of memory).
pub fn malloc_string(s: &str) -> *mut c_char {
    let bytes = s.as_bytes();
    // SAFETY: we allocate len+1 bytes and write exactly that many.
    unsafe {
        let p = libc::malloc(bytes.len() + 1) as *mut u8;
        if p.is_null() {
            return std::ptr::null_mut();
        }
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        *p.add(bytes.len()) = 0;
        p as *mut c_char
    }
}
