//! Margo's bulk buffer pools (`margo-bulk-pool.h`): bulk handles over
//! memory allocated once, handed out and taken back so that a service
//! moving data (pipelined transfers) does not register memory per call.
//! A pool holds `count` buffers of one size; a poolset holds pools of
//! growing sizes (`first_size`, times `size_multiple` for each next one).
//! `get` waits for a free buffer (a handler waiting lends its stream);
//! `release` takes back only a handle of the pool itself.

#![allow(non_camel_case_types)]

use super::bulk::{margo_bulk_create, margo_bulk_free, margo_bulk_get_size};
use super::handles::{boxed_free, boxed_into_c, boxed_ref, margo_instance_id, Owned};
use super::hg::{hg_bool_t, hg_bulk_t, hg_return, hg_return_t, hg_size_t};
use super::margo::fail;
use super::panic::guard;
use parking_lot::{Condvar, Mutex};
use std::alloc::Layout;
use std::ffi::{c_int, c_void};

/// Buffers are page-aligned, as upstream's.
const ALIGN: usize = 4096;

/// Opaque pool (`margo_bulk_pool_t`).
pub struct margo_bulk_pool {
    _private: [u8; 0],
}
pub type margo_bulk_pool_t = *mut margo_bulk_pool;
impl Owned for margo_bulk_pool {
    type Rust = BulkPool;
}

/// Opaque set of pools (`margo_bulk_poolset_t`).
pub struct margo_bulk_poolset {
    _private: [u8; 0],
}
pub type margo_bulk_poolset_t = *mut margo_bulk_poolset;
impl Owned for margo_bulk_poolset {
    type Rust = Vec<BulkPool>;
}

/// A bulk handle kept by a pool.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Handle(hg_bulk_t);
// SAFETY: bulk handles are reference-counted boxes that any thread may
// use; the pool only stores and hands them out.
unsafe impl Send for Handle {}

pub struct BulkPool {
    size: hg_size_t,
    memory: *mut u8,
    layout: Layout,
    /// Every handle of the pool (to check a release).
    all: Vec<Handle>,
    free: Mutex<Vec<Handle>>,
    returned: Condvar,
}

// SAFETY: `memory` is only read and written by bulk transfers through the
// handles (which any thread may run); the pool itself never touches it
// after creation except to free it in Drop.
unsafe impl Send for BulkPool {}
// SAFETY: as above; the mutable state is behind `free`'s lock.
unsafe impl Sync for BulkPool {}

impl BulkPool {
    fn new(mid: margo_instance_id, count: hg_size_t, size: hg_size_t, flag: u8) -> Result<BulkPool, hg_return_t> {
        let total = usize::try_from(count)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(c, s)| c.checked_mul(s))
            .filter(|t| *t <= isize::MAX as usize - ALIGN)
            .ok_or(hg_return::HG_INVALID_ARG)?;
        if count == 0 || size == 0 {
            return Err(hg_return::HG_INVALID_ARG);
        }
        let layout = Layout::from_size_align(total, ALIGN).map_err(|_| hg_return::HG_INVALID_ARG)?;
        // SAFETY: `layout` has a non-zero size (count, size > 0).
        let memory = unsafe { std::alloc::alloc_zeroed(layout) };
        if memory.is_null() {
            return Err(hg_return::HG_NOMEM);
        }
        let mut pool = BulkPool { size, memory, layout, all: Vec::new(), free: Mutex::new(Vec::new()), returned: Condvar::new() };
        for i in 0..count as usize {
            // SAFETY: i * size < total, inside the allocation.
            let mut ptr = unsafe { memory.add(i * size as usize) }.cast::<c_void>();
            let mut handle: hg_bulk_t = std::ptr::null_mut();
            // SAFETY: one segment of `size` bytes that the pool owns and
            // frees only after freeing the handles (Drop).
            let rc = unsafe { margo_bulk_create(mid, 1, &mut ptr, &size, flag, &mut handle) };
            if rc != hg_return::HG_SUCCESS {
                return Err(rc); // Drop frees what was made
            }
            pool.all.push(Handle(handle));
        }
        *pool.free.get_mut() = pool.all.clone();
        Ok(pool)
    }

    fn get(&self) -> hg_bulk_t {
        let mut free = self.free.lock();
        if let Some(h) = free.pop() {
            return h.0;
        }
        drop(free);
        crate::rpc::sync::lending(|| {
            let mut free = self.free.lock();
            loop {
                if let Some(h) = free.pop() {
                    return h.0;
                }
                self.returned.wait(&mut free);
            }
        })
    }

    fn try_get(&self) -> Option<hg_bulk_t> {
        self.free.lock().pop().map(|h| h.0)
    }

    /// False if `bulk` is not one of ours or is already back.
    fn release(&self, bulk: hg_bulk_t) -> bool {
        let h = Handle(bulk);
        if !self.all.contains(&h) {
            return false;
        }
        let mut free = self.free.lock();
        if free.contains(&h) {
            return false;
        }
        free.push(h);
        drop(free);
        self.returned.notify_one();
        true
    }

    fn in_use(&self) -> usize {
        self.all.len() - self.free.lock().len()
    }
}

impl Drop for BulkPool {
    fn drop(&mut self) {
        for h in &self.all {
            // SAFETY: a handle this pool created and still holds.
            unsafe { margo_bulk_free(h.0) };
        }
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { std::alloc::dealloc(self.memory, self.layout) };
    }
}

/// A pool of `count` buffers of `size` bytes, exposed with `flag`
/// (`HG_BULK_READ_ONLY`, …).
///
/// # Safety
/// `pool` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_pool_create(
    mid: margo_instance_id,
    count: hg_size_t,
    size: hg_size_t,
    flag: u8,
    pool: *mut margo_bulk_pool_t,
) -> hg_return_t {
    guard("margo_bulk_pool_create", hg_return::HG_OTHER_ERROR, || {
        if pool.is_null() {
            fail("margo_bulk_pool_create", "NULL output pointer");
            return hg_return::HG_INVALID_ARG;
        }
        match BulkPool::new(mid, count, size, flag) {
            Ok(p) => {
                // SAFETY: non-NULL and writable by the contract.
                unsafe { *pool = boxed_into_c(p) };
                hg_return::HG_SUCCESS
            }
            Err(rc) => {
                fail("margo_bulk_pool_create", format!("{count} buffers of {size} bytes: {rc:?}"));
                // SAFETY: as above.
                unsafe { *pool = std::ptr::null_mut() };
                rc
            }
        }
    })
}

/// Frees the pool (with a warning if some buffers are still out: their
/// handles become invalid).
///
/// # Safety
/// `pool` must be NULL or a live pool, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_pool_destroy(pool: margo_bulk_pool_t) -> c_int {
    guard("margo_bulk_pool_destroy", -1, || {
        // SAFETY: NULL or a live pool the caller gives up.
        if let Some(p) = unsafe { boxed_free(pool) } {
            warn_in_use(&p);
        }
        0
    })
}

fn warn_in_use(p: &BulkPool) {
    let out = p.in_use();
    if out > 0 {
        crate::warning!("margo bulk pool destroyed with {out} buffer(s) of {} bytes still in use", p.size);
    }
}

/// Takes a buffer, waiting until one is free. -1 for a NULL pool.
///
/// # Safety
/// `pool` must be NULL or a live pool; `bulk` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_pool_get(pool: margo_bulk_pool_t, bulk: *mut hg_bulk_t) -> c_int {
    guard("margo_bulk_pool_get", -1, || {
        // SAFETY: NULL or a live pool by the contract.
        let (Some(p), false) = (unsafe { boxed_ref(pool) }, bulk.is_null()) else { return -1 };
        // SAFETY: non-NULL and writable by the contract.
        unsafe { *bulk = p.get() };
        0
    })
}

/// Takes a buffer if one is free (else `*bulk` is `HG_BULK_NULL`).
///
/// # Safety
/// As `margo_bulk_pool_get`.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_pool_tryget(pool: margo_bulk_pool_t, bulk: *mut hg_bulk_t) -> c_int {
    guard("margo_bulk_pool_tryget", -1, || {
        // SAFETY: NULL or a live pool by the contract.
        let (Some(p), false) = (unsafe { boxed_ref(pool) }, bulk.is_null()) else { return -1 };
        // SAFETY: non-NULL and writable by the contract.
        unsafe { *bulk = p.try_get().unwrap_or(std::ptr::null_mut()) };
        0
    })
}

/// Gives a buffer back. -1 (with a warning) for a handle that is not one
/// of this pool's or is already back.
///
/// # Safety
/// `pool` must be NULL or a live pool.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_pool_release(pool: margo_bulk_pool_t, bulk: hg_bulk_t) -> c_int {
    guard("margo_bulk_pool_release", -1, || {
        // SAFETY: NULL or a live pool by the contract.
        let Some(p) = (unsafe { boxed_ref(pool) }) else { return -1 };
        if p.release(bulk) {
            0
        } else {
            crate::warning!("margo_bulk_pool_release: the handle is not one of the pool's, or is already back");
            -1
        }
    })
}

/// `npools` pools of `nbufs` buffers each, the first of `first_size`
/// bytes, each next one `size_multiple` times larger.
///
/// # Safety
/// `poolset` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_poolset_create(
    mid: margo_instance_id,
    npools: hg_size_t,
    nbufs: hg_size_t,
    first_size: hg_size_t,
    size_multiple: hg_size_t,
    flag: u8,
    poolset: *mut margo_bulk_poolset_t,
) -> hg_return_t {
    const E: &str = "margo_bulk_poolset_create";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        if poolset.is_null() {
            fail(E, "NULL output pointer");
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: non-NULL and writable by the contract.
        unsafe { *poolset = std::ptr::null_mut() };
        if npools == 0 || nbufs == 0 || first_size == 0 || size_multiple < 2 {
            fail(
                E,
                format!("npools {npools}, nbufs {nbufs}, first_size {first_size} must be > 0, size_multiple {size_multiple} > 1"),
            );
            return hg_return::HG_INVALID_ARG;
        }
        let mut pools = Vec::new();
        let mut size = first_size;
        for i in 0..npools {
            match BulkPool::new(mid, nbufs, size, flag) {
                Ok(p) => pools.push(p),
                Err(rc) => {
                    fail(E, format!("pool {i} ({nbufs} buffers of {size} bytes): {rc:?}"));
                    return rc;
                }
            }
            if i + 1 < npools {
                let Some(next) = size.checked_mul(size_multiple) else {
                    fail(E, "the largest buffer size overflows");
                    return hg_return::HG_INVALID_ARG;
                };
                size = next;
            }
        }
        // SAFETY: as above.
        unsafe { *poolset = boxed_into_c(pools) };
        hg_return::HG_SUCCESS
    })
}

/// # Safety
/// `poolset` must be NULL or a live poolset, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_poolset_destroy(poolset: margo_bulk_poolset_t) -> c_int {
    guard("margo_bulk_poolset_destroy", -1, || {
        // SAFETY: NULL or a live poolset the caller gives up.
        if let Some(pools) = unsafe { boxed_free(poolset) } {
            pools.iter().for_each(warn_in_use);
        }
        0
    })
}

/// The size of the largest buffers (0 for a NULL poolset).
///
/// # Safety
/// `poolset` must be NULL or live; `max_size` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_poolset_get_max(poolset: margo_bulk_poolset_t, max_size: *mut hg_size_t) {
    guard("margo_bulk_poolset_get_max", (), || {
        if max_size.is_null() {
            return;
        }
        // SAFETY: NULL or a live poolset by the contract.
        let max = unsafe { boxed_ref(poolset) }.and_then(|p| p.last()).map_or(0, |p| p.size);
        // SAFETY: non-NULL and writable by the contract.
        unsafe { *max_size = max };
    })
}

/// Takes a buffer of at least `size` bytes from the smallest pool that
/// has such buffers, waiting until one is free. -1 if `size` exceeds the
/// largest.
///
/// # Safety
/// `poolset` must be NULL or live; `bulk` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_poolset_get(poolset: margo_bulk_poolset_t, size: hg_size_t, bulk: *mut hg_bulk_t) -> c_int {
    guard("margo_bulk_poolset_get", -1, || {
        // SAFETY: NULL or a live poolset by the contract.
        let (Some(pools), false) = (unsafe { boxed_ref(poolset) }, bulk.is_null()) else { return -1 };
        let Some(p) = pools.iter().find(|p| size <= p.size) else { return -1 };
        // SAFETY: non-NULL and writable by the contract.
        unsafe { *bulk = p.get() };
        0
    })
}

/// Takes a free buffer of at least `size` bytes without waiting: from the
/// smallest fitting pool, or (`any_flag` true) from any larger one with a
/// free buffer; else `*bulk` is `HG_BULK_NULL`.
///
/// # Safety
/// As `margo_bulk_poolset_get`.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_poolset_tryget(
    poolset: margo_bulk_poolset_t,
    size: hg_size_t,
    any_flag: hg_bool_t,
    bulk: *mut hg_bulk_t,
) -> c_int {
    guard("margo_bulk_poolset_tryget", -1, || {
        // SAFETY: NULL or a live poolset by the contract.
        let (Some(pools), false) = (unsafe { boxed_ref(poolset) }, bulk.is_null()) else { return -1 };
        let mut fitting = pools.iter().filter(|p| size <= p.size);
        let got = if any_flag != 0 { fitting.find_map(BulkPool::try_get) } else { fitting.next().and_then(BulkPool::try_get) };
        // SAFETY: non-NULL and writable by the contract.
        unsafe { *bulk = got.unwrap_or(std::ptr::null_mut()) };
        0
    })
}

/// Gives a buffer back to the pool it came from; -1 if none of the
/// poolset's pools made it (or it is already back).
///
/// # Safety
/// `poolset` must be NULL or live; `bulk` a bulk handle or NULL.
#[no_mangle]
pub unsafe extern "C" fn margo_bulk_poolset_release(poolset: margo_bulk_poolset_t, bulk: hg_bulk_t) -> c_int {
    guard("margo_bulk_poolset_release", -1, || {
        // SAFETY: NULL or a live poolset by the contract.
        let Some(pools) = (unsafe { boxed_ref(poolset) }) else { return -1 };
        // SAFETY: NULL or a live handle by the contract.
        let size = unsafe { margo_bulk_get_size(bulk) };
        if pools.iter().filter(|p| p.size == size).any(|p| p.release(bulk)) {
            0
        } else {
            crate::warning!("margo_bulk_poolset_release: the handle is not one of the poolset's, or is already back");
            -1
        }
    })
}
