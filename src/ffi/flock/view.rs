//! The C group view (`flock_group_view_t`, laid out exactly as in
//! `include/flock/flock-group-view.h`) and its conversions to and from the
//! Rust [`GroupView`]. Memory handed to C is malloc'd, so the header's inline
//! helpers (and users) free it with `free()`.
#![allow(non_camel_case_types)]

use super::common::{flock_return_t, ret, ret_err, FLOCK_SUCCESS};
use crate::ffi::panic::guard;
use crate::flock::error::{code, FlockError};
use crate::flock::{view_file, GroupView};
use std::ffi::{c_char, c_void, CStr};

#[repr(C)]
pub struct flock_member_extra {
    pub data: *mut c_void,
    pub free: Option<unsafe extern "C" fn(*mut c_void)>,
}

#[repr(C)]
pub struct flock_member_t {
    pub address: *mut c_char,
    pub provider_id: u16,
    pub extra: flock_member_extra,
}

#[repr(C)]
pub struct flock_metadata_t {
    pub key: *mut c_char,
    pub value: *mut c_char,
}

#[repr(C)]
pub struct flock_member_array {
    pub size: u64,
    pub capacity: u64,
    pub data: *mut flock_member_t,
}

#[repr(C)]
pub struct flock_metadata_array {
    pub size: u64,
    pub capacity: u64,
    pub data: *mut flock_metadata_t,
}

#[repr(C)]
pub struct flock_group_view_t {
    pub members: flock_member_array,
    pub metadata: flock_metadata_array,
    pub digest: u64,
    /// The view's lock (a pthread mutex in 64 bytes, see the header).
    pub mtx: [u64; 8],
}

const _: () = assert!(std::mem::size_of::<flock_member_t>() == 32);
const _: () = assert!(std::mem::size_of::<flock_metadata_t>() == 16);
const _: () = assert!(std::mem::size_of::<flock_group_view_t>() == 120);

/// Reads a C view.
///
/// # Safety
/// `v` must point to a valid view whose strings are NUL-terminated.
pub unsafe fn from_c(v: &flock_group_view_t) -> Result<GroupView, FlockError> {
    let mut out = GroupView::new();
    let bad = |what: &str| FlockError::InvalidArgs(format!("view has a NULL {what}"));
    // Views travel as JSON, which is UTF-8: other bytes are refused rather
    // than silently replaced (the digest would no longer match).
    let utf8 = |p: *const c_char, what: &str| {
        // SAFETY: only called with non-NULL strings of a valid view, which
        // are NUL-terminated (the contract).
        unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| FlockError::InvalidArgs(format!("{what} is not valid UTF-8")))
    };
    if v.members.size > 0 && v.members.data.is_null() {
        return Err(bad("member array"));
    }
    for i in 0..v.members.size as usize {
        // SAFETY: a valid view's member array (non-NULL, checked above) holds
        // `size` initialized entries, and i < size.
        let m = unsafe { &*v.members.data.add(i) };
        if m.address.is_null() {
            return Err(bad("member address"));
        }
        out.add_member(utf8(m.address, "a member address")?, m.provider_id);
    }
    if v.metadata.size > 0 && v.metadata.data.is_null() {
        return Err(bad("metadata array"));
    }
    for i in 0..v.metadata.size as usize {
        // SAFETY: as for members: i < size of a non-NULL metadata array.
        let md = unsafe { &*v.metadata.data.add(i) };
        if md.key.is_null() || md.value.is_null() {
            return Err(bad("metadata key or value"));
        }
        out.add_metadata(utf8(md.key, "a metadata key")?, utf8(md.value, "a metadata value")?);
    }
    Ok(out)
}

fn strdup(s: &str) -> *mut c_char {
    crate::ffi::strings::malloc_string(s)
}

/// Frees a C view's content (not the lock), like the header's
/// `flock_group_view_clear`.
///
/// # Safety
/// `v` must be a valid view whose memory came from malloc.
pub unsafe fn clear_c(v: &mut flock_group_view_t) {
    for i in 0..v.members.size as usize {
        // SAFETY: a valid view's member array holds `size` entries whose
        // strings came from malloc (the contract); the extra data's free
        // function is the one its owner set for it. Each is freed once: the
        // array is reset below.
        unsafe {
            let m = &mut *v.members.data.add(i);
            libc::free(m.address as *mut c_void);
            if let Some(f) = m.extra.free {
                f(m.extra.data);
            }
        }
    }
    // SAFETY: the array came from malloc (or is NULL), freed once.
    unsafe { libc::free(v.members.data as *mut c_void) };
    v.members = flock_member_array { size: 0, capacity: 0, data: std::ptr::null_mut() };
    for i in 0..v.metadata.size as usize {
        // SAFETY: as for members: `size` entries of malloc'd strings.
        unsafe {
            let md = &mut *v.metadata.data.add(i);
            libc::free(md.key as *mut c_void);
            libc::free(md.value as *mut c_void);
        }
    }
    // SAFETY: the array came from malloc (or is NULL), freed once.
    unsafe { libc::free(v.metadata.data as *mut c_void) };
    v.metadata = flock_metadata_array { size: 0, capacity: 0, data: std::ptr::null_mut() };
    v.digest = 0;
}

/// Replaces a C view's content with `view` (the lock is left alone).
///
/// # Safety
/// `v` must be a valid (possibly empty) view whose memory came from malloc.
pub unsafe fn fill_c(view: &GroupView, v: &mut flock_group_view_t) -> Result<(), FlockError> {
    // SAFETY: the same contract as ours.
    unsafe { clear_c(v) };
    let oom = || FlockError::Code { code: code::ALLOCATION, message: "out of memory".into() };
    let n = view.member_count();
    if n > 0 {
        // SAFETY: plain allocation; checked for NULL below.
        let data = unsafe { libc::calloc(n, std::mem::size_of::<flock_member_t>()) } as *mut flock_member_t;
        if data.is_null() {
            return Err(oom());
        }
        v.members = flock_member_array { size: 0, capacity: n as u64, data };
        for m in view.members() {
            let address = strdup(&m.address);
            if address.is_null() {
                return Err(oom());
            }
            // SAFETY: size < n (one write per member), inside the calloc'd
            // array of n entries.
            unsafe {
                data.add(v.members.size as usize).write(flock_member_t {
                    address,
                    provider_id: m.provider_id,
                    extra: flock_member_extra { data: std::ptr::null_mut(), free: None },
                })
            };
            v.members.size += 1;
        }
    }
    let n = view.metadata_count();
    if n > 0 {
        // SAFETY: plain allocation; checked for NULL below.
        let data = unsafe { libc::calloc(n, std::mem::size_of::<flock_metadata_t>()) } as *mut flock_metadata_t;
        if data.is_null() {
            return Err(oom());
        }
        v.metadata = flock_metadata_array { size: 0, capacity: n as u64, data };
        for (k, val) in view.metadata() {
            let (key, value) = (strdup(k), strdup(val));
            if key.is_null() || value.is_null() {
                // SAFETY: each is NULL or ours from malloc, freed once.
                unsafe {
                    libc::free(key as *mut c_void);
                    libc::free(value as *mut c_void);
                }
                return Err(oom());
            }
            // SAFETY: size < n (one write per entry), inside the calloc'd array.
            unsafe { data.add(v.metadata.size as usize).write(flock_metadata_t { key, value }) };
            v.metadata.size += 1;
        }
    }
    v.digest = view.digest();
    Ok(())
}

/// Serializes the view to JSON and hands the text to `serializer` once.
///
/// # Safety
/// `view` must be NULL or a valid view.
#[no_mangle]
pub unsafe extern "C" fn flock_group_view_serialize(
    view: *const flock_group_view_t,
    serializer: Option<unsafe extern "C" fn(*mut c_void, *const c_char, usize)>,
    context: *mut c_void,
) -> flock_return_t {
    guard("flock_group_view_serialize", code::OTHER, || {
        // SAFETY: by the contract NULL or a valid view.
        let (Some(v), Some(serializer)) = (unsafe { view.as_ref() }, serializer) else {
            return ret_err("flock_group_view_serialize", FlockError::InvalidArgs("NULL view or serializer".into()));
        };
        // SAFETY: a valid view (the contract).
        match unsafe { from_c(v) } {
            Ok(rust) => {
                let mut text = view_file::serialize(&rust).into_bytes();
                let len = text.len();
                text.push(0);
                // SAFETY: the user's serializer with their context and our
                // NUL-terminated text, alive for the call.
                unsafe { serializer(context, text.as_ptr() as *const c_char, len) };
                FLOCK_SUCCESS
            }
            Err(e) => ret_err("flock_group_view_serialize", e),
        }
    })
}

/// Writes the view to `filename` atomically (mode 0600).
///
/// # Safety
/// `view` must be NULL or valid; `filename` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn flock_group_view_serialize_to_file(
    view: *const flock_group_view_t,
    filename: *const c_char,
) -> flock_return_t {
    guard("flock_group_view_serialize_to_file", code::OTHER, || {
        let entry = "flock_group_view_serialize_to_file";
        // SAFETY: by the contract NULL or a valid view.
        let (Some(v), false) = (unsafe { view.as_ref() }, filename.is_null()) else {
            return ret_err(entry, FlockError::InvalidArgs("NULL view or file name".into()));
        };
        // SAFETY: non-NULL (checked above), NUL-terminated by the contract.
        let path = std::path::PathBuf::from(unsafe { CStr::from_ptr(filename) }.to_string_lossy().into_owned());
        // SAFETY: a valid view (the contract).
        ret(entry, unsafe { from_c(v) }.and_then(|rust| Ok(view_file::write_atomic(&path, &rust)?)))
    })
}

/// Parses a serialized view into `view` (cleared first).
///
/// # Safety
/// `text` must be NULL or readable for `len` bytes; `view` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn flock_group_view_from_string(
    text: *const c_char,
    len: usize,
    view: *mut flock_group_view_t,
) -> flock_return_t {
    guard("flock_group_view_from_string", code::OTHER, || {
        let entry = "flock_group_view_from_string";
        // SAFETY: by the contract NULL or a valid view.
        let Some(v) = (unsafe { view.as_mut() }) else {
            return ret_err(entry, FlockError::InvalidArgs("NULL view".into()));
        };
        if text.is_null() {
            return ret_err(entry, FlockError::InvalidArgs("NULL string".into()));
        }
        // SAFETY: non-NULL, readable for `len` bytes by the contract.
        let bytes = unsafe { std::slice::from_raw_parts(text as *const u8, len) };
        // SAFETY: a valid view whose memory came from malloc (the contract).
        ret(entry, view_file::from_bytes(bytes).map_err(FlockError::from).and_then(|g| unsafe { fill_c(&g, v) }))
    })
}

/// Loads a group file into `view` (cleared first).
///
/// # Safety
/// `filename` must be NULL or NUL-terminated; `view` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn flock_group_view_from_file(filename: *const c_char, view: *mut flock_group_view_t) -> flock_return_t {
    guard("flock_group_view_from_file", code::OTHER, || {
        let entry = "flock_group_view_from_file";
        // SAFETY: by the contract NULL or a valid view.
        let (Some(v), false) = (unsafe { view.as_mut() }, filename.is_null()) else {
            return ret_err(entry, FlockError::InvalidArgs("NULL view or file name".into()));
        };
        // SAFETY: non-NULL (checked above), NUL-terminated by the contract.
        let path = std::path::PathBuf::from(unsafe { CStr::from_ptr(filename) }.to_string_lossy().into_owned());
        // SAFETY: a valid view whose memory came from malloc (the contract).
        ret(entry, view_file::from_file(&path).map_err(FlockError::from).and_then(|g| unsafe { fill_c(&g, v) }))
    })
}
