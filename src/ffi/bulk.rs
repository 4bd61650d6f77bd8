//! Margo's bulk API (`hg_bulk_t`, `margo_bulk_create`, `margo_bulk_transfer`,
//! `hg_proc_hg_bulk_t`) over RPCs: our transport has no RMA.
//!
//! A handle made by `margo_bulk_create` registers its segments in its
//! instance's [`BulkTable`] under a pseudo-random 64-bit id (unique
//! in the table; not a secret, so the checks below are what keep memory safe). Its serialized form
//! (what `hg_proc_hg_bulk_t` writes into an RPC's input or output) is the
//! owner engine's address, the id, the total size, the access flags and the
//! segment count; decoding it gives a handle that only names that memory.
//! `margo_bulk_transfer` then asks the owner's engine, through an internal
//! RPC ([`BULK_RPC`]), for (id, offset, size) and copies the answer into
//! the local handle's segments (`HG_BULK_PULL`), or sends the local bytes
//! to be written there (`HG_BULK_PUSH`), in chunks of at most [`CHUNK`]
//! bytes. The owner checks every request against its table: the id must be
//! registered (a freed handle's id is gone: `HG_NOENTRY`), the handle's
//! flags must allow the operation (`HG_PERMISSION`), and the range must lie
//! within the handle (`HG_INVALID_ARG`); nothing outside the registered
//! segments is ever read or written.
//!
//! Memory contract (as upstream's): the segments given to
//! `margo_bulk_create` must stay valid, and not be freed, until the
//! handle's last `margo_bulk_free`. `margo_bulk_free` removes the id and
//! waits for a copy in progress on the handle to finish, so once it
//! returns nothing touches the memory any more.
#![allow(non_camel_case_types)]

use super::handles::{self, margo_instance_id, Owned};
use super::hg::{hg_addr_t, hg_bulk, hg_bulk_op_t, hg_bulk_t, hg_proc_t, hg_return, hg_return_t, hg_size_t};
use super::hg_proc::{Op, Proc};
use super::margo::fail;
use super::panic::guard;
use super::rpc::timeout_of;
use crate::rpc::{Address, Engine, RpcError, DEFAULT_PROVIDER_ID};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// `HG_BULK_READ_ONLY`: the owner's memory may be read (pulled from).
pub const READ_ONLY: u8 = 1;
/// `HG_BULK_WRITE_ONLY`: the owner's memory may be written (pushed into).
pub const WRITE_ONLY: u8 = 2;
/// `HG_BULK_READWRITE`.
pub const READWRITE: u8 = READ_ONLY | WRITE_ONLY;
/// `HG_BULK_PUSH`: local bytes to the origin's memory.
pub const PUSH: hg_bulk_op_t = 0;
/// `HG_BULK_PULL`: the origin's bytes into local memory.
pub const PULL: hg_bulk_op_t = 1;

/// The internal RPC the owner of a handle serves transfers with.
pub const BULK_RPC: &str = "__mochi_bulk__";
/// The largest piece one transfer RPC carries (a bigger transfer is split).
pub const CHUNK: usize = 4 << 20;
/// The largest piece an owner serves in one request (ours send at most
/// [`CHUNK`]; a request for more is refused rather than allocated).
pub const MAX_SERVED: u64 = 16 << 20;
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

    /// Calls `f(segment address, range of the piece within the copy)` for
    /// each piece of `[offset, offset + len)`, under the liveness lock.
    fn with_pieces(&self, offset: u64, len: usize, mut f: impl FnMut(usize, std::ops::Range<usize>)) -> Result<(), hg_return_t> {
        self.check_range(offset, len as u64)?;
        let live = self.live.lock();
        if !*live {
            return Err(hg_return::HG_NOENTRY);
        }
        let mut skip = offset as usize;
        let mut done = 0usize;
        for &(addr, seg_len) in &self.segments {
            if done == len {
                break;
            }
            if skip >= seg_len {
                skip -= seg_len;
                continue;
            }
            let n = (seg_len - skip).min(len - done);
            f(addr + skip, done..done + n);
            done += n;
            skip = 0;
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

/// Moves `size` bytes between `origin_handle` (memory of the process at
/// `origin_addr`, usually a handle received in an RPC's input) at
/// `origin_offset` and `local_handle` (made here by `margo_bulk_create`) at
/// `local_offset`: `HG_BULK_PULL` copies the origin's bytes here,
/// `HG_BULK_PUSH` copies local bytes there. `origin_addr` NULL: the address
/// the handle was made at. Done with RPCs to the origin's engine, in pieces
/// of at most 4 MiB, waiting at most `timeout_ms` in all (<= 0: no timeout).
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
        let (engine, table) = match (handles::engine(mid), handles::bulk_table(mid)) {
            (Ok(e), Ok(t)) => (e, t),
            (Err(e), _) | (_, Err(e)) => {
                fail(E, e);
                return hg_return::HG_INVALID_ARG;
            }
        };
        // SAFETY: by the contract NULL or live handles.
        let (Some(origin), Some(local)) = (unsafe { bulk_ref(origin_handle) }, unsafe { bulk_ref(local_handle) }) else {
            fail(E, "NULL origin or local bulk handle");
            return hg_return::HG_INVALID_ARG;
        };
        let Some((local_region, _)) = &local.local else {
            fail(E, "the local handle was not made here by margo_bulk_create");
            return hg_return::HG_INVALID_ARG;
        };
        let (need_origin, need_local) = match op {
            PULL => (READ_ONLY, WRITE_ONLY),
            PUSH => (WRITE_ONLY, READ_ONLY),
            _ => {
                fail(E, format!("unknown bulk operation {op}"));
                return hg_return::HG_INVALID_ARG;
            }
        };
        let (oo, lo, len) = (origin_offset as u64, local_offset as u64, size as u64);
        if oo.checked_add(len).is_none_or(|end| end > origin.size) || lo.checked_add(len).is_none_or(|end| end > local.size) {
            fail(E, format!("range past a handle: origin {oo}+{len} of {}, local {lo}+{len} of {}", origin.size, local.size));
            return hg_return::HG_INVALID_ARG;
        }
        if origin.flags & need_origin == 0 || local.flags & need_local == 0 {
            fail(E, format!("flags forbid this operation (origin {:#x}, local {:#x})", origin.flags, local.flags));
            return hg_return::HG_PERMISSION;
        }
        // SAFETY: by the contract NULL or a live address.
        let target = match unsafe { handles::addr_ref(origin_addr) } {
            Some(a) => a.clone(),
            None => match engine.lookup(&origin.owner) {
                Ok(a) => a,
                Err(e) => {
                    fail(E, format!("the handle's address \"{}\": {e}", origin.owner));
                    return (&e).into();
                }
            },
        };
        let deadline = Instant::now() + timeout_of(timeout_ms);
        match transfer(&engine, table, &target, op, origin.id, oo, local_region, lo, size, deadline) {
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

/// Moves the bytes in pieces of at most [`CHUNK`]: one request each to the
/// origin's engine (served from `table` directly when that is this engine).
#[allow(clippy::too_many_arguments)]
fn transfer(
    engine: &Engine,
    table: &BulkTable,
    target: &Address,
    op: hg_bulk_op_t,
    id: u64,
    origin_offset: u64,
    local: &Region,
    local_offset: u64,
    size: usize,
    deadline: Instant,
) -> Result<(), (hg_return_t, String)> {
    let local_err = |code: hg_return_t| (code, format!("the local handle: {code:?} (freed while in use?)"));
    let mut done = 0usize;
    let mut piece = Vec::new();
    while done < size {
        let n = (size - done).min(CHUNK);
        let (at_origin, at_local) = (origin_offset + done as u64, local_offset + done as u64);
        let payload = if op == PUSH {
            piece.resize(n, 0);
            local.read(at_local, &mut piece).map_err(local_err)?;
            request(op, id, at_origin, n as u64, &piece)
        } else {
            request(op, id, at_origin, n as u64, &[])
        };
        let answer = if *target == engine.self_address() {
            table.serve(&payload)
        } else {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err((hg_return::HG_TIMEOUT, format!("timed out after {done} of {size} bytes")));
            }
            engine.call(target, BULK_RPC, DEFAULT_PROVIDER_ID, payload, left).map_err(|e| ((&e).into(), e.to_string()))?
        };
        let Some((&status, bytes)) = answer.split_first() else {
            return Err((hg_return::HG_PROTOCOL_ERROR, "empty answer from the origin".into()));
        };
        let code = answer_code(status);
        if code != hg_return::HG_SUCCESS {
            return Err((code, format!("the origin {target} refused {n} bytes at {at_origin} of handle {id:#x}: {code:?}")));
        }
        if op == PULL {
            if bytes.len() != n {
                return Err((hg_return::HG_PROTOCOL_ERROR, format!("the origin sent {} bytes for {n}", bytes.len())));
            }
            local.write(at_local, bytes).map_err(local_err)?;
        }
        done += n;
    }
    Ok(())
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
                let r = match unsafe { bulk_ref(h) } {
                    None => p.put_int(0u64),
                    Some(b) => p
                        .put_int(1u64)
                        .and_then(|_| p.put_string(Some(b.owner.as_bytes())))
                        .and_then(|_| p.put_int(b.id))
                        .and_then(|_| p.put_int(b.size))
                        .and_then(|_| p.put_int(b.flags))
                        .and_then(|_| p.put_int(b.segment_count)),
                };
                match r {
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
    let ints = (|| {
        Ok::<_, super::hg_proc::ProcError>((
            p.take_int::<u64>()?,
            p.take_int::<u64>()?,
            p.take_int::<u8>()?,
            p.take_int::<u32>()?,
        ))
    })();
    let (id, size, flags, segment_count) = ints.map_err(|e| hg_return_t::from(&e))?;
    if !(1..=READWRITE).contains(&flags) {
        return Err(p.refuse(format!("bulk handle flags {flags:#x}")));
    }
    let bulk = Bulk { refs: AtomicUsize::new(1), owner, id, size, flags, segment_count, local: None };
    Ok(handles::boxed_into_c::<hg_bulk>(bulk))
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
        // A exposes 9 MiB in two segments (three pieces of at most 4 MiB).
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
}
