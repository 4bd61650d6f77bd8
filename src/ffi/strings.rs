//! Strings handed to C are allocated with `malloc`, so callers free them
//! with `free()` as upstream documents.

use std::ffi::c_char;

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
