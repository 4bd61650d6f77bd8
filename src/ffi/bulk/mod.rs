//! Margo's bulk API (`hg_bulk_t`, `margo_bulk_create`, `margo_bulk_transfer`
//! and its non-blocking and parallel forms, `margo_bulk_access`,
//! `margo_bulk_serialize`, `hg_proc_hg_bulk_t`) over RPCs: our transport has
//! no RMA.
//!
//! A handle made by `margo_bulk_create` registers its segments in its
//! instance's [`BulkTable`] under a pseudo-random 64-bit id (unique
//! in the table; not a secret, so the checks below are what keep memory safe). Its serialized form
//! (what `hg_proc_hg_bulk_t` writes into an RPC's input or output, and
//! `margo_bulk_serialize` into a buffer; layout at [`encode_bulk`]) is the
//! owner engine's address, the id, the total size, the access flags and the
//! segment count; decoding it gives a handle that only names that memory.
//! A transfer ([`Transfer`]) then asks the owner's engine, through an
//! internal RPC ([`BULK_RPC`]), for (id, offset, size) and copies the
//! answer into the local handle's segments (`HG_BULK_PULL`), or sends the
//! local bytes to be written there (`HG_BULK_PUSH`), in pieces of [`PIECE`]
//! bytes (a parallel transfer's chunk size, up to [`CHUNK`]), several in
//! flight at once. The owner checks every request against its table: the id must be
//! registered (a freed handle's id is gone: `HG_NOENTRY`), the handle's
//! flags must allow the operation (`HG_PERMISSION`), and the range must lie
//! within the handle (`HG_INVALID_ARG`); nothing outside the registered
//! segments is ever read or written.
//!
//! `margo_bulk_itransfer` returns a `margo_request` (shared with
//! `margo_iforward`, see `rpc.rs`) holding the transfer's pieces in flight.
//! The transfer moves on by itself (each answer queues a job on the
//! handler pool that settles it and sends the next piece); `margo_wait`
//! blocks on the oldest piece's call in the engine's own wait (in the
//! kernel) until every piece is settled; `margo_test` settles the pieces
//! already answered without blocking.
//!
//! The library's own users of handles (Yokan's `_bulk` operations, which
//! read their payload out of a caller's handle on the client) copy through
//! [`copy::BulkAccess`]: directly for a handle made here, with the same
//! [`Transfer`]s otherwise.
//!
//! Memory contract (as upstream's): the segments given to
//! `margo_bulk_create` must stay valid, and not be freed, until the
//! handle's last `margo_bulk_free`. `margo_bulk_free` removes the id and
//! waits for a copy in progress on the handle to finish, so once it
//! returns nothing touches the memory any more (a transfer still under way
//! on it then fails with `HG_NOENTRY`).
#![allow(non_camel_case_types)]

pub(crate) mod copy;
mod region;
mod serialize;
#[cfg(test)]
mod tests;
mod transfer;

use super::handles::{self, margo_instance_id, Owned};
use super::hg::{hg_bulk, hg_bulk_op_t, hg_bulk_t, hg_return, hg_return_t, hg_size_t};
use super::margo::fail;
use super::panic::guard;
use parking_lot::Mutex;
pub use region::BulkTable;
use region::Region;
pub use serialize::*;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
pub use transfer::*;

// The constants are crate-visible only, so that cbindgen keeps them out of
// margo.h (a `#define PUSH 0` there would clash with users' own names, and
// build.rs refuses it); C has Mercury's `HG_BULK_*` names for the ones it
// needs.

/// `HG_BULK_READ_ONLY`: the owner's memory may be read (pulled from).
pub(crate) const READ_ONLY: u8 = 1;
/// `HG_BULK_WRITE_ONLY`: the owner's memory may be written (pushed into).
pub(crate) const WRITE_ONLY: u8 = 2;
/// `HG_BULK_READWRITE`.
pub(crate) const READWRITE: u8 = READ_ONLY | WRITE_ONLY;
/// `HG_BULK_PUSH`: local bytes to the origin's memory.
pub(crate) const PUSH: hg_bulk_op_t = 0;
/// `HG_BULK_PULL`: the origin's bytes into local memory.
pub(crate) const PULL: hg_bulk_op_t = 1;

/// The internal RPC the owner of a handle serves transfers with.
pub(crate) const BULK_RPC: &str = "__mochi_bulk__";
/// The largest piece one transfer RPC carries (a bigger transfer is split).
pub(crate) const CHUNK: usize = 4 << 20;
/// The piece `margo_bulk_transfer` and `margo_bulk_itransfer` use: between
/// two processes over na+sm, 16 pieces of 1 MiB in flight moved 64 MiB
/// about twice as fast as 4 of 4 MiB (and as fast over ofi+tcp).
pub(crate) const PIECE: usize = 1 << 20;
/// The most bytes one transfer has in flight (pieces asked for and not yet
/// settled): what bounds the memory it holds beyond the user's own.
pub(crate) const IN_FLIGHT: usize = 16 << 20;
/// The most pieces one transfer has in flight (small pieces of a parallel
/// transfer: each is a call the engine tracks).
pub(crate) const MAX_PIECES: usize = 64;
/// The largest piece an owner serves in one request (ours send at most
/// [`CHUNK`]; a request for more is refused rather than allocated).
pub(crate) const MAX_SERVED: u64 = 16 << 20;

/// What an `hg_bulk_t` owns.
pub struct Bulk {
    refs: AtomicUsize,
    /// The owner engine's address.
    owner: String,
    id: u64,
    size: u64,
    flags: u8,
    segment_count: u32,
    /// For a handle made here: its memory, and the table it is registered in.
    local: Option<(Arc<Region>, &'static BulkTable)>,
}

impl Owned for hg_bulk {
    type Rust = Bulk;
}

impl Drop for Bulk {
    fn drop(&mut self) {
        if let Some((_, table)) = &self.local {
            table.remove(self.id);
        }
    }
}

/// # Safety
/// `h` must be NULL or a live bulk handle.
unsafe fn bulk_ref<'a>(h: hg_bulk_t) -> Option<&'a Bulk> {
    // SAFETY: by the contract NULL or a live handle from boxed_into_c.
    unsafe { handles::boxed_ref::<hg_bulk>(h) }
}

/// Drops one reference (the last frees the handle and unregisters its memory).
///
/// # Safety
/// `h` must be NULL or a live bulk handle.
unsafe fn release(h: hg_bulk_t) -> hg_return_t {
    // SAFETY: by the contract NULL or a live handle.
    let Some(b) = (unsafe { bulk_ref(h) }) else { return hg_return::HG_SUCCESS };
    match b.refs.fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| r.checked_sub(1)) {
        Ok(1) => {
            // SAFETY: that was the last reference: nobody uses the handle
            // any more (the contract), so it is ours to free.
            drop(unsafe { handles::boxed_free::<hg_bulk>(h) });
            hg_return::HG_SUCCESS
        }
        Ok(_) => hg_return::HG_SUCCESS,
        Err(_) => hg_return::HG_INVALID_ARG,
    }
}

/// Frees a handle a failed decode made (see `Proc::release_strings`).
///
/// # Safety
/// `h` must be a handle `hg_proc_hg_bulk_t` decoded and nobody else holds.
pub(super) unsafe fn free_decoded(h: hg_bulk_t) {
    // SAFETY: by the contract.
    unsafe { release(h) };
}

/// Makes a handle for `count` segments at `buf_ptrs` of `buf_sizes` bytes
/// (`buf_ptrs` NULL: this library allocates zeroed memory, freed with the
/// handle), with access `flags` (`HG_BULK_READ_ONLY`, `HG_BULK_WRITE_ONLY`
/// or `HG_BULK_READWRITE`) for the transfers others make.
///
/// The memory must stay valid until the handle's last `margo_bulk_free`.
///
/// # Safety
/// `buf_ptrs` NULL or an array of `count` pointers, each valid for reads
/// and writes of its size until the handle is freed; `buf_sizes` NULL or
/// an array of `count` sizes; `handle` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_create(
    mid: margo_instance_id,
    count: u32,
    buf_ptrs: *mut *mut c_void,
    buf_sizes: *const hg_size_t,
    flags: u8,
    handle: *mut hg_bulk_t,
) -> hg_return_t {
    const E: &str = "margo_bulk_create";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let (engine, table) = match (handles::engine(mid), handles::bulk_table(mid)) {
            (Ok(e), Ok(t)) => (e, t),
            (Err(e), _) | (_, Err(e)) => {
                fail(E, e);
                return hg_return::HG_INVALID_ARG;
            }
        };
        if handle.is_null() || buf_sizes.is_null() || count == 0 {
            fail(E, "NULL sizes or output pointer, or no segment");
            return hg_return::HG_INVALID_ARG;
        }
        if !(1..=READWRITE).contains(&flags) {
            fail(E, format!("flags {flags:#x} are none of HG_BULK_READ_ONLY, HG_BULK_WRITE_ONLY, HG_BULK_READWRITE"));
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: non-NULL, and by the contract an array of `count` sizes.
        let sizes = unsafe { std::slice::from_raw_parts(buf_sizes, count as usize) };
        let mut total = 0u64;
        for s in sizes {
            match total.checked_add(*s) {
                Some(t) if usize::try_from(*s).is_ok() && usize::try_from(t).is_ok() => total = t,
                _ => {
                    fail(E, "the segments' sizes add up past the address space");
                    return hg_return::HG_INVALID_ARG;
                }
            }
        }
        let mut segments = Vec::with_capacity(sizes.len());
        let mut owned = Vec::new();
        if buf_ptrs.is_null() {
            for s in sizes {
                let len = *s as usize;
                if len == 0 {
                    segments.push((0, 0));
                    continue;
                }
                // SAFETY: plain allocation; freed by Region::drop.
                let p = unsafe { libc::calloc(1, len) } as usize;
                if p == 0 {
                    for q in owned {
                        // SAFETY: allocated just above, not handed out.
                        unsafe { libc::free(q as *mut c_void) };
                    }
                    fail(E, format!("out of memory for a segment of {len} bytes"));
                    return hg_return::HG_NOMEM;
                }
                owned.push(p);
                segments.push((p, len));
            }
        } else {
            // SAFETY: non-NULL, and by the contract an array of `count` pointers.
            let ptrs = unsafe { std::slice::from_raw_parts(buf_ptrs, count as usize) };
            for (p, s) in ptrs.iter().zip(sizes) {
                if p.is_null() && *s != 0 {
                    fail(E, "a segment of non-zero size has a NULL pointer");
                    return hg_return::HG_INVALID_ARG;
                }
                segments.push((*p as usize, *s as usize));
            }
        }
        if let Err(e) = table.serve_on(&engine) {
            fail(E, format!("cannot serve transfers: {e}"));
            return (&e).into();
        }
        let region = Arc::new(Region { segments, size: total, flags, live: Mutex::new(true), owned });
        let id = table.insert(region.clone());
        let bulk = Bulk {
            refs: AtomicUsize::new(1),
            owner: engine.self_address().as_str().to_string(),
            id,
            size: total,
            flags,
            segment_count: count,
            local: Some((region, table)),
        };
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *handle = handles::boxed_into_c::<hg_bulk>(bulk) };
        hg_return::HG_SUCCESS
    })
}

/// `margo_bulk_create` with Mercury's attributes: host memory
/// (`HG_MEM_TYPE_HOST`, or `attrs` NULL) is what `margo_bulk_create` takes;
/// device memory (CUDA, ROCm, Level Zero) is not provided: `HG_INVALID_ARG`,
/// with a log line naming it.
///
/// # Safety
/// As for `margo_bulk_create`; `attrs` NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_create_attr(
    mid: margo_instance_id,
    count: u32,
    buf_ptrs: *mut *mut c_void,
    buf_sizes: *const hg_size_t,
    flags: u8,
    attrs: *const crate::ffi::hg::hg_bulk_attr,
    handle: *mut hg_bulk_t,
) -> hg_return_t {
    const E: &str = "margo_bulk_create_attr";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        // SAFETY: NULL or readable (the contract).
        let mem_type = unsafe { attrs.as_ref() }.map_or(0, |a| a.mem_type);
        if mem_type != 0 {
            let what = match mem_type {
                1 => "CUDA device memory",
                2 => "ROCm device memory",
                3 => "Level Zero device memory",
                _ => "an unknown memory type",
            };
            fail(E, format!("{what} (hg_mem_type_t {mem_type}) is not provided: only host memory (HG_MEM_TYPE_HOST)"));
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: the same contract.
        unsafe { margo_bulk_create(mid, count, buf_ptrs, buf_sizes, flags, handle) }
    })
}

/// Drops one reference to a bulk handle; the last one frees it: its id is
/// unregistered (later transfers naming it fail with `HG_NOENTRY`) and,
/// once a copy in progress on it has finished, its memory is no longer
/// touched. NULL is a no-op.
///
/// # Safety
/// `handle` must be NULL or a live bulk handle; a freed handle must not be used.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_free(handle: hg_bulk_t) -> hg_return_t {
    guard("margo_bulk_free", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: the caller's contract.
        let r = unsafe { release(handle) };
        if r != hg_return::HG_SUCCESS {
            fail("margo_bulk_free", "the bulk handle has no reference left");
        }
        r
    })
}

/// Mercury's name for `margo_bulk_free`.
///
/// # Safety
/// As for `margo_bulk_free`.
#[no_mangle]
pub unsafe extern "C" fn HG_Bulk_free(handle: hg_bulk_t) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_bulk_free(handle) }
}

/// Adds a reference to a bulk handle (each needs its own `margo_bulk_free`).
///
/// # Safety
/// `handle` must be NULL or a live bulk handle.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_ref_incr(handle: hg_bulk_t) -> hg_return_t {
    guard("margo_bulk_ref_incr", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live handle.
        let Some(b) = (unsafe { bulk_ref(handle) }) else {
            fail("margo_bulk_ref_incr", "NULL bulk handle");
            return hg_return::HG_INVALID_ARG;
        };
        b.refs.fetch_add(1, Ordering::AcqRel);
        hg_return::HG_SUCCESS
    })
}

/// Mercury's name for `margo_bulk_ref_incr`.
///
/// # Safety
/// As for `margo_bulk_ref_incr`.
#[no_mangle]
pub unsafe extern "C" fn HG_Bulk_ref_incr(handle: hg_bulk_t) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_bulk_ref_incr(handle) }
}

/// The total size of the memory a bulk handle names (0 for NULL).
///
/// # Safety
/// `handle` must be NULL or a live bulk handle.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_get_size(handle: hg_bulk_t) -> hg_size_t {
    guard("margo_bulk_get_size", 0, || {
        // SAFETY: by the contract NULL or a live handle.
        unsafe { bulk_ref(handle) }.map_or(0, |b| b.size)
    })
}

/// Mercury's name for `margo_bulk_get_size`.
///
/// # Safety
/// As for `margo_bulk_get_size`.
#[no_mangle]
pub unsafe extern "C" fn HG_Bulk_get_size(handle: hg_bulk_t) -> hg_size_t {
    // SAFETY: the same contract.
    unsafe { margo_bulk_get_size(handle) }
}

/// The number of segments of a bulk handle (as its owner made it; 0 for NULL).
///
/// # Safety
/// `handle` must be NULL or a live bulk handle.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_get_segment_count(handle: hg_bulk_t) -> u32 {
    guard("margo_bulk_get_segment_count", 0, || {
        // SAFETY: by the contract NULL or a live handle.
        unsafe { bulk_ref(handle) }.map_or(0, |b| b.segment_count)
    })
}

/// Mercury's name for `margo_bulk_get_segment_count`.
///
/// # Safety
/// As for `margo_bulk_get_segment_count`.
#[no_mangle]
pub unsafe extern "C" fn HG_Bulk_get_segment_count(handle: hg_bulk_t) -> u32 {
    // SAFETY: the same contract.
    unsafe { margo_bulk_get_segment_count(handle) }
}

/// The segments of a handle made here that cover `[offset, offset + size)`:
/// up to `max_count` (pointer, length) pairs, in order, written into
/// `buf_ptrs` and `buf_sizes` (either may be NULL), and their number into
/// `*actual_count` (may be NULL). Segments of size 0 are skipped; with more
/// segments than `max_count` the first `max_count` are given. The pointers
/// are the ones given to `margo_bulk_create`, or the memory the library
/// allocated for NULL ones; they stay valid until the handle's last
/// `margo_bulk_free`. `flags` is accepted and not checked (as in Mercury:
/// the memory is the caller's own).
///
/// Errors (`HG_INVALID_ARG`, one log line): a NULL handle, a handle that
/// names another process's memory (received in an RPC or deserialized), a
/// range past the handle's size.
///
/// # Safety
/// `handle` NULL or a live bulk handle; `buf_ptrs` and `buf_sizes` NULL or
/// writable for `max_count` entries; `actual_count` NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_access(
    handle: hg_bulk_t,
    offset: hg_size_t,
    size: hg_size_t,
    flags: u8,
    max_count: u32,
    buf_ptrs: *mut *mut c_void,
    buf_sizes: *mut hg_size_t,
    actual_count: *mut u32,
) -> hg_return_t {
    const E: &str = "margo_bulk_access";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let _ = flags;
        // SAFETY: by the contract NULL or a live handle.
        let Some(b) = (unsafe { bulk_ref(handle) }) else {
            fail(E, "NULL bulk handle");
            return hg_return::HG_INVALID_ARG;
        };
        let Some((region, _)) = &b.local else {
            fail(E, format!("the handle names memory of {} (received or deserialized), not of this process", b.owner));
            return hg_return::HG_INVALID_ARG;
        };
        if region.check_range(offset, size).is_err() {
            fail(E, format!("range {offset}+{size} past the handle's {} bytes", region.size));
            return hg_return::HG_INVALID_ARG;
        }
        let mut count = 0u32;
        for (addr, len) in region.pieces(offset, size).take(max_count as usize) {
            let i = count as usize;
            if !buf_ptrs.is_null() {
                // SAFETY: i < max_count, and by the contract buf_ptrs is
                // writable for max_count entries.
                unsafe { buf_ptrs.add(i).write_unaligned(addr as *mut c_void) };
            }
            if !buf_sizes.is_null() {
                // SAFETY: as above, for buf_sizes.
                unsafe { buf_sizes.add(i).write_unaligned(len as hg_size_t) };
            }
            count += 1;
        }
        if !actual_count.is_null() {
            // SAFETY: non-NULL, writable by the contract.
            unsafe { actual_count.write_unaligned(count) };
        }
        hg_return::HG_SUCCESS
    })
}

/// Mercury's name for `margo_bulk_access`.
///
/// # Safety
/// As for `margo_bulk_access`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn HG_Bulk_access(
    handle: hg_bulk_t,
    offset: hg_size_t,
    size: hg_size_t,
    flags: u8,
    max_count: u32,
    buf_ptrs: *mut *mut c_void,
    buf_sizes: *mut hg_size_t,
    actual_count: *mut u32,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_bulk_access(handle, offset, size, flags, max_count, buf_ptrs, buf_sizes, actual_count) }
}
