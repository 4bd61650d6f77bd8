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
//! `margo_iforward`, see `rpc.rs`) holding the transfer's pieces in flight:
//! `margo_wait` blocks on each piece's call in the engine's own wait (in
//! the kernel), settling the pieces in order and starting the next ones;
//! `margo_test` settles the pieces already answered without blocking.
//!
//! Memory contract (as upstream's): the segments given to
//! `margo_bulk_create` must stay valid, and not be freed, until the
//! handle's last `margo_bulk_free`. `margo_bulk_free` removes the id and
//! waits for a copy in progress on the handle to finish, so once it
//! returns nothing touches the memory any more (a transfer still under way
//! on it then fails with `HG_NOENTRY`).
#![allow(non_camel_case_types)]

use super::handles::{self, margo_instance_id, Owned};
use super::hg::{hg_addr_t, hg_bulk, hg_bulk_op_t, hg_bulk_t, hg_class_t, hg_proc_t, hg_return, hg_return_t, hg_size_t};
use super::hg_proc::{Op, Proc, ProcError};
use super::margo::fail;
use super::panic::guard;
use super::rpc::{margo_request, margo_request_struct, timeout_of, Operation};
use crate::rpc::{Address, Engine, PendingCall, RpcError, DEFAULT_PROVIDER_ID};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::ffi::{c_ulong, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
/// A request: op (1 byte), id, offset, size (8 bytes each, little-endian),
/// then for a push the bytes.
const REQUEST_HEADER: usize = 1 + 8 + 8 + 8;

/// Registered memory: the segments of one handle made by `margo_bulk_create`.
pub struct Region {
    /// (address, length) of each segment, in order.
    segments: Vec<(usize, usize)>,
    size: u64,
    flags: u8,
    /// False once the handle is freed; held while bytes are copied, so
    /// that freeing waits for a copy in progress.
    live: Mutex<bool>,
    /// Segments this library allocated (`margo_bulk_create` with NULL
    /// pointers), freed with the region.
    owned: Vec<usize>,
}

impl Drop for Region {
    fn drop(&mut self) {
        for p in &self.owned {
            // SAFETY: allocated by libc::calloc in margo_bulk_create, owned by
            // this region alone, and nothing copies any more (the region is
            // being dropped: no Arc to it is left).
            unsafe { libc::free(*p as *mut c_void) };
        }
    }
}

impl Region {
    /// Checks that `[offset, offset + len)` lies within the region.
    fn check_range(&self, offset: u64, len: u64) -> Result<(), hg_return_t> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(hg_return::HG_INVALID_ARG),
        }
    }

    /// The (address, length) pieces of the segments that `[offset, offset +
    /// len)` covers, in order, none empty; the range must lie within the
    /// region ([`Region::check_range`]).
    fn pieces(&self, offset: u64, len: u64) -> impl Iterator<Item = (usize, usize)> + '_ {
        let (mut skip, mut left) = (offset, len);
        self.segments.iter().filter_map(move |&(addr, seg_len)| {
            let seg_len = seg_len as u64;
            if skip >= seg_len {
                skip -= seg_len;
                return None;
            }
            let n = (seg_len - skip).min(left);
            if n == 0 {
                return None;
            }
            let piece = (addr + skip as usize, n as usize);
            skip = 0;
            left -= n;
            Some(piece)
        })
    }

    /// Calls `f(segment address, range of the piece within the copy)` for
    /// each piece of `[offset, offset + len)`, under the liveness lock.
    fn with_pieces(&self, offset: u64, len: usize, mut f: impl FnMut(usize, std::ops::Range<usize>)) -> Result<(), hg_return_t> {
        self.check_range(offset, len as u64)?;
        let live = self.live.lock();
        if !*live {
            return Err(hg_return::HG_NOENTRY);
        }
        let mut done = 0usize;
        for (addr, n) in self.pieces(offset, len as u64) {
            f(addr, done..done + n);
            done += n;
        }
        drop(live);
        Ok(())
    }

    /// Copies `out.len()` bytes from `offset` into `out`.
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), hg_return_t> {
        let len = out.len();
        self.with_pieces(offset, len, |addr, range| {
            // SAFETY: the piece lies within one registered segment (the walk
            // stays within the region's size, checked above), which the
            // user keeps valid until margo_bulk_free; the region is live
            // (checked under the lock we hold, which margo_bulk_free takes
            // before the memory may go). `out` is our own buffer.
            unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, out[range.clone()].as_mut_ptr(), range.len()) };
        })
    }

    /// Copies `data` into the region at `offset`.
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), hg_return_t> {
        self.with_pieces(offset, data.len(), |addr, range| {
            // SAFETY: as in `read`: within a live registered segment, which
            // the user gave for writing; `data` is our own buffer.
            unsafe { std::ptr::copy_nonoverlapping(data[range.clone()].as_ptr(), addr as *mut u8, range.len()) };
        })
    }
}

/// The handles of one instance that others may transfer from and to.
pub struct BulkTable {
    regions: Mutex<HashMap<u64, Arc<Region>>>,
    ids: Mutex<crate::rng::Rng>,
    /// Whether [`BULK_RPC`] is registered with the engine.
    served: Mutex<bool>,
}

impl Default for BulkTable {
    fn default() -> BulkTable {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let seed = nanos ^ ((std::process::id() as u64) << 32);
        BulkTable { regions: Mutex::default(), ids: Mutex::new(crate::rng::Rng::new(seed)), served: Mutex::new(false) }
    }
}

impl BulkTable {
    fn insert(&self, region: Arc<Region>) -> u64 {
        let mut regions = self.regions.lock();
        loop {
            let id = self.ids.lock().next_u64();
            if id != 0 && !regions.contains_key(&id) {
                regions.insert(id, region);
                return id;
            }
        }
    }

    fn get(&self, id: u64) -> Option<Arc<Region>> {
        self.regions.lock().get(&id).cloned()
    }

    /// Removes a handle's id, then waits for a copy in progress on it.
    fn remove(&self, id: u64) {
        let region = self.regions.lock().remove(&id);
        if let Some(r) = region {
            *r.live.lock() = false;
        }
    }

    /// Registers [`BULK_RPC`] with `engine` (once).
    fn serve_on(&'static self, engine: &Engine) -> Result<(), RpcError> {
        let mut served = self.served.lock();
        if *served {
            return Ok(());
        }
        let handler = Arc::new(move |req: crate::rpc::Request| Ok(self.serve(&req.payload)));
        match engine.register(BULK_RPC, DEFAULT_PROVIDER_ID, None, handler) {
            Ok(()) | Err(RpcError::AlreadyRegistered { .. }) => {
                *served = true;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Answers one transfer request: a status byte (an `hg_return_t`),
    /// then for a pull the bytes.
    pub fn serve(&self, payload: &[u8]) -> Vec<u8> {
        match self.serve_inner(payload) {
            Ok(mut answer) => {
                answer.insert(0, hg_return::HG_SUCCESS as u8);
                answer
            }
            Err(code) => vec![code as u8],
        }
    }

    fn serve_inner(&self, payload: &[u8]) -> Result<Vec<u8>, hg_return_t> {
        if payload.len() < REQUEST_HEADER {
            return Err(hg_return::HG_PROTOCOL_ERROR);
        }
        let word = |at: usize| {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&payload[at..at + 8]);
            u64::from_le_bytes(raw)
        };
        let (op, id, offset, len) = (payload[0] as hg_bulk_op_t, word(1), word(9), word(17));
        let data = &payload[REQUEST_HEADER..];
        let region = self.get(id).ok_or(hg_return::HG_NOENTRY)?;
        match op {
            PULL => {
                if region.flags & READ_ONLY == 0 {
                    return Err(hg_return::HG_PERMISSION);
                }
                region.check_range(offset, len)?;
                if !data.is_empty() || len > MAX_SERVED {
                    return Err(hg_return::HG_PROTOCOL_ERROR);
                }
                let mut out = vec![0u8; len as usize];
                region.read(offset, &mut out)?;
                Ok(out)
            }
            PUSH => {
                if region.flags & WRITE_ONLY == 0 {
                    return Err(hg_return::HG_PERMISSION);
                }
                if data.len() as u64 != len {
                    return Err(hg_return::HG_PROTOCOL_ERROR);
                }
                region.write(offset, data)?;
                Ok(Vec::new())
            }
            _ => Err(hg_return::HG_PROTOCOL_ERROR),
        }
    }
}

/// A transfer request's bytes.
pub fn request(op: hg_bulk_op_t, id: u64, offset: u64, len: u64, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(REQUEST_HEADER + data.len());
    out.push(op as u8);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The code an owner answered with.
fn answer_code(byte: u8) -> hg_return_t {
    use hg_return::*;
    [HG_SUCCESS, HG_NOENTRY, HG_PERMISSION, HG_INVALID_ARG, HG_PROTOCOL_ERROR, HG_MSGSIZE, HG_NOMEM]
        .into_iter()
        .find(|c| *c as u8 == byte)
        .unwrap_or(HG_OTHER_ERROR)
}

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

// ---------------------------------------------------------------------------
// Transfers
// ---------------------------------------------------------------------------

/// What a transfer moves, checked: between the origin handle's memory (at
/// `target`) and the local handle's region.
struct Plan {
    engine: Engine,
    table: &'static BulkTable,
    target: Address,
    /// The origin is this engine: each piece is served from `table` directly.
    to_self: bool,
    op: hg_bulk_op_t,
    origin_id: u64,
    origin_offset: u64,
    local: Arc<Region>,
    local_offset: u64,
    size: usize,
}

/// Checks a transfer's arguments and finds its target; what is wrong is
/// logged under `entry`.
///
/// # Safety
/// `origin_addr` NULL or a live address; `origin_handle` and `local_handle`
/// NULL or live bulk handles.
#[allow(clippy::too_many_arguments)]
unsafe fn plan(
    entry: &str,
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
) -> Result<Plan, hg_return_t> {
    let (engine, table) = match (handles::engine(mid), handles::bulk_table(mid)) {
        (Ok(e), Ok(t)) => (e, t),
        (Err(e), _) | (_, Err(e)) => {
            fail(entry, e);
            return Err(hg_return::HG_INVALID_ARG);
        }
    };
    // SAFETY: by the contract NULL or live handles.
    let (Some(origin), Some(local)) = (unsafe { bulk_ref(origin_handle) }, unsafe { bulk_ref(local_handle) }) else {
        fail(entry, "NULL origin or local bulk handle");
        return Err(hg_return::HG_INVALID_ARG);
    };
    let Some((local_region, _)) = &local.local else {
        fail(entry, "the local handle was not made here by margo_bulk_create");
        return Err(hg_return::HG_INVALID_ARG);
    };
    let (need_origin, need_local) = match op {
        PULL => (READ_ONLY, WRITE_ONLY),
        PUSH => (WRITE_ONLY, READ_ONLY),
        _ => {
            fail(entry, format!("unknown bulk operation {op}"));
            return Err(hg_return::HG_INVALID_ARG);
        }
    };
    let (oo, lo, len) = (origin_offset as u64, local_offset as u64, size as u64);
    if oo.checked_add(len).is_none_or(|end| end > origin.size) || lo.checked_add(len).is_none_or(|end| end > local.size) {
        fail(entry, format!("range past a handle: origin {oo}+{len} of {}, local {lo}+{len} of {}", origin.size, local.size));
        return Err(hg_return::HG_INVALID_ARG);
    }
    if origin.flags & need_origin == 0 || local.flags & need_local == 0 {
        fail(entry, format!("flags forbid this operation (origin {:#x}, local {:#x})", origin.flags, local.flags));
        return Err(hg_return::HG_PERMISSION);
    }
    // SAFETY: by the contract NULL or a live address.
    let target = match unsafe { handles::addr_ref(origin_addr) } {
        Some(a) => a.clone(),
        None => match engine.lookup(&origin.owner) {
            Ok(a) => a,
            Err(e) => {
                fail(entry, format!("the handle's address \"{}\": {e}", origin.owner));
                return Err((&e).into());
            }
        },
    };
    let to_self = target == engine.self_address();
    Ok(Plan {
        engine,
        table,
        target,
        to_self,
        op,
        origin_id: origin.id,
        origin_offset: oo,
        local: local_region.clone(),
        local_offset: lo,
        size,
    })
}

/// Why a transfer failed: its code and a sentence for the log.
type Failure = (hg_return_t, String);

/// A transfer under way: pieces of at most `piece` bytes, at most `window`
/// of them in flight (sent, not yet settled), settled in order. Waiting
/// for it is waiting for each piece's call ([`PendingCall::wait`], which
/// blocks in the engine's wait); nothing else drives it, so pieces past the
/// first window start as earlier ones are settled by [`Transfer::wait`] or
/// [`Transfer::test`].
struct Transfer {
    plan: Plan,
    piece: usize,
    window: usize,
    deadline: Instant,
    /// Bytes of the transfer sent for so far (from its start).
    issued: usize,
    /// The calls in flight, oldest first, with the offset (from the
    /// transfer's start) and length of their piece.
    in_flight: VecDeque<(PendingCall, usize, usize)>,
    /// The first failure; no piece starts after it.
    failed: Option<Failure>,
}

impl Transfer {
    /// Starts the first window of pieces (all of them for a transfer to
    /// this engine, which is a copy).
    fn start(plan: Plan, piece: usize, deadline: Instant) -> Transfer {
        let piece = piece.clamp(1, CHUNK);
        let window = (IN_FLIGHT / piece).clamp(1, MAX_PIECES);
        let mut t = Transfer { plan, piece, window, deadline, issued: 0, in_flight: VecDeque::new(), failed: None };
        t.fill();
        t
    }

    fn done(&self) -> bool {
        self.failed.is_some() || (self.in_flight.is_empty() && self.issued == self.plan.size)
    }

    fn fail(&mut self, why: Failure) {
        self.failed.get_or_insert(why);
        // Abandoned: their answers (if any) are dropped.
        self.in_flight.clear();
    }

    /// Sends pieces until the window is full or everything is sent.
    fn fill(&mut self) {
        while self.failed.is_none() && self.in_flight.len() < self.window && self.issued < self.plan.size {
            let at = self.issued;
            let n = (self.plan.size - at).min(self.piece);
            self.issued += n;
            if let Err(why) = self.send(at, n) {
                self.fail(why);
            }
        }
    }

    fn send(&mut self, at: usize, n: usize) -> Result<(), Failure> {
        let p = &self.plan;
        let mut payload = request(p.op, p.origin_id, p.origin_offset + at as u64, n as u64, &[]);
        if p.op == PUSH {
            payload.resize(REQUEST_HEADER + n, 0);
            p.local.read(p.local_offset + at as u64, &mut payload[REQUEST_HEADER..]).map_err(local_failure)?;
        }
        if p.to_self {
            let answer = p.table.serve(&payload);
            return self.settle(at, n, Ok(answer));
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err((hg_return::HG_TIMEOUT, format!("timed out after {at} of {} bytes", p.size)));
        }
        let call = p
            .engine
            .call_async(&p.target, BULK_RPC, DEFAULT_PROVIDER_ID, payload, left)
            .map_err(|e| (hg_return_t::from(&e), format!("{} (after {at} of {} bytes)", e, p.size)))?;
        self.in_flight.push_back((call, at, n));
        Ok(())
    }

    /// Takes the owner's answer to the piece at `at` of `n` bytes: its
    /// status and, for a pull, the bytes, copied into the local segments.
    fn settle(&self, at: usize, n: usize, answer: Result<Vec<u8>, RpcError>) -> Result<(), Failure> {
        let p = &self.plan;
        let answer = answer.map_err(|e| (hg_return_t::from(&e), format!("{} (after {at} of {} bytes)", e, p.size)))?;
        let Some((&status, bytes)) = answer.split_first() else {
            return Err((hg_return::HG_PROTOCOL_ERROR, "empty answer from the origin".into()));
        };
        let code = answer_code(status);
        if code != hg_return::HG_SUCCESS {
            let at_origin = p.origin_offset + at as u64;
            return Err((
                code,
                format!("the origin {} refused {n} bytes at {at_origin} of handle {:#x}: {code:?}", p.target, p.origin_id),
            ));
        }
        if p.op == PULL {
            if bytes.len() != n {
                return Err((hg_return::HG_PROTOCOL_ERROR, format!("the origin sent {} bytes for {n}", bytes.len())));
            }
            p.local.write(p.local_offset + at as u64, bytes).map_err(local_failure)?;
        }
        Ok(())
    }

    /// Waits for every piece, in order, starting the next ones as it goes.
    fn wait(mut self) -> Result<(), Failure> {
        while let Some((call, at, n)) = self.in_flight.pop_front() {
            match self.settle(at, n, call.wait()) {
                Ok(()) => self.fill(),
                Err(why) => self.fail(why),
            }
        }
        match self.failed {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }

    /// Settles the pieces already answered (oldest first, without
    /// blocking) and starts the next ones; true once the transfer is over.
    fn test(&mut self) -> bool {
        while self.in_flight.front().is_some_and(|(call, _, _)| call.test()) {
            let Some((call, at, n)) = self.in_flight.pop_front() else { break };
            // Answered, or past its deadline: this wait does not wait for the owner.
            match self.settle(at, n, call.wait()) {
                Ok(()) => self.fill(),
                Err(why) => self.fail(why),
            }
        }
        self.done()
    }
}

fn local_failure(code: hg_return_t) -> Failure {
    (code, format!("the local handle: {code:?} (freed while in use?)"))
}

/// A non-blocking transfer, owned by its `margo_request` (see
/// `rpc::Operation`): `margo_wait` and `margo_test` come here.
pub struct PendingTransfer(Mutex<Transfer>);

impl PendingTransfer {
    /// Finishes the transfer (see [`Transfer::wait`]); failures are logged
    /// under `entry`.
    pub(super) fn wait(self, entry: &str) -> hg_return_t {
        match self.0.into_inner().wait() {
            Ok(()) => hg_return::HG_SUCCESS,
            Err((code, why)) => {
                fail(entry, format!("bulk transfer: {why}"));
                code
            }
        }
    }

    /// True if [`PendingTransfer::wait`] would return at once.
    pub(super) fn test(&self) -> bool {
        self.0.lock().test()
    }
}

/// Moves `size` bytes between `origin_handle` (memory of the process at
/// `origin_addr`, usually a handle received in an RPC's input) at
/// `origin_offset` and `local_handle` (made here by `margo_bulk_create`) at
/// `local_offset`: `HG_BULK_PULL` copies the origin's bytes here,
/// `HG_BULK_PUSH` copies local bytes there. `origin_addr` NULL: the address
/// the handle was made at. Done with RPCs to the origin's engine, in pieces
/// of 1 MiB (up to 16 in flight at once), waiting at most `timeout_ms` in
/// all (<= 0: no timeout).
///
/// Errors: `HG_INVALID_ARG` for NULL or wrong handles, an unknown op, or a
/// range past either handle's size; `HG_PERMISSION` if either handle's
/// flags forbid the operation; `HG_NOENTRY` if the origin no longer has the
/// handle (freed); `HG_TIMEOUT`; the RPC's error if the origin is unreachable.
///
/// # Safety
/// `origin_addr` NULL or a live address; `origin_handle` and `local_handle`
/// NULL or live bulk handles.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_transfer_timed(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
    timeout_ms: f64,
) -> hg_return_t {
    const E: &str = "margo_bulk_transfer";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        // SAFETY: the caller's contract.
        let plan = match unsafe { plan(E, mid, op, origin_addr, origin_handle, origin_offset, local_handle, local_offset, size) }
        {
            Ok(p) => p,
            Err(code) => return code,
        };
        let deadline = Instant::now() + timeout_of(timeout_ms);
        match Transfer::start(plan, PIECE, deadline).wait() {
            Ok(()) => hg_return::HG_SUCCESS,
            Err((code, why)) => {
                fail(E, why);
                code
            }
        }
    })
}

/// `margo_bulk_transfer_timed` with no timeout.
///
/// # Safety
/// As for `margo_bulk_transfer_timed`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_transfer(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe {
        margo_bulk_transfer_timed(mid, op, origin_addr, origin_handle, origin_offset, local_handle, local_offset, size, 0.0)
    }
}

/// Starts `margo_bulk_transfer_timed`'s transfer without waiting for it:
/// `*req` is set to a request that `margo_wait` finishes (and frees), with
/// the transfer's code, and that `margo_test` polls. Its arguments are
/// checked before this returns (the same errors, and then no request is
/// made); the first pieces (up to 16 MiB) are sent at once and move while
/// the caller does something else, the rest as `margo_wait` or
/// `margo_test` collect the earlier ones. Between two handles of this
/// engine the copy is done here. The local memory must stay untouched
/// until the request is waited for.
///
/// # Safety
/// As for `margo_bulk_transfer_timed`; `req` NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_itransfer_timed(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
    timeout_ms: f64,
    req: *mut margo_request,
) -> hg_return_t {
    const E: &str = "margo_bulk_itransfer";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        if req.is_null() {
            fail(E, "output request pointer is NULL");
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: the caller's contract.
        let plan = match unsafe { plan(E, mid, op, origin_addr, origin_handle, origin_offset, local_handle, local_offset, size) }
        {
            Ok(p) => p,
            Err(code) => return code,
        };
        let deadline = Instant::now() + timeout_of(timeout_ms);
        let transfer = PendingTransfer(Mutex::new(Transfer::start(plan, PIECE, deadline)));
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *req = handles::boxed_into_c::<margo_request_struct>(Operation::Transfer(transfer)) };
        hg_return::HG_SUCCESS
    })
}

/// `margo_bulk_itransfer_timed` with no timeout.
///
/// # Safety
/// As for `margo_bulk_itransfer_timed`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_itransfer(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
    req: *mut margo_request,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe {
        margo_bulk_itransfer_timed(mid, op, origin_addr, origin_handle, origin_offset, local_handle, local_offset, size, 0.0, req)
    }
}

/// `margo_bulk_transfer` in pieces of `chunk_size` bytes (at most 4 MiB
/// each: bigger chunks are split) run concurrently: up to 16 MiB, and at
/// most 64 pieces, in flight at once; returns once all are done, with the
/// first failure's code. Declared in `margo-bulk-util.h`, as upstream.
///
/// Errors: those of `margo_bulk_transfer`, and `HG_INVALID_ARG` for a
/// `chunk_size` of 0.
///
/// # Safety
/// As for `margo_bulk_transfer_timed`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_parallel_transfer(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
    chunk_size: usize,
) -> hg_return_t {
    const E: &str = "margo_bulk_parallel_transfer";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        if chunk_size == 0 {
            fail(E, "chunk_size is 0");
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: the caller's contract.
        let plan = match unsafe { plan(E, mid, op, origin_addr, origin_handle, origin_offset, local_handle, local_offset, size) }
        {
            Ok(p) => p,
            Err(code) => return code,
        };
        let deadline = Instant::now() + timeout_of(0.0);
        match Transfer::start(plan, chunk_size, deadline).wait() {
            Ok(()) => hg_return::HG_SUCCESS,
            Err((code, why)) => {
                fail(E, why);
                code
            }
        }
    })
}

// ---------------------------------------------------------------------------
// The serialized form: hg_proc_hg_bulk_t and margo_bulk_serialize
// ---------------------------------------------------------------------------

/// The longest serialized handle `margo_bulk_deserialize` reads (ours are
/// under 200 bytes: an address is short); bytes past it are not looked at,
/// nor copied.
const MAX_SERIALIZED: usize = 4096;

/// Writes a handle's serialized form (`None`: `HG_BULK_NULL`). The one
/// layout, for an RPC's payload (`hg_proc_hg_bulk_t`) and for a buffer
/// (`margo_bulk_serialize`), read back by [`decode_bulk`]; integers
/// little-endian, no padding:
///
/// | bytes | field                                                       |
/// |-------|-------------------------------------------------------------|
/// | 8     | marker, `u64`: 0 for `HG_BULK_NULL` (nothing follows), 1    |
/// | 8 + n | the owner engine's address: `u64` n + 1, then its n bytes (no NUL) |
/// | 8     | the id the owner registered the handle under, `u64`         |
/// | 8     | the handle's total size in bytes, `u64`                     |
/// | 1     | its access flags: 1 read-only, 2 write-only, 3 read-write   |
/// | 4     | its segment count (as made at the owner), `u32`             |
///
/// That is what a remote needs to transfer against the handle: where to
/// send the requests, which handle they name, and the bounds and flags to
/// check before sending; the owner checks them again against its table.
fn encode_bulk(p: &mut Proc, b: Option<&Bulk>) -> Result<(), ProcError> {
    let Some(b) = b else { return p.put_int(0u64) };
    p.put_int(1u64)?;
    p.put_string(Some(b.owner.as_bytes()))?;
    p.put_int(b.id)?;
    p.put_int(b.size)?;
    p.put_int(b.flags)?;
    p.put_int(b.segment_count)
}

/// Reads what [`encode_bulk`] wrote: a new handle naming that memory, or
/// NULL for `HG_BULK_NULL`. Every length is checked against the bytes left
/// before anything is allocated; the address must be UTF-8 and the flags 1
/// to 3.
fn decode_bulk(p: &mut Proc) -> Result<hg_bulk_t, hg_return_t> {
    let marker: u64 = p.take_int().map_err(|e| hg_return_t::from(&e))?;
    match marker {
        0 => return Ok(std::ptr::null_mut()),
        1 => {}
        _ => return Err(p.refuse(format!("bulk handle marker {marker}"))),
    }
    let owner = match p.take_string() {
        Ok(Some(s)) => std::str::from_utf8(s).map(str::to_string).map_err(|_| ()),
        Ok(None) => Err(()),
        Err(e) => return Err((&e).into()),
    };
    let Ok(owner) = owner else { return Err(p.refuse("a bulk handle's address is NULL or not UTF-8".into())) };
    let ints = (|| Ok::<_, ProcError>((p.take_int::<u64>()?, p.take_int::<u64>()?, p.take_int::<u8>()?, p.take_int::<u32>()?)))();
    let (id, size, flags, segment_count) = ints.map_err(|e| hg_return_t::from(&e))?;
    if !(1..=READWRITE).contains(&flags) {
        return Err(p.refuse(format!("bulk handle flags {flags:#x}")));
    }
    let bulk = Bulk { refs: AtomicUsize::new(1), owner, id, size, flags, segment_count, local: None };
    Ok(handles::boxed_into_c::<hg_bulk>(bulk))
}

/// A bulk handle field of a `MERCURY_GEN_PROC` struct: `data` points at the
/// `hg_bulk_t`. Encoding writes what names the memory (owner address, id,
/// size, flags, segment count; `HG_BULK_NULL` as a 0 marker); decoding
/// makes a new handle that names it (released by the free op, i.e. by
/// `margo_free_input` / `margo_free_output`, or at once if the decode fails).
///
/// # Safety
/// `proc` must be NULL or a running callback's proc; `data` NULL or valid
/// for reads and writes of one `hg_bulk_t`, which when encoding or freeing
/// is `HG_BULK_NULL` or a live handle.
#[no_mangle]
pub unsafe extern "C" fn hg_proc_hg_bulk_t(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
    guard("hg_proc_hg_bulk_t", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract.
        let Some(p) = (unsafe { handles::proc_mut(proc) }) else { return hg_return::HG_INVALID_ARG };
        let field = data as *mut hg_bulk_t;
        if field.is_null() {
            return hg_return::HG_INVALID_ARG;
        }
        match p.op() {
            Op::Encode => {
                // SAFETY: readable by the contract.
                let h = unsafe { field.read_unaligned() };
                // SAFETY: NULL or a live handle by the contract.
                match encode_bulk(p, unsafe { bulk_ref(h) }) {
                    Ok(()) => hg_return::HG_SUCCESS,
                    Err(e) => (&e).into(),
                }
            }
            Op::Decode => match decode_bulk(p) {
                Ok(h) => {
                    // SAFETY: writable by the contract.
                    unsafe { field.write_unaligned(h) };
                    if !h.is_null() {
                        p.record_bulk(field, h);
                    }
                    hg_return::HG_SUCCESS
                }
                Err(code) => code,
            },
            Op::Free => {
                // SAFETY: by the contract HG_BULK_NULL or a live handle (the
                // one the decode made), released here once.
                let r = unsafe { release(field.read_unaligned()) };
                // SAFETY: writable by the contract.
                unsafe { field.write_unaligned(std::ptr::null_mut()) };
                r
            }
        }
    })
}

/// A live handle's serialized form (see [`encode_bulk`]).
fn serialized(b: &Bulk) -> Result<Vec<u8>, ProcError> {
    let mut p = Proc::encoder();
    encode_bulk(&mut p, Some(b))?;
    Ok(p.into_payload())
}

/// The number of bytes `margo_bulk_serialize` writes for `handle` (0 for
/// `HG_BULK_NULL`, with a log line). `flags` (Mercury's `HG_BULK_SM`,
/// `HG_BULK_EAGER`) is accepted and changes nothing: there is one form.
///
/// # Safety
/// `handle` NULL or a live bulk handle.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_get_serialize_size(handle: hg_bulk_t, flags: c_ulong) -> hg_size_t {
    const E: &str = "margo_bulk_get_serialize_size";
    guard(E, 0, || {
        let _ = flags;
        // SAFETY: by the contract NULL or a live handle.
        let Some(b) = (unsafe { bulk_ref(handle) }) else {
            fail(E, "NULL bulk handle");
            return 0;
        };
        match serialized(b) {
            Ok(bytes) => bytes.len() as hg_size_t,
            Err(e) => {
                fail(E, e);
                0
            }
        }
    })
}

/// Mercury's name for `margo_bulk_get_serialize_size`.
///
/// # Safety
/// As for `margo_bulk_get_serialize_size`.
#[no_mangle]
pub unsafe extern "C" fn HG_Bulk_get_serialize_size(handle: hg_bulk_t, flags: c_ulong) -> hg_size_t {
    // SAFETY: the same contract.
    unsafe { margo_bulk_get_serialize_size(handle, flags) }
}

/// Writes `handle`'s serialized form into `buf`, for another process to
/// `margo_bulk_deserialize` and transfer against: the bytes
/// `hg_proc_hg_bulk_t` puts in an RPC (a marker, the owner's address, the
/// handle's id, size, flags and segment count; layout in README, "Wire
/// format"), `margo_bulk_get_serialize_size(handle, flags)` of them. `flags`
/// as for `margo_bulk_get_serialize_size`.
///
/// Errors: `HG_INVALID_ARG` for a NULL handle or buffer, `HG_OVERFLOW` if
/// `buf_size` is too small (nothing is written then).
///
/// # Safety
/// `buf` NULL or writable for `buf_size` bytes; `handle` NULL or a live
/// bulk handle.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_serialize(
    buf: *mut c_void,
    buf_size: hg_size_t,
    flags: c_ulong,
    handle: hg_bulk_t,
) -> hg_return_t {
    const E: &str = "margo_bulk_serialize";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let _ = flags;
        // SAFETY: by the contract NULL or a live handle.
        let (Some(b), false) = (unsafe { bulk_ref(handle) }, buf.is_null()) else {
            fail(E, "NULL bulk handle or buffer");
            return hg_return::HG_INVALID_ARG;
        };
        let bytes = match serialized(b) {
            Ok(bytes) => bytes,
            Err(e) => {
                fail(E, &e);
                return (&e).into();
            }
        };
        if bytes.len() as u64 > buf_size {
            fail(E, format!("the handle needs {} bytes, the buffer has {buf_size}", bytes.len()));
            return hg_return::HG_OVERFLOW;
        }
        // SAFETY: buf is non-NULL and, by the contract, writable for
        // buf_size >= bytes.len() bytes; `bytes` is our own buffer.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf as *mut u8, bytes.len()) };
        hg_return::HG_SUCCESS
    })
}

/// Mercury's name for `margo_bulk_serialize`.
///
/// # Safety
/// As for `margo_bulk_serialize`.
#[no_mangle]
pub unsafe extern "C" fn HG_Bulk_serialize(
    buf: *mut c_void,
    buf_size: hg_size_t,
    flags: c_ulong,
    handle: hg_bulk_t,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_bulk_serialize(buf, buf_size, flags, handle) }
}

/// Makes a handle from the serialized form at the start of `bytes` (bytes
/// after it are ignored), or says what is wrong.
fn handle_from_bytes(bytes: &[u8]) -> Result<hg_bulk_t, Failure> {
    let mut p = Proc::decoder(Arc::from(bytes));
    match decode_bulk(&mut p) {
        Ok(h) if h.is_null() => {
            Err((hg_return::HG_INVALID_ARG, "the bytes are the form of HG_BULK_NULL, not of a handle".into()))
        }
        Ok(h) => Ok(h),
        // The decode's own error is the first one finish reports (bytes
        // left over are not one here).
        Err(code) => Err(match p.finish() {
            Err(e @ ProcError::Truncated { .. }) => {
                (hg_return::HG_OVERFLOW, format!("{} bytes are not a whole serialized handle: {e}", bytes.len()))
            }
            Err(e) => (code, format!("not a serialized bulk handle: {e}")),
            Ok(()) => (code, format!("not a serialized bulk handle: {code:?}")),
        }),
    }
}

/// `margo_bulk_deserialize` once the instance is checked; what is wrong is
/// logged under `entry`. At most [`MAX_SERIALIZED`] bytes are read.
///
/// # Safety
/// `handle` NULL or writable; `buf` NULL or readable for `buf_size` bytes.
unsafe fn deserialize(entry: &str, handle: *mut hg_bulk_t, buf: *const c_void, buf_size: hg_size_t) -> hg_return_t {
    if handle.is_null() || (buf.is_null() && buf_size != 0) {
        fail(entry, "NULL output handle pointer or buffer");
        return hg_return::HG_INVALID_ARG;
    }
    // SAFETY: non-NULL, writable by the contract; cleared until a handle is made.
    unsafe { handle.write_unaligned(std::ptr::null_mut()) };
    let len = usize::try_from(buf_size).map_or(MAX_SERIALIZED, |n| n.min(MAX_SERIALIZED));
    let bytes: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: buf is non-NULL (len > 0 means buf_size > 0) and readable
        // for buf_size >= len bytes by the contract.
        unsafe { std::slice::from_raw_parts(buf as *const u8, len) }
    };
    match handle_from_bytes(bytes) {
        Ok(h) => {
            // SAFETY: non-NULL, writable by the contract.
            unsafe { handle.write_unaligned(h) };
            hg_return::HG_SUCCESS
        }
        Err((code, why)) => {
            fail(entry, why);
            code
        }
    }
}

/// Makes a handle from bytes `margo_bulk_serialize` wrote (in this process
/// or another): it names the same memory, and transfers against it go to
/// its owner, who checks them. Free it with `margo_bulk_free`. Bytes after
/// the serialized form are ignored.
///
/// Errors (`*handle` is then `HG_BULK_NULL`): `HG_INVALID_ARG` for a NULL
/// or unknown instance, a NULL `handle` or `buf`, or the form of
/// `HG_BULK_NULL`; `HG_OVERFLOW` for bytes that stop before the form ends;
/// `HG_PROTOCOL_ERROR` for bytes that are not a serialized handle.
///
/// # Safety
/// `handle` NULL or writable; `buf` NULL or readable for `buf_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_deserialize(
    mid: margo_instance_id,
    handle: *mut hg_bulk_t,
    buf: *const c_void,
    buf_size: hg_size_t,
) -> hg_return_t {
    const E: &str = "margo_bulk_deserialize";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        if let Err(e) = handles::bulk_table(mid) {
            fail(E, e);
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: the caller's contract.
        unsafe { deserialize(E, handle, buf, buf_size) }
    })
}

/// Mercury's form of `margo_bulk_deserialize`. `hg_class` is not used (a
/// handle here needs none; this library has no Mercury class, see
/// `margo_get_info`), so it may be NULL.
///
/// # Safety
/// As for `margo_bulk_deserialize`.
#[no_mangle]
pub unsafe extern "C" fn HG_Bulk_deserialize(
    hg_class: *mut hg_class_t,
    handle: *mut hg_bulk_t,
    buf: *const c_void,
    buf_size: hg_size_t,
) -> hg_return_t {
    const E: &str = "HG_Bulk_deserialize";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let _ = hg_class;
        // SAFETY: the caller's contract.
        unsafe { deserialize(E, handle, buf, buf_size) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_with(segments: Vec<Vec<u8>>, flags: u8) -> (BulkTable, u64, Vec<Vec<u8>>) {
        let mut segments = segments;
        let table = BulkTable::default();
        let segs = segments.iter_mut().map(|s| (s.as_mut_ptr() as usize, s.len())).collect::<Vec<_>>();
        let size = segs.iter().map(|s| s.1 as u64).sum();
        let id = table.insert(Arc::new(Region { segments: segs, size, flags, live: Mutex::new(true), owned: Vec::new() }));
        (table, id, segments)
    }

    fn pull(table: &BulkTable, id: u64, offset: u64, len: u64) -> Result<Vec<u8>, hg_return_t> {
        let answer = table.serve(&request(PULL, id, offset, len, &[]));
        match answer_code(answer[0]) {
            hg_return::HG_SUCCESS => Ok(answer[1..].to_vec()),
            code => Err(code),
        }
    }

    fn push(table: &BulkTable, id: u64, offset: u64, data: &[u8]) -> hg_return_t {
        answer_code(table.serve(&request(PUSH, id, offset, data.len() as u64, data))[0])
    }

    #[test]
    fn pulls_and_pushes_across_scattered_segments() {
        let (table, id, segs) = table_with(vec![vec![1, 2, 3], vec![], vec![4, 5], vec![6, 7, 8, 9]], READWRITE);
        assert_eq!(pull(&table, id, 0, 9), Ok(vec![1, 2, 3, 4, 5, 6, 7, 8, 9]));
        assert_eq!(pull(&table, id, 2, 4), Ok(vec![3, 4, 5, 6]));
        assert_eq!(pull(&table, id, 9, 0), Ok(vec![]));
        assert_eq!(push(&table, id, 1, &[20, 30, 40, 50]), hg_return::HG_SUCCESS);
        assert_eq!(pull(&table, id, 0, 9), Ok(vec![1, 20, 30, 40, 50, 6, 7, 8, 9]));
        drop(segs);
    }

    #[test]
    fn hostile_ranges_are_refused_without_touching_memory() {
        let (table, id, segs) = table_with(vec![vec![7; 10], vec![8; 6]], READWRITE);
        for (offset, len) in [(0, 17), (16, 1), (15, 2), (u64::MAX, 2), (1, u64::MAX), (u64::MAX, u64::MAX), (17, 0)] {
            assert_eq!(pull(&table, id, offset, len), Err(hg_return::HG_INVALID_ARG), "pull {offset}+{len}");
        }
        assert_eq!(push(&table, id, 14, &[0; 3]), hg_return::HG_INVALID_ARG);
        assert_eq!(push(&table, id, u64::MAX - 1, &[0; 3]), hg_return::HG_INVALID_ARG);
        assert!(segs[0].iter().all(|b| *b == 7) && segs[1].iter().all(|b| *b == 8), "a refused push wrote nothing");
        // A request larger than the owner serves in one piece, within a big enough handle.
        let (big, big_id, _big) = table_with(vec![vec![0; MAX_SERVED as usize + 1]], READ_ONLY);
        assert_eq!(pull(&big, big_id, 0, MAX_SERVED + 1), Err(hg_return::HG_PROTOCOL_ERROR));
        assert_eq!(pull(&big, big_id, 1, MAX_SERVED).map(|v| v.len()), Ok(MAX_SERVED as usize));
    }

    #[test]
    fn flags_limit_the_operations() {
        let (ro, ro_id, _a) = table_with(vec![vec![1; 8]], READ_ONLY);
        assert_eq!(pull(&ro, ro_id, 0, 8), Ok(vec![1; 8]));
        assert_eq!(push(&ro, ro_id, 0, &[9]), hg_return::HG_PERMISSION, "a read-only handle cannot be pushed into");
        let (wo, wo_id, b) = table_with(vec![vec![1; 8]], WRITE_ONLY);
        assert_eq!(pull(&wo, wo_id, 0, 1), Err(hg_return::HG_PERMISSION), "a write-only handle cannot be pulled from");
        assert_eq!(push(&wo, wo_id, 7, &[9]), hg_return::HG_SUCCESS);
        assert_eq!(b[0][7], 9);
    }

    #[test]
    fn unknown_or_freed_ids_and_malformed_requests_fail_cleanly() {
        let (table, id, _segs) = table_with(vec![vec![1; 8]], READWRITE);
        assert_eq!(pull(&table, id ^ 1, 0, 1), Err(hg_return::HG_NOENTRY));
        table.remove(id);
        assert_eq!(pull(&table, id, 0, 1), Err(hg_return::HG_NOENTRY), "a freed handle's id is gone");
        assert_eq!(push(&table, id, 0, &[1]), hg_return::HG_NOENTRY);
        let (table, id, _segs) = table_with(vec![vec![1; 8]], READWRITE);
        assert_eq!(answer_code(table.serve(&[])[0]), hg_return::HG_PROTOCOL_ERROR);
        assert_eq!(answer_code(table.serve(&request(PULL, id, 0, 1, &[])[..20])[0]), hg_return::HG_PROTOCOL_ERROR);
        assert_eq!(answer_code(table.serve(&request(7, id, 0, 1, &[])[..])[0]), hg_return::HG_PROTOCOL_ERROR);
        // A push whose bytes do not match its length.
        assert_eq!(answer_code(table.serve(&request(PUSH, id, 0, 4, &[1, 2])[..])[0]), hg_return::HG_PROTOCOL_ERROR);
        // A pull carrying bytes.
        assert_eq!(answer_code(table.serve(&request(PULL, id, 0, 2, &[1, 2])[..])[0]), hg_return::HG_PROTOCOL_ERROR);
    }

    #[test]
    fn a_region_killed_while_held_refuses_copies() {
        let (table, id, _segs) = table_with(vec![vec![1; 8]], READWRITE);
        let region = table.get(id).unwrap();
        table.remove(id);
        let mut out = [0u8; 4];
        assert_eq!(region.read(0, &mut out), Err(hg_return::HG_NOENTRY));
        assert_eq!(region.write(0, &out), Err(hg_return::HG_NOENTRY));
    }

    unsafe extern "C" fn one_bulk(proc: hg_proc_t, data: *mut c_void) -> hg_return_t {
        // SAFETY: the tests pass an hg_bulk_t.
        unsafe { hg_proc_hg_bulk_t(proc, data) }
    }

    fn remote(owner: &str, id: u64, size: u64, flags: u8) -> hg_bulk_t {
        let b = Bulk { refs: AtomicUsize::new(1), owner: owner.into(), id, size, flags, segment_count: 2, local: None };
        handles::boxed_into_c::<hg_bulk>(b)
    }

    #[test]
    fn bulk_handles_round_trip_through_procs_and_bad_bytes_fail() {
        let mut src = remote("na+sm://1-2", 0xABCD, 3 << 20, READ_ONLY);
        let mut enc = Proc::encoder();
        // SAFETY: the callback matches an hg_bulk_t, and src is valid.
        unsafe { super::super::hg_proc::run(one_bulk, &mut enc, std::ptr::addr_of_mut!(src) as *mut c_void) }.unwrap();
        let bytes = enc.into_payload();
        let mut dst: hg_bulk_t = std::ptr::null_mut();
        let mut dec = Proc::decoder(Arc::from(&bytes[..]));
        // SAFETY: as above.
        unsafe { super::super::hg_proc::run(one_bulk, &mut dec, std::ptr::addr_of_mut!(dst) as *mut c_void) }.unwrap();
        // SAFETY: the decode made a live handle.
        let b = unsafe { bulk_ref(dst) }.unwrap();
        assert_eq!((b.owner.as_str(), b.id, b.size, b.flags, b.segment_count), ("na+sm://1-2", 0xABCD, 3 << 20, READ_ONLY, 2));
        assert!(b.local.is_none());
        let mut free = Proc::freer();
        // SAFETY: dst holds what the decode made.
        unsafe { super::super::hg_proc::run(one_bulk, &mut free, std::ptr::addr_of_mut!(dst) as *mut c_void) }.unwrap();
        assert!(dst.is_null());
        // Every prefix fails and leaves no handle behind.
        for cut in 0..bytes.len() {
            let mut dst: hg_bulk_t = std::ptr::null_mut();
            let mut dec = Proc::decoder(Arc::from(&bytes[..cut]));
            // SAFETY: as above.
            let r = unsafe { super::super::hg_proc::run(one_bulk, &mut dec, std::ptr::addr_of_mut!(dst) as *mut c_void) };
            assert_eq!(r, Err(hg_return::HG_PROTOCOL_ERROR), "prefix of {cut} bytes");
            assert!(dst.is_null(), "prefix of {cut} bytes left a handle");
        }
        // Bad flags are refused.
        let mut bad = bytes.clone();
        let at = bad.len() - 5;
        bad[at] = 4;
        let mut dec = Proc::decoder(Arc::from(&bad[..]));
        // SAFETY: as above.
        let r = unsafe { super::super::hg_proc::run(one_bulk, &mut dec, std::ptr::addr_of_mut!(dst) as *mut c_void) };
        assert_eq!(r, Err(hg_return::HG_PROTOCOL_ERROR));
        // HG_BULK_NULL round-trips as NULL.
        let mut null: hg_bulk_t = std::ptr::null_mut();
        let mut enc = Proc::encoder();
        // SAFETY: as above.
        unsafe { super::super::hg_proc::run(one_bulk, &mut enc, std::ptr::addr_of_mut!(null) as *mut c_void) }.unwrap();
        assert_eq!(enc.into_payload(), 0u64.to_le_bytes());
        // SAFETY: src is live and ours.
        assert_eq!(unsafe { margo_bulk_free(src) }, hg_return::HG_SUCCESS);
    }

    #[test]
    fn reference_counts_and_null_handles() {
        let h = remote("na+sm://1-2", 1, 10, READWRITE);
        // SAFETY: h is live until its last free below; NULL is allowed.
        unsafe {
            assert_eq!(margo_bulk_get_size(h), 10);
            assert_eq!(HG_Bulk_get_size(std::ptr::null_mut()), 0);
            assert_eq!(margo_bulk_ref_incr(h), hg_return::HG_SUCCESS);
            assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
            assert_eq!(margo_bulk_get_segment_count(h), 2, "still referenced");
            let r = margo_bulk_transfer(std::ptr::null_mut(), PULL, std::ptr::null_mut(), h, 0, h, 0, 1);
            assert_eq!(r, hg_return::HG_INVALID_ARG, "a NULL instance");
            assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
            assert_eq!(margo_bulk_free(std::ptr::null_mut()), hg_return::HG_SUCCESS);
            assert_eq!(margo_bulk_ref_incr(std::ptr::null_mut()), hg_return::HG_INVALID_ARG);
        }
    }

    /// Encodes then decodes `h` as a proc would: the handle another process gets.
    fn through_procs(mut h: hg_bulk_t) -> hg_bulk_t {
        let mut enc = Proc::encoder();
        // SAFETY: the callback matches an hg_bulk_t, and h is live.
        unsafe { super::super::hg_proc::run(one_bulk, &mut enc, std::ptr::addr_of_mut!(h) as *mut c_void) }.unwrap();
        let mut out: hg_bulk_t = std::ptr::null_mut();
        let mut dec = Proc::decoder(Arc::from(enc.into_payload()));
        // SAFETY: as above.
        unsafe { super::super::hg_proc::run(one_bulk, &mut dec, std::ptr::addr_of_mut!(out) as *mut c_void) }.unwrap();
        out
    }

    fn instance() -> margo_instance_id {
        let e = Engine::new("na+sm", crate::rpc::Mode::Server, "", &crate::rpc::InitOverrides::default()).unwrap();
        handles::instance_into_c(e)
    }

    fn create(mid: margo_instance_id, segs: &mut [Vec<u8>], flags: u8) -> hg_bulk_t {
        let mut ptrs: Vec<*mut c_void> = segs.iter_mut().map(|s| s.as_mut_ptr() as *mut c_void).collect();
        let sizes: Vec<hg_size_t> = segs.iter().map(|s| s.len() as hg_size_t).collect();
        let mut h: hg_bulk_t = std::ptr::null_mut();
        // SAFETY: the segments outlive the handle (each test frees it first).
        let r = unsafe { margo_bulk_create(mid, segs.len() as u32, ptrs.as_mut_ptr(), sizes.as_ptr(), flags, &mut h) };
        assert_eq!(r, hg_return::HG_SUCCESS);
        h
    }

    #[test]
    fn transfers_between_two_engines_in_pieces_and_late_ones_fail() {
        let (a, b) = (instance(), instance());
        let a_addr = handles::addr_into_c(handles::engine(a).unwrap().self_address());
        // A exposes 9 MiB in two segments (nine pieces of 1 MiB).
        let total = 9 << 20;
        let pattern = |i: usize| (i * 13 + (i >> 10)) as u8;
        let mut src = vec![(0..(2 << 20) + 3).map(pattern).collect::<Vec<u8>>()];
        src.push((src[0].len()..total).map(pattern).collect());
        let a_src = create(a, &mut src, READ_ONLY);
        let mut sink = vec![vec![0u8; total]];
        let a_sink = create(a, &mut sink, WRITE_ONLY);
        // B holds what A sent it, and its own memory.
        let (b_src, b_sink) = (through_procs(a_src), through_procs(a_sink));
        let mut local = vec![vec![0u8; 5 << 20], vec![0u8; total - (5 << 20)]];
        let b_local = create(b, &mut local, READWRITE);
        // SAFETY: every handle is live until freed below; a_addr is live.
        unsafe {
            let r = margo_bulk_transfer(b, PULL, a_addr, b_src, 0, b_local, 0, total);
            assert_eq!(r, hg_return::HG_SUCCESS);
            let got: Vec<u8> = local.concat();
            assert!(got.iter().enumerate().all(|(i, c)| *c == pattern(i)), "pulled bytes differ");
            // Push back at an offset, and with the address taken from the handle.
            let r = margo_bulk_transfer(b, PUSH, std::ptr::null_mut(), b_sink, 100, b_local, 7, total - 100);
            assert_eq!(r, hg_return::HG_SUCCESS);
            assert!(sink[0][..100].iter().all(|c| *c == 0));
            assert!(sink[0][100..].iter().enumerate().all(|(i, c)| *c == pattern(i + 7)), "pushed bytes differ");
            // What must fail, before any request and at the owner.
            assert_eq!(margo_bulk_transfer(b, PUSH, a_addr, b_src, 0, b_local, 0, 1), hg_return::HG_PERMISSION);
            assert_eq!(margo_bulk_transfer(b, PULL, a_addr, b_src, 1, b_local, 0, total), hg_return::HG_INVALID_ARG);
            assert_eq!(margo_bulk_transfer(b, 2, a_addr, b_src, 0, b_local, 0, 1), hg_return::HG_INVALID_ARG);
            let engine = handles::engine(b).unwrap();
            let target = handles::engine(a).unwrap().self_address();
            let forged = request(PULL, bulk_ref(b_src).unwrap().id, total as u64 - 1, 2, &[]);
            let answer = engine.call(&target, BULK_RPC, DEFAULT_PROVIDER_ID, forged, std::time::Duration::from_secs(10)).unwrap();
            assert_eq!(answer_code(answer[0]), hg_return::HG_INVALID_ARG, "the owner checks a forged range");
            // A frees its handle; B's copy of it no longer transfers.
            assert_eq!(margo_bulk_free(a_src), hg_return::HG_SUCCESS);
            assert_eq!(margo_bulk_transfer(b, PULL, a_addr, b_src, 0, b_local, 0, 1), hg_return::HG_NOENTRY);
            for h in [a_sink, b_src, b_sink, b_local] {
                assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
            }
            handles::addr_free(a_addr);
        }
        handles::instance_finalize(a).unwrap();
        handles::instance_finalize(b).unwrap();
    }

    /// Bytes that differ from one position to the next, and from one seed to another.
    fn pattern(i: usize, seed: usize) -> u8 {
        (i.wrapping_mul(31) ^ (i >> 11) ^ seed) as u8
    }

    /// `total` bytes of `pattern(_, seed)` cut into segments of these sizes (the last takes the rest).
    fn patterned(total: usize, cuts: &[usize], seed: usize) -> Vec<Vec<u8>> {
        let mut segs = Vec::new();
        let mut at = 0;
        for &c in cuts {
            segs.push((at..at + c).map(|i| pattern(i, seed)).collect());
            at += c;
        }
        segs.push((at..total).map(|i| pattern(i, seed)).collect());
        segs
    }

    fn itransfer(mid: margo_instance_id, op: hg_bulk_op_t, origin: hg_bulk_t, local: hg_bulk_t, size: usize) -> margo_request {
        let mut req: margo_request = std::ptr::null_mut();
        // SAFETY: live handles; req is writable.
        let r = unsafe { margo_bulk_itransfer(mid, op, std::ptr::null_mut(), origin, 0, local, 0, size, &mut req) };
        assert_eq!(r, hg_return::HG_SUCCESS);
        assert!(!req.is_null());
        req
    }

    fn test_flag(req: margo_request) -> bool {
        let mut flag = -1;
        // SAFETY: req is live, flag writable.
        assert_eq!(unsafe { super::super::rpc::margo_test(req, &mut flag) }, 0);
        assert!(flag == 0 || flag == 1);
        flag == 1
    }

    fn wait(req: margo_request) -> hg_return_t {
        // SAFETY: req is live and not used afterwards.
        unsafe { super::super::rpc::margo_wait(req) }
    }

    #[test]
    fn itransfers_complete_through_margo_wait_and_margo_test() {
        let (a, b) = (instance(), instance());
        // A exposes 40 MiB in three segments: 40 pieces of 1 MiB, more than two windows of 16.
        let total = 40 << 20;
        let mut src = patterned(total, &[(7 << 20) + 5, 1], 3);
        let a_src = create(a, &mut src, READ_ONLY);
        let b_src = through_procs(a_src);
        let mut local = vec![vec![0u8; 13 << 20], vec![0u8; total - (13 << 20)]];
        let b_local = create(b, &mut local, READWRITE);

        // margo_wait alone: it sends the pieces past the first window as it settles the earlier ones.
        let req = itransfer(b, PULL, b_src, b_local, total);
        assert_eq!(wait(req), hg_return::HG_SUCCESS);
        assert!(local.concat().iter().enumerate().all(|(i, c)| *c == pattern(i, 3)), "pulled bytes differ");

        // margo_test alone, until it says done (it settles and sends too); then margo_wait returns at once.
        for s in &mut local {
            s.fill(0);
        }
        let req = itransfer(b, PULL, b_src, b_local, total);
        let give_up = Instant::now() + std::time::Duration::from_secs(60);
        let mut polls = 0u64;
        while !test_flag(req) {
            polls += 1;
            assert!(Instant::now() < give_up, "margo_test never reported the transfer done ({polls} polls)");
        }
        assert!(test_flag(req), "done stays done");
        assert_eq!(wait(req), hg_return::HG_SUCCESS);
        assert!(local.concat().iter().enumerate().all(|(i, c)| *c == pattern(i, 3)), "bytes differ after margo_test");

        // A push through an itransfer, waited for.
        let mut sink = vec![vec![0u8; total]];
        let a_sink = create(a, &mut sink, WRITE_ONLY);
        let b_sink = through_procs(a_sink);
        let req = itransfer(b, PUSH, b_sink, b_local, total);
        assert_eq!(wait(req), hg_return::HG_SUCCESS);
        assert!(sink[0] == local.concat(), "pushed bytes differ");

        // Between two handles of one engine: done at once.
        let mut copy = vec![vec![0u8; 1000]];
        let b_copy = create(b, &mut copy, WRITE_ONLY);
        let req = itransfer(b, PULL, b_local, b_copy, 1000);
        assert!(test_flag(req), "a local copy is over when itransfer returns");
        assert_eq!(wait(req), hg_return::HG_SUCCESS);
        assert!(copy[0].iter().enumerate().all(|(i, c)| *c == pattern(i, 3)));

        // Bad arguments make no request; a failure at the owner comes out of margo_wait.
        let mut req: margo_request = std::ptr::null_mut();
        // SAFETY: live handles; NULL is allowed for the request pointer (refused).
        unsafe {
            let r = margo_bulk_itransfer(b, PUSH, std::ptr::null_mut(), b_src, 0, b_local, 0, 1, &mut req);
            assert_eq!(r, hg_return::HG_PERMISSION);
            assert!(req.is_null());
            let r = margo_bulk_itransfer(b, PULL, std::ptr::null_mut(), b_src, 1, b_local, 0, total, &mut req);
            assert_eq!(r, hg_return::HG_INVALID_ARG);
            let r = margo_bulk_itransfer(b, PULL, std::ptr::null_mut(), b_src, 0, b_local, 0, 1, std::ptr::null_mut());
            assert_eq!(r, hg_return::HG_INVALID_ARG);
            assert_eq!(wait(std::ptr::null_mut()), hg_return::HG_INVALID_ARG);
            let mut flag = 0;
            assert_eq!(super::super::rpc::margo_test(std::ptr::null_mut(), &mut flag), hg_return::HG_INVALID_ARG as i32);
        }
        let req = itransfer(b, PULL, b_src, b_local, total);
        // The local handle is freed before the pieces are settled: their bytes are not written.
        for s in &mut local {
            s.fill(0);
        }
        // SAFETY: b_local is live; the request holds the region, not the handle.
        assert_eq!(unsafe { margo_bulk_free(b_local) }, hg_return::HG_SUCCESS);
        assert_eq!(wait(req), hg_return::HG_NOENTRY);
        assert!(local.iter().all(|s| s.iter().all(|c| *c == 0)), "nothing written into freed memory");
        // SAFETY: A frees its handle; B's copy of it then fails at the owner.
        assert_eq!(unsafe { margo_bulk_free(a_src) }, hg_return::HG_SUCCESS);
        let req = itransfer(b, PULL, b_src, b_copy, 1);
        assert_eq!(wait(req), hg_return::HG_NOENTRY);
        for h in [b_src, a_sink, b_sink, b_copy] {
            // SAFETY: live until here.
            assert_eq!(unsafe { margo_bulk_free(h) }, hg_return::HG_SUCCESS);
        }
        handles::instance_finalize(a).unwrap();
        handles::instance_finalize(b).unwrap();
    }

    #[test]
    fn parallel_transfers_move_multi_mib_buffers_across_segments() {
        let (a, b) = (instance(), instance());
        let total = (11 << 20) + 333;
        let mut src = patterned(total, &[1 << 20, (3 << 20) + 7], 5);
        let a_src = create(a, &mut src, READWRITE);
        let b_src = through_procs(a_src);
        let mut local = vec![vec![0u8; 2 << 20], vec![], vec![0u8; total - (2 << 20)]];
        let b_local = create(b, &mut local, READWRITE);
        // Chunks smaller than a piece (many in flight), of an odd size, and larger than a piece.
        for chunk in [256 << 10, (1 << 20) + 12345, 10 << 20] {
            for s in &mut local {
                s.fill(0);
            }
            // SAFETY: live handles.
            let r = unsafe { margo_bulk_parallel_transfer(b, PULL, std::ptr::null_mut(), b_src, 0, b_local, 0, total, chunk) };
            assert_eq!(r, hg_return::HG_SUCCESS, "chunk {chunk}");
            assert!(local.concat().iter().enumerate().all(|(i, c)| *c == pattern(i, 5)), "chunk {chunk}: pulled bytes differ");
        }
        // A push at offsets: local bytes [100, total) into the origin at 50.
        for s in &mut local {
            for c in s.iter_mut() {
                *c = !*c;
            }
        }
        // SAFETY: live handles.
        let r =
            unsafe { margo_bulk_parallel_transfer(b, PUSH, std::ptr::null_mut(), b_src, 50, b_local, 100, total - 100, 1 << 20) };
        assert_eq!(r, hg_return::HG_SUCCESS);
        let got = src.concat();
        assert!(got[..50].iter().enumerate().all(|(i, c)| *c == pattern(i, 5)), "bytes before the offset untouched");
        assert!(got[50..total - 50].iter().enumerate().all(|(i, c)| *c == !pattern(i + 100, 5)), "pushed bytes differ");
        assert!(got[total - 50..].iter().enumerate().all(|(i, c)| *c == pattern(i + total - 50, 5)), "bytes after untouched");
        // SAFETY: live handles.
        unsafe {
            let r = margo_bulk_parallel_transfer(b, PULL, std::ptr::null_mut(), b_src, 0, b_local, 0, total, 0);
            assert_eq!(r, hg_return::HG_INVALID_ARG, "a chunk size of 0");
            let r = margo_bulk_parallel_transfer(b, PULL, std::ptr::null_mut(), b_src, 1, b_local, 0, total, 1 << 20);
            assert_eq!(r, hg_return::HG_INVALID_ARG, "a range past the origin");
            assert_eq!(margo_bulk_free(a_src), hg_return::HG_SUCCESS);
            let r = margo_bulk_parallel_transfer(b, PULL, std::ptr::null_mut(), b_src, 0, b_local, 0, total, 1 << 20);
            assert_eq!(r, hg_return::HG_NOENTRY, "the origin freed its handle");
            for h in [b_src, b_local] {
                assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
            }
        }
        handles::instance_finalize(a).unwrap();
        handles::instance_finalize(b).unwrap();
    }

    fn access(h: hg_bulk_t, offset: u64, size: u64, max: u32) -> Result<Vec<(usize, u64)>, hg_return_t> {
        let mut ptrs = vec![std::ptr::null_mut::<c_void>(); max as usize];
        let mut sizes = vec![0 as hg_size_t; max as usize];
        let mut count = u32::MAX;
        // SAFETY: the arrays hold max entries; h is live or NULL.
        let r = unsafe { margo_bulk_access(h, offset, size, READWRITE, max, ptrs.as_mut_ptr(), sizes.as_mut_ptr(), &mut count) };
        if r != hg_return::HG_SUCCESS {
            return Err(r);
        }
        Ok(ptrs.iter().zip(&sizes).take(count as usize).map(|(p, s)| (*p as usize, *s)).collect())
    }

    #[test]
    fn access_gives_the_segments_of_a_range() {
        let a = instance();
        let mut segs = vec![vec![1u8; 3], vec![], vec![2u8; 5], vec![3u8; 4]];
        let base: Vec<usize> = segs.iter().map(|s| s.as_ptr() as usize).collect();
        let h = create(a, &mut segs, READ_ONLY);
        assert_eq!(
            access(h, 0, 12, 8),
            Ok(vec![(base[0], 3), (base[2], 5), (base[3], 4)]),
            "the whole handle, empty segment skipped"
        );
        assert_eq!(access(h, 2, 8, 8), Ok(vec![(base[0] + 2, 1), (base[2], 5), (base[3], 2)]), "a range inside");
        assert_eq!(access(h, 4, 3, 8), Ok(vec![(base[2] + 1, 3)]), "within one segment");
        assert_eq!(access(h, 2, 8, 2), Ok(vec![(base[0] + 2, 1), (base[2], 5)]), "at most max_count segments");
        assert_eq!(access(h, 3, 0, 8), Ok(vec![]), "an empty range");
        assert_eq!(access(h, 12, 0, 8), Ok(vec![]), "an empty range at the end");
        assert_eq!(access(h, 5, 8, 8), Err(hg_return::HG_INVALID_ARG), "past the end");
        assert_eq!(access(h, u64::MAX, 2, 8), Err(hg_return::HG_INVALID_ARG), "an offset that wraps");
        assert_eq!(access(std::ptr::null_mut(), 0, 1, 8), Err(hg_return::HG_INVALID_ARG), "a NULL handle");
        let remote = through_procs(h);
        assert_eq!(access(remote, 0, 1, 8), Err(hg_return::HG_INVALID_ARG), "a handle naming another process's memory");
        // Counting only (NULL arrays), and Mercury's name.
        let mut count = 0u32;
        // SAFETY: h is live; NULL arrays are allowed.
        let r = unsafe { HG_Bulk_access(h, 1, 10, READ_ONLY, 8, std::ptr::null_mut(), std::ptr::null_mut(), &mut count) };
        assert_eq!((r, count), (hg_return::HG_SUCCESS, 3));
        // Memory the library allocated: access is how the caller reaches it.
        let mut owned: hg_bulk_t = std::ptr::null_mut();
        let sizes: [hg_size_t; 2] = [100, 28];
        // SAFETY: NULL pointers ask the library to allocate.
        let r = unsafe { margo_bulk_create(a, 2, std::ptr::null_mut(), sizes.as_ptr(), READWRITE, &mut owned) };
        assert_eq!(r, hg_return::HG_SUCCESS);
        let got = access(owned, 0, 128, 4).unwrap();
        assert_eq!(got.iter().map(|s| s.1).collect::<Vec<_>>(), vec![100, 28]);
        for (p, n) in &got {
            // SAFETY: the library's zeroed segment of n bytes, live until the handle is freed.
            let seg = unsafe { std::slice::from_raw_parts_mut(*p as *mut u8, *n as usize) };
            assert!(seg.iter().all(|c| *c == 0));
            seg.fill(9);
        }
        // What was written through the pointers is what the handle holds.
        let mut out = vec![vec![0u8; 128]];
        let sink = create(a, &mut out, WRITE_ONLY);
        // SAFETY: live handles.
        assert_eq!(unsafe { margo_bulk_transfer(a, PULL, std::ptr::null_mut(), owned, 0, sink, 0, 128) }, hg_return::HG_SUCCESS);
        assert!(out[0].iter().all(|c| *c == 9));
        for x in [h, remote, owned, sink] {
            // SAFETY: live until here.
            assert_eq!(unsafe { margo_bulk_free(x) }, hg_return::HG_SUCCESS);
        }
        handles::instance_finalize(a).unwrap();
    }

    fn serialize(h: hg_bulk_t) -> Vec<u8> {
        // SAFETY: h is live.
        let n = unsafe { margo_bulk_get_serialize_size(h, 0) } as usize;
        assert!(n > 0);
        let mut buf = vec![0u8; n];
        // SAFETY: buf holds n bytes.
        let r = unsafe { margo_bulk_serialize(buf.as_mut_ptr() as *mut c_void, n as hg_size_t, 0, h) };
        assert_eq!(r, hg_return::HG_SUCCESS);
        buf
    }

    fn deserialize_in(mid: margo_instance_id, bytes: &[u8]) -> Result<hg_bulk_t, hg_return_t> {
        let mut h: hg_bulk_t = 1usize as hg_bulk_t;
        // SAFETY: bytes is readable for its length; h is writable.
        let r = unsafe { margo_bulk_deserialize(mid, &mut h, bytes.as_ptr() as *const c_void, bytes.len() as hg_size_t) };
        if r == hg_return::HG_SUCCESS {
            assert!(!h.is_null());
            Ok(h)
        } else {
            assert!(h.is_null(), "a failed deserialize leaves HG_BULK_NULL");
            Err(r)
        }
    }

    #[test]
    fn serialized_handles_round_trip_and_transfer_from_another_engine() {
        let (a, b) = (instance(), instance());
        let total = (6 << 20) + 1;
        let mut src = patterned(total, &[1 << 20], 9);
        let a_src = create(a, &mut src, READ_ONLY);
        let bytes = serialize(a_src);
        // The same bytes as a proc writes for the handle.
        let mut enc = Proc::encoder();
        // SAFETY: a_src is live.
        encode_bulk(&mut enc, unsafe { bulk_ref(a_src) }).unwrap();
        assert_eq!(enc.into_payload(), bytes);
        // Too small a buffer: HG_OVERFLOW, nothing written.
        let mut small = vec![0xEEu8; bytes.len() - 1];
        // SAFETY: small holds its length.
        let r = unsafe { margo_bulk_serialize(small.as_mut_ptr() as *mut c_void, small.len() as hg_size_t, 0, a_src) };
        assert_eq!(r, hg_return::HG_OVERFLOW);
        assert!(small.iter().all(|c| *c == 0xEE));
        // A bigger buffer holds the form then whatever followed; deserialize ignores the rest.
        let mut big = vec![0xAAu8; bytes.len() + 64];
        // SAFETY: big holds its length; Mercury's name.
        let r = unsafe { HG_Bulk_serialize(big.as_mut_ptr() as *mut c_void, big.len() as hg_size_t, 0, a_src) };
        assert_eq!(r, hg_return::HG_SUCCESS);
        assert_eq!(&big[..bytes.len()], &bytes[..]);
        // SAFETY: a_src is live.
        assert_eq!(unsafe { HG_Bulk_get_serialize_size(a_src, 0) } as usize, bytes.len());

        // Engine B makes a handle from the bytes and pulls through it (address from the handle).
        let b_src = deserialize_in(b, &big).unwrap();
        // SAFETY: b_src is live.
        unsafe {
            assert_eq!(margo_bulk_get_size(b_src), total as u64);
            assert_eq!(margo_bulk_get_segment_count(b_src), 2);
        }
        let mut local = vec![vec![0u8; total]];
        let b_local = create(b, &mut local, WRITE_ONLY);
        let req = itransfer(b, PULL, b_src, b_local, total);
        assert_eq!(wait(req), hg_return::HG_SUCCESS);
        assert!(local[0].iter().enumerate().all(|(i, c)| *c == pattern(i, 9)), "pulled bytes differ");
        // The flags travel: the read-only handle refuses a push.
        // SAFETY: live handles.
        let r = unsafe { margo_bulk_transfer(b, PUSH, std::ptr::null_mut(), b_src, 0, b_local, 0, 1) };
        assert_eq!(r, hg_return::HG_PERMISSION);
        // Re-serializing the deserialized handle gives the same bytes; Mercury's name (no class) deserializes too.
        assert_eq!(serialize(b_src), bytes);
        let mut again: hg_bulk_t = std::ptr::null_mut();
        // SAFETY: bytes readable; again writable; the class is unused.
        let r = unsafe {
            HG_Bulk_deserialize(std::ptr::null_mut(), &mut again, bytes.as_ptr() as *const c_void, bytes.len() as hg_size_t)
        };
        assert_eq!(r, hg_return::HG_SUCCESS);
        // Once A frees its handle, the deserialized copies no longer transfer.
        // SAFETY: live handles.
        unsafe {
            assert_eq!(margo_bulk_free(a_src), hg_return::HG_SUCCESS);
            assert_eq!(margo_bulk_transfer(b, PULL, std::ptr::null_mut(), again, 0, b_local, 0, 1), hg_return::HG_NOENTRY);
            for h in [b_src, again, b_local] {
                assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
            }
        }
        handles::instance_finalize(a).unwrap();
        handles::instance_finalize(b).unwrap();
    }

    #[test]
    fn hostile_serialized_bytes_are_refused() {
        let a = instance();
        let h = remote("na+sm://123-4", 77, 1 << 30, READWRITE);
        let bytes = serialize(h);
        // Truncated: every prefix.
        for cut in 0..bytes.len() {
            assert_eq!(deserialize_in(a, &bytes[..cut]), Err(hg_return::HG_OVERFLOW), "prefix of {cut} bytes");
        }
        // Huge lengths in the address field: refused before any allocation.
        for n in [u64::MAX, u64::MAX - 1, 1 << 40, MAX_SERIALIZED as u64, bytes.len() as u64] {
            let mut bad = bytes.clone();
            bad[8..16].copy_from_slice(&n.to_le_bytes());
            assert_eq!(deserialize_in(a, &bad), Err(hg_return::HG_OVERFLOW), "address length {n}");
        }
        // A buffer claimed far larger than the form: only the form is read.
        let mut padded = bytes.clone();
        padded.resize(3 * MAX_SERIALIZED, 0);
        let ok = deserialize_in(a, &padded).unwrap();
        // SAFETY: ok is live and ours.
        assert_eq!(unsafe { margo_bulk_free(ok) }, hg_return::HG_SUCCESS);
        // Malformed fields.
        let flags_at = bytes.len() - 5;
        for (what, at, value) in
            [("marker 2", 0, 2u8), ("flags 0", flags_at, 0), ("flags 4", flags_at, 4), ("flags 0xff", flags_at, 0xff)]
        {
            let mut bad = bytes.clone();
            bad[at] = value;
            assert_eq!(deserialize_in(a, &bad), Err(hg_return::HG_PROTOCOL_ERROR), "{what}");
        }
        let mut not_utf8 = bytes.clone();
        not_utf8[16] = 0xC3;
        not_utf8[17] = 0x28;
        assert_eq!(deserialize_in(a, &not_utf8), Err(hg_return::HG_PROTOCOL_ERROR), "address not UTF-8");
        let mut nul = bytes.clone();
        nul[18] = 0;
        assert_eq!(deserialize_in(a, &nul), Err(hg_return::HG_PROTOCOL_ERROR), "a NUL in the address");
        // Marker 1, a NULL address (length field 0), id, size, flags 1, count.
        let mut null_addr = [1u64.to_le_bytes(), 0u64.to_le_bytes(), 7u64.to_le_bytes(), 8u64.to_le_bytes()].concat();
        null_addr.push(READ_ONLY);
        null_addr.extend_from_slice(&1u32.to_le_bytes());
        assert_eq!(deserialize_in(a, &null_addr), Err(hg_return::HG_PROTOCOL_ERROR), "a NULL address");
        assert_eq!(deserialize_in(a, &[0u8; 8]), Err(hg_return::HG_INVALID_ARG), "the form of HG_BULK_NULL");
        // Random bytes, and random changes to the form: never a crash; any handle made is well-formed.
        // (Every truncated, huge-length and malformed case above went through the C entry point.)
        let mut rng = crate::rng::Rng::new(0x5EED);
        let mut made = 0;
        for round in 0..20_000 {
            let mut b = if round % 2 == 0 {
                let n = (rng.next_u64() % 96) as usize;
                (0..n).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>()
            } else {
                let mut b = bytes.clone();
                for _ in 0..1 + rng.next_u64() % 3 {
                    let i = (rng.next_u64() as usize) % b.len();
                    b[i] = rng.next_u64() as u8;
                }
                b
            };
            if round % 7 == 0 {
                b.truncate((rng.next_u64() as usize) % (b.len() + 1));
            }
            // The decode margo_bulk_deserialize runs, without its log line per refusal.
            if let Ok(x) = handle_from_bytes(&b) {
                // SAFETY: x is live and ours.
                let d = unsafe { bulk_ref(x) }.unwrap();
                assert!((1..=READWRITE).contains(&d.flags) && d.local.is_none());
                // SAFETY: as above.
                assert_eq!(unsafe { margo_bulk_free(x) }, hg_return::HG_SUCCESS);
                made += 1;
            }
        }
        assert!(made > 0, "some changes (to the id, size, count) still make a handle");
        // NULL pointers and instances.
        let mut out: hg_bulk_t = std::ptr::null_mut();
        // SAFETY: every pointer is NULL or valid.
        unsafe {
            let p = bytes.as_ptr() as *const c_void;
            let n = bytes.len() as hg_size_t;
            assert_eq!(margo_bulk_deserialize(a, std::ptr::null_mut(), p, n), hg_return::HG_INVALID_ARG);
            assert_eq!(margo_bulk_deserialize(a, &mut out, std::ptr::null(), n), hg_return::HG_INVALID_ARG);
            assert_eq!(margo_bulk_deserialize(std::ptr::null_mut(), &mut out, p, n), hg_return::HG_INVALID_ARG);
            assert_eq!(margo_bulk_deserialize(a, &mut out, std::ptr::null(), 0), hg_return::HG_OVERFLOW);
            assert!(out.is_null());
            let mut buf = [0u8; 64];
            let r = margo_bulk_serialize(buf.as_mut_ptr() as *mut c_void, 64, 0, std::ptr::null_mut());
            assert_eq!(r, hg_return::HG_INVALID_ARG);
            assert_eq!(margo_bulk_serialize(std::ptr::null_mut(), 64, 0, h), hg_return::HG_INVALID_ARG);
            assert_eq!(margo_bulk_get_serialize_size(std::ptr::null_mut(), 0), 0);
            assert_eq!(margo_bulk_free(h), hg_return::HG_SUCCESS);
        }
        handles::instance_finalize(a).unwrap();
    }
}
