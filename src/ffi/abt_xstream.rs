//! Argobots' execution streams, pools, basic schedulers and tasklets as a
//! program makes them itself (`ABT_xstream_create*`, `ABT_pool_create_basic`,
//! `ABT_sched_create_basic`, `ABT_task_create`), and what a thread asks
//! about where it runs (`ABT_xstream_self*`, `ABT_self_*`,
//! `ABT_thread_self_id`). Part of `abt.h`; the core is
//! `rpc/sync/streams.rs`.
//!
//! Every pool is a multi-producer, multi-consumer queue that streams block
//! on, whatever kind or access is asked for; a scheduler is the ordered
//! list of pools a stream serves (only the predefined ones exist, no
//! scheduler config is read). A tasklet is a user-level thread here.
#![allow(non_camel_case_types)]

use super::abt::{
    create, free, with, ABT_bool, ABT_pool, ABT_thread, ABT_thread_create, ABT_thread_free, ABT_thread_join, ABT_xstream,
    ABT_ERR_INV_ARG, ABT_ERR_INV_POOL, ABT_ERR_INV_POOL_ACCESS, ABT_ERR_INV_POOL_KIND, ABT_ERR_INV_SCHED,
    ABT_ERR_INV_SCHED_PREDEF, ABT_ERR_INV_THREAD, ABT_ERR_INV_XSTREAM, ABT_ERR_OTHER, ABT_ERR_POOL, ABT_ERR_SYS, ABT_ERR_XSTREAM,
    ABT_SUCCESS,
};
use super::handles::{boxed_ref, pool_anywhere, Owned};
use super::panic::guard;
use crate::rpc::sync::streams::{self, StreamError};
use crate::rpc::sync::Ult;
use crate::rpc::Pool;
use std::ffi::{c_int, c_void};
use std::sync::Arc;

/// Kind of a pool (`ABT_pool_kind`): all behave as `ABT_POOL_FIFO_WAIT`.
pub type ABT_pool_kind = c_int;
pub const ABT_POOL_FIFO: ABT_pool_kind = 0;
pub const ABT_POOL_FIFO_WAIT: ABT_pool_kind = 1;
pub const ABT_POOL_RANDWS: ABT_pool_kind = 2;

/// Access of a pool (`ABT_pool_access`): all behave as `ABT_POOL_ACCESS_MPMC`.
pub type ABT_pool_access = c_int;
pub const ABT_POOL_ACCESS_PRIV: ABT_pool_access = 0;
pub const ABT_POOL_ACCESS_SPSC: ABT_pool_access = 1;
pub const ABT_POOL_ACCESS_MPSC: ABT_pool_access = 2;
pub const ABT_POOL_ACCESS_SPMC: ABT_pool_access = 3;
pub const ABT_POOL_ACCESS_MPMC: ABT_pool_access = 4;

/// A predefined scheduler (`ABT_sched_predef`): each serves its pools in
/// order, blocking when they are empty.
pub type ABT_sched_predef = c_int;
pub const ABT_SCHED_DEFAULT: ABT_sched_predef = 0;
pub const ABT_SCHED_BASIC: ABT_sched_predef = 1;
pub const ABT_SCHED_PRIO: ABT_sched_predef = 2;
pub const ABT_SCHED_RANDWS: ABT_sched_predef = 3;
pub const ABT_SCHED_BASIC_WAIT: ABT_sched_predef = 4;

/// A unit's id (`ABT_unit_id`, `ABT_thread_id`).
pub type ABT_unit_id = u64;
pub type ABT_thread_id = ABT_unit_id;

/// A tasklet (`ABT_task`): the same object as a user-level thread.
pub type ABT_task = ABT_thread;

/// Opaque scheduler (`ABT_sched`): the pools a stream made with it serves.
pub struct ABT_sched_opaque {
    _private: [u8; 0],
}
pub type ABT_sched = *mut ABT_sched_opaque;
impl Owned for ABT_sched_opaque {
    type Rust = Sched;
}
pub struct Sched {
    pools: Vec<Arc<Pool>>,
}

/// Opaque scheduler config (`ABT_sched_config`): none is read here; pass
/// `ABT_SCHED_CONFIG_NULL`.
pub struct ABT_sched_config_opaque {
    _private: [u8; 0],
}
pub type ABT_sched_config = *mut ABT_sched_config_opaque;

fn stream_code(entry: &str, e: StreamError) -> c_int {
    crate::warning!("{entry}: {e}");
    match e {
        StreamError::Unknown | StreamError::Primary | StreamError::SelfJoin => ABT_ERR_INV_XSTREAM,
        StreamError::InUse => ABT_ERR_POOL,
        StreamError::Spawn(_) => ABT_ERR_SYS,
    }
}

/// The pools of `pools[0..n]` (each a pool the program made or a margo
/// instance's); `None` if one is not.
///
/// # Safety
/// `pools` must be NULL with `n` 0, or hold `n` handles.
unsafe fn pools_of(n: c_int, pools: *const ABT_pool) -> Option<Vec<Arc<Pool>>> {
    let n = usize::try_from(n).ok()?;
    if n == 0 {
        return Some(Vec::new());
    }
    if pools.is_null() {
        return None;
    }
    // SAFETY: `n` handles by the contract.
    let handles = unsafe { std::slice::from_raw_parts(pools, n) };
    handles.iter().map(|&p| pool_anywhere(p)).collect()
}

fn xstream_into_c(key: usize) -> ABT_xstream {
    key as ABT_xstream
}

/// # Safety
/// `out` must be NULL or writable.
unsafe fn store<T>(out: *mut T, value: T) -> c_int {
    if out.is_null() {
        return ABT_ERR_INV_ARG;
    }
    // SAFETY: non-NULL, writable by the contract.
    unsafe { *out = value };
    ABT_SUCCESS
}

// ---- pools ----------------------------------------------------------------

/// A new pool (`automatic` is ignored: the program frees it).
///
/// # Safety
/// `newpool` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_pool_create_basic(
    kind: ABT_pool_kind,
    access: ABT_pool_access,
    _automatic: ABT_bool,
    newpool: *mut ABT_pool,
) -> c_int {
    guard("ABT_pool_create_basic", ABT_ERR_OTHER, || {
        if !(ABT_POOL_FIFO..=ABT_POOL_RANDWS).contains(&kind) {
            return ABT_ERR_INV_POOL_KIND;
        }
        if !(ABT_POOL_ACCESS_PRIV..=ABT_POOL_ACCESS_MPMC).contains(&access) {
            return ABT_ERR_INV_POOL_ACCESS;
        }
        if newpool.is_null() {
            return ABT_ERR_INV_ARG;
        }
        let pool = streams::create_pool("abt_pool");
        // SAFETY: checked non-NULL, writable by the contract.
        unsafe { store(newpool, Arc::as_ptr(&pool) as ABT_pool) }
    })
}

/// Frees a pool the program made, once no running stream serves it
/// (`ABT_ERR_POOL` otherwise); sets it to `ABT_POOL_NULL`.
///
/// # Safety
/// `pool` must be NULL or point to a pool handle.
#[no_mangle]
pub unsafe extern "C" fn ABT_pool_free(pool: *mut ABT_pool) -> c_int {
    guard("ABT_pool_free", ABT_ERR_OTHER, || {
        if pool.is_null() {
            return ABT_ERR_INV_ARG;
        }
        // SAFETY: non-NULL and readable by the contract.
        let p = unsafe { *pool };
        match streams::free_pool(p as *const Pool) {
            Ok(()) => {
                // SAFETY: as above, writable.
                unsafe { *pool = std::ptr::null_mut() };
                ABT_SUCCESS
            }
            Err(StreamError::Unknown) => ABT_ERR_INV_POOL,
            Err(e) => stream_code("ABT_pool_free", e),
        }
    })
}

/// How many units wait in the pool (`ABT_pool_get_total_size` counts the
/// same: running ones are not in a pool here).
///
/// # Safety
/// `size` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_pool_get_size(pool: ABT_pool, size: *mut usize) -> c_int {
    guard("ABT_pool_get_size", ABT_ERR_OTHER, || match pool_anywhere(pool) {
        // SAFETY: forwarded contract.
        Some(p) => unsafe { store(size, p.len()) },
        None => ABT_ERR_INV_POOL,
    })
}

/// # Safety
/// As `ABT_pool_get_size`.
#[no_mangle]
pub unsafe extern "C" fn ABT_pool_get_total_size(pool: ABT_pool, size: *mut usize) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_pool_get_size(pool, size) }
}

// ---- schedulers -------------------------------------------------------------

/// A predefined scheduler over `pools` (in priority order); with no pools,
/// a new pool of its own. `config` is not read.
///
/// # Safety
/// `pools` must hold `num_pools` handles (or be NULL with 0); `newsched`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_sched_create_basic(
    predef: ABT_sched_predef,
    num_pools: c_int,
    pools: *mut ABT_pool,
    _config: ABT_sched_config,
    newsched: *mut ABT_sched,
) -> c_int {
    guard("ABT_sched_create_basic", ABT_ERR_OTHER, || {
        if !(ABT_SCHED_DEFAULT..=ABT_SCHED_BASIC_WAIT).contains(&predef) {
            return ABT_ERR_INV_SCHED_PREDEF;
        }
        // SAFETY: forwarded contract.
        let Some(pools) = (unsafe { pools_of(num_pools, pools) }) else {
            return ABT_ERR_INV_POOL;
        };
        let pools = if pools.is_empty() { vec![streams::create_pool("abt_sched_pool")] } else { pools };
        // SAFETY: forwarded contract.
        unsafe { create("ABT_sched_create_basic", newsched, || Sched { pools }) }
    })
}

/// # Safety
/// `sched` must be NULL or point to NULL or a scheduler handle.
#[no_mangle]
pub unsafe extern "C" fn ABT_sched_free(sched: *mut ABT_sched) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { free("ABT_sched_free", sched, ABT_ERR_INV_SCHED) }
}

// ---- execution streams ----------------------------------------------------

/// # Safety
/// `newxstream` must be NULL or writable.
unsafe fn start_stream(entry: &str, pools: Vec<Arc<Pool>>, newxstream: *mut ABT_xstream) -> c_int {
    if newxstream.is_null() {
        return ABT_ERR_INV_ARG;
    }
    match streams::create_stream(pools) {
        // SAFETY: checked non-NULL, writable by the contract.
        Ok(key) => unsafe { store(newxstream, xstream_into_c(key)) },
        Err(e) => stream_code(entry, e),
    }
}

/// Starts a stream running `sched` (`ABT_SCHED_NULL`: the default
/// scheduler over a new pool of its own).
///
/// # Safety
/// `sched` must be NULL or a scheduler handle; `newxstream` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_xstream_create(sched: ABT_sched, newxstream: *mut ABT_xstream) -> c_int {
    guard("ABT_xstream_create", ABT_ERR_OTHER, || {
        let pools = if sched.is_null() {
            Vec::new()
        } else {
            // SAFETY: a scheduler handle by the contract.
            match unsafe { boxed_ref(sched) } {
                Some(s) => s.pools.clone(),
                None => return ABT_ERR_INV_SCHED,
            }
        };
        // SAFETY: forwarded contract.
        unsafe { start_stream("ABT_xstream_create", pools, newxstream) }
    })
}

/// Starts a stream with a predefined scheduler over `pools`.
///
/// # Safety
/// As `ABT_sched_create_basic`, with `newxstream` for `newsched`.
#[no_mangle]
pub unsafe extern "C" fn ABT_xstream_create_basic(
    predef: ABT_sched_predef,
    num_pools: c_int,
    pools: *mut ABT_pool,
    _config: ABT_sched_config,
    newxstream: *mut ABT_xstream,
) -> c_int {
    guard("ABT_xstream_create_basic", ABT_ERR_OTHER, || {
        if !(ABT_SCHED_DEFAULT..=ABT_SCHED_BASIC_WAIT).contains(&predef) {
            return ABT_ERR_INV_SCHED_PREDEF;
        }
        // SAFETY: forwarded contract.
        let Some(pools) = (unsafe { pools_of(num_pools, pools) }) else {
            return ABT_ERR_INV_POOL;
        };
        // SAFETY: forwarded contract.
        unsafe { start_stream("ABT_xstream_create_basic", pools, newxstream) }
    })
}

/// Runs what the stream's pools hold, then stops it. Not the primary
/// stream, nor the caller's own.
#[no_mangle]
pub extern "C" fn ABT_xstream_join(xstream: ABT_xstream) -> c_int {
    guard("ABT_xstream_join", ABT_ERR_OTHER, || match streams::join_stream(xstream as usize) {
        Ok(()) => ABT_SUCCESS,
        Err(e) => stream_code("ABT_xstream_join", e),
    })
}

/// Joins the stream and frees it; sets it to `ABT_XSTREAM_NULL`.
///
/// # Safety
/// `xstream` must be NULL or point to a stream handle.
#[no_mangle]
pub unsafe extern "C" fn ABT_xstream_free(xstream: *mut ABT_xstream) -> c_int {
    guard("ABT_xstream_free", ABT_ERR_OTHER, || {
        if xstream.is_null() {
            return ABT_ERR_INV_ARG;
        }
        // SAFETY: non-NULL and readable by the contract.
        let key = unsafe { *xstream } as usize;
        match streams::free_stream(key) {
            Ok(()) => {
                // SAFETY: as above, writable.
                unsafe { *xstream = std::ptr::null_mut() };
                ABT_SUCCESS
            }
            Err(e) => stream_code("ABT_xstream_free", e),
        }
    })
}

/// The calling thread's stream (the primary one off execution streams).
///
/// # Safety
/// `xstream` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_xstream_self(xstream: *mut ABT_xstream) -> c_int {
    // SAFETY: forwarded contract.
    guard("ABT_xstream_self", ABT_ERR_OTHER, || unsafe { store(xstream, xstream_into_c(streams::self_stream().0)) })
}

/// The calling thread's stream's rank (0: the primary stream).
///
/// # Safety
/// `rank` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_xstream_self_rank(rank: *mut c_int) -> c_int {
    // SAFETY: forwarded contract.
    guard("ABT_xstream_self_rank", ABT_ERR_OTHER, || unsafe { store(rank, streams::self_stream().1) })
}

/// # Safety
/// As `ABT_xstream_self`.
#[no_mangle]
pub unsafe extern "C" fn ABT_self_get_xstream(xstream: *mut ABT_xstream) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_xstream_self(xstream) }
}

/// # Safety
/// As `ABT_xstream_self_rank`.
#[no_mangle]
pub unsafe extern "C" fn ABT_self_get_xstream_rank(rank: *mut c_int) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_xstream_self_rank(rank) }
}

/// A stream's rank.
///
/// # Safety
/// `rank` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_xstream_get_rank(xstream: ABT_xstream, rank: *mut c_int) -> c_int {
    guard("ABT_xstream_get_rank", ABT_ERR_OTHER, || match streams::stream_parts(xstream as usize) {
        // SAFETY: forwarded contract.
        Some((r, _)) => unsafe { store(rank, r) },
        None => ABT_ERR_INV_XSTREAM,
    })
}

/// Up to `max_pools` of the pools the stream serves, in order.
///
/// # Safety
/// `pools` must hold room for `max_pools` handles.
#[no_mangle]
pub unsafe extern "C" fn ABT_xstream_get_main_pools(xstream: ABT_xstream, max_pools: c_int, pools: *mut ABT_pool) -> c_int {
    guard("ABT_xstream_get_main_pools", ABT_ERR_OTHER, || {
        let Some((_, served)) = streams::stream_parts(xstream as usize) else { return ABT_ERR_INV_XSTREAM };
        let Ok(max) = usize::try_from(max_pools) else { return ABT_ERR_INV_ARG };
        if max > 0 && pools.is_null() {
            return ABT_ERR_INV_ARG;
        }
        for (i, p) in served.iter().take(max).enumerate() {
            // SAFETY: room for `max_pools` handles by the contract.
            unsafe { *pools.add(i) = Arc::as_ptr(p) as ABT_pool };
        }
        ABT_SUCCESS
    })
}

/// # Safety
/// `result` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_xstream_equal(a: ABT_xstream, b: ABT_xstream, result: *mut ABT_bool) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { store(result, (a == b) as ABT_bool) }
}

/// # Safety
/// `is_primary` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_xstream_is_primary(xstream: ABT_xstream, is_primary: *mut ABT_bool) -> c_int {
    // SAFETY: forwarded contract.
    guard("ABT_xstream_is_primary", ABT_ERR_OTHER, || unsafe {
        store(is_primary, (xstream as usize == streams::primary_key()) as ABT_bool)
    })
}

// ---- ids and tasklets ------------------------------------------------------------

/// The calling user-level thread's id (outside one, the calling OS
/// thread's, from the same numbering).
///
/// # Safety
/// `id` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_self_id(id: *mut ABT_unit_id) -> c_int {
    // SAFETY: forwarded contract.
    guard("ABT_thread_self_id", ABT_ERR_OTHER, || unsafe { store(id, Ult::current_id()) })
}

/// # Safety
/// As `ABT_thread_self_id`.
#[no_mangle]
pub unsafe extern "C" fn ABT_self_get_thread_id(id: *mut ABT_unit_id) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_thread_self_id(id) }
}

/// A thread's id.
///
/// # Safety
/// `thread` must be NULL or a live thread handle; `id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_get_id(thread: ABT_thread, id: *mut ABT_unit_id) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { with("ABT_thread_get_id", thread, ABT_ERR_INV_THREAD, |t| store(id, t.id())) }
}

/// Runs `task_func(arg)` on `pool` (a tasklet is a user-level thread here).
///
/// # Safety
/// As `ABT_thread_create`, with `newtask` for `newthread`.
#[no_mangle]
pub unsafe extern "C" fn ABT_task_create(
    pool: ABT_pool,
    task_func: Option<unsafe extern "C" fn(*mut c_void)>,
    arg: *mut c_void,
    newtask: *mut ABT_task,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_thread_create(pool, task_func, arg, std::ptr::null_mut(), newtask) }
}

/// Runs `func(arg)` on the stream's first pool.
///
/// # Safety
/// As `ABT_task_create`.
#[no_mangle]
pub unsafe extern "C" fn ABT_task_create_on_xstream(
    xstream: ABT_xstream,
    task_func: Option<unsafe extern "C" fn(*mut c_void)>,
    arg: *mut c_void,
    newtask: *mut ABT_task,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_thread_create_on_xstream(xstream, task_func, arg, std::ptr::null_mut(), newtask) }
}

/// Runs `func(arg)` as a user-level thread on the stream's first pool.
///
/// # Safety
/// As `ABT_thread_create`.
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_create_on_xstream(
    xstream: ABT_xstream,
    thread_func: Option<unsafe extern "C" fn(*mut c_void)>,
    arg: *mut c_void,
    attr: super::abt::ABT_thread_attr,
    newthread: *mut ABT_thread,
) -> c_int {
    let pool = guard("ABT_thread_create_on_xstream", None, || {
        streams::stream_parts(xstream as usize).and_then(|(_, pools)| pools.first().cloned())
    });
    let Some(pool) = pool else { return ABT_ERR_XSTREAM };
    // SAFETY: forwarded contract; the pool lives in the stream's list.
    unsafe { ABT_thread_create(Arc::as_ptr(&pool) as ABT_pool, thread_func, arg, attr, newthread) }
}

/// # Safety
/// As `ABT_thread_join`.
#[no_mangle]
pub unsafe extern "C" fn ABT_task_join(task: ABT_task) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_thread_join(task) }
}

/// # Safety
/// As `ABT_thread_free`.
#[no_mangle]
pub unsafe extern "C" fn ABT_task_free(task: *mut ABT_task) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_thread_free(task) }
}

/// # Safety
/// As `ABT_thread_self_id`.
#[no_mangle]
pub unsafe extern "C" fn ABT_task_self_id(id: *mut u64) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_thread_self_id(id) }
}

/// # Safety
/// As `ABT_thread_get_id`.
#[no_mangle]
pub unsafe extern "C" fn ABT_task_get_id(task: ABT_task, id: *mut u64) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_thread_get_id(task, id) }
}
