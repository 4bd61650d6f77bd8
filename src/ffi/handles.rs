//! Every C handle type, the Rust type behind it and its ownership rule —
//! in one place, so no other file casts a C pointer.
//!
//! | C type              | Rust type              | ownership                                   |
//! |---------------------|------------------------|---------------------------------------------|
//! | `margo_instance_id` | [`Instance`]           | leaked Box, validated against a registry    |
//! | `hg_addr_t`         | [`Address`]            | Box, freed by `margo_addr_free`             |
//! | `ABT_pool`          | [`Pool`]               | borrowed from its engine, validated per use |
//! | `flock_client_t`    | `flock::client::Client`     | Box, freed by `flock_client_finalize`  |
//! | `flock_group_handle_t` | `ffi::flock::group::HandleBox` | Box with a count; freed at 0     |
//! | `flock_request_t`   | `flock::client::PendingUpdate` | Box, freed by `flock_request_wait`  |
//! | `flock_provider_t`  | `flock::provider::Provider` | Box, freed by `flock_provider_destroy` |
//! | `hg_handle_t`       | `ffi::rpc::Handle`     | Box with a count (`margo_ref_incr`); freed at 0 by `margo_destroy` |
//! | `hg_proc_t`         | `ffi::hg_proc::Proc`   | borrowed: lives on our stack while one proc callback runs |
//! | `hg_bulk_t`         | `ffi::bulk::Bulk`      | Box with a count (`margo_bulk_ref_incr`); freed at 0 by `margo_bulk_free` |
//! | `margo_request`     | `ffi::rpc::Operation`  | Box, freed by `margo_wait` (a forward's call or a bulk transfer's pieces) |
//! | `ABT_mutex`, `ABT_cond`, `ABT_rwlock`, `ABT_eventual`, `ABT_barrier` | `rpc::sync::{Mutex, Cond, RwLock, Eventual, Barrier}` | Box, freed by `ABT_*_free`; a mutex or cond may also be the program's own `ABT_*_memory` (never freed) |
//! | `margo_bulk_pool_t`, `margo_bulk_poolset_t` | `ffi::bulk_pool::BulkPool`, `Vec<BulkPool>` | Box, freed by `margo_bulk_pool(set)_destroy` |
//! | `ABT_xstream`       | `rpc::Xstream` (its key) | borrowed: names a running stream of an instance, compared only |
//! | `margo_timer_t`     | `ffi::timer::Timer` (an `rpc::alarm::Alarm`) | Box, freed by `margo_timer_destroy` |
//! | `ABT_thread`        | `rpc::sync::Ult`       | Box, freed by `ABT_thread_free` (the thread's job holds its own share) |
//! | `ABT_mutex_attr`, `ABT_thread_attr` | `ffi::abt::{MutexAttr, ThreadAttr}` | Box, freed by `ABT_*_attr_free` |
//!
//! Box-owned handles go through [`boxed_into_c`], [`boxed_ref`] and
//! [`boxed_free`]; the opaque C type names the Rust type via [`Owned`].
//!
//! Instances are never freed: a finalized instance stays in the registry,
//! marked finalized, so a late call on it returns an error instead of
//! touching freed memory (a few dozen bytes per finalized instance).

use super::bulk::BulkTable;
use super::hg::{hg_addr_t, hg_proc_t, ABT_pool};
use super::hg_proc::Proc;
use super::rpc::RpcTable;
use super::strings::Interned;
use crate::rpc::sync::streams;
use crate::rpc::{Address, Engine, Pool};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Opaque instance type (`struct margo_instance`).
#[allow(non_camel_case_types)]
pub struct margo_instance {
    _private: [u8; 0],
}
#[allow(non_camel_case_types)]
pub type margo_instance_id = *mut margo_instance;

pub struct Instance {
    engine: Mutex<Option<Engine>>,
    refs: AtomicUsize,
    /// The RPCs registered through the C API (`margo_register_name`).
    rpcs: RpcTable,
    /// The memory its bulk handles expose (`margo_bulk_create`).
    bulks: BulkTable,
    /// The strings lent to C (identities, pool and xstream names).
    strings: Interned,
}

static LIVE: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

#[derive(Debug, PartialEq, Eq)]
pub enum HandleError {
    Null,
    Unknown,
    Finalized,
}

impl std::fmt::Display for HandleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HandleError::Null => "NULL instance",
            HandleError::Unknown => "not a margo instance created by this library",
            HandleError::Finalized => "the instance is finalized",
        })
    }
}

/// Hands a new engine to C.
pub fn instance_into_c(engine: Engine) -> margo_instance_id {
    let ptr = Box::into_raw(Box::new(Instance {
        engine: Mutex::new(Some(engine)),
        refs: AtomicUsize::new(1),
        rpcs: RpcTable::default(),
        bulks: BulkTable::default(),
        strings: Interned::default(),
    }));
    LIVE.lock().get_or_insert_with(HashSet::new).insert(ptr as usize);
    ptr as margo_instance_id
}

/// The C handle of an engine: the one C already holds, or a new one (for
/// engines started from Rust, e.g. by the bedrock daemon).
pub fn instance_for(engine: &Engine) -> margo_instance_id {
    let live: Vec<usize> = LIVE.lock().as_ref().map(|s| s.iter().copied().collect()).unwrap_or_default();
    for ptr in live {
        // SAFETY: registry entries are never freed.
        let inst = unsafe { &*(ptr as *const Instance) };
        if inst.engine.lock().as_ref().is_some_and(|e| e.same_as(engine)) {
            return ptr as margo_instance_id;
        }
    }
    instance_into_c(engine.clone())
}

/// Borrows the instance behind a C handle, if it is one of ours.
fn instance_ref(mid: margo_instance_id) -> Result<&'static Instance, HandleError> {
    if mid.is_null() {
        return Err(HandleError::Null);
    }
    let known = LIVE.lock().as_ref().is_some_and(|s| s.contains(&(mid as usize)));
    if !known {
        return Err(HandleError::Unknown);
    }
    // SAFETY: the pointer is in the registry, so it came from Box::into_raw
    // in instance_into_c and is never freed.
    Ok(unsafe { &*(mid as *const Instance) })
}

/// The live engine behind a handle.
pub fn engine(mid: margo_instance_id) -> Result<Engine, HandleError> {
    let inst = instance_ref(mid)?;
    let engine = inst.engine.lock().clone().ok_or(HandleError::Finalized)?;
    if engine.is_finalizing() {
        return Err(HandleError::Finalized);
    }
    Ok(engine)
}

/// The engine behind a handle even if finalized (for waiting on it).
pub fn engine_any(mid: margo_instance_id) -> Result<Engine, HandleError> {
    instance_ref(mid)?.engine.lock().clone().ok_or(HandleError::Finalized)
}

/// The C API's RPC table of an instance (finalized or not).
pub fn rpc_table(mid: margo_instance_id) -> Result<&'static RpcTable, HandleError> {
    Ok(&instance_ref(mid)?.rpcs)
}

/// The strings an instance lent to C (finalized or not).
pub fn interned(mid: margo_instance_id) -> Result<&'static Interned, HandleError> {
    Ok(&instance_ref(mid)?.strings)
}

/// The bulk handles' table of an instance (finalized or not).
pub fn bulk_table(mid: margo_instance_id) -> Result<&'static BulkTable, HandleError> {
    Ok(&instance_ref(mid)?.bulks)
}

/// Finalizes the engine. The handle keeps it, finalized (calls through it
/// fail, waiting on it returns at once), and stays valid until released.
pub fn instance_finalize(mid: margo_instance_id) -> Result<(), HandleError> {
    let inst = instance_ref(mid)?;
    let engine = inst.engine.lock().clone();
    match engine {
        Some(e) => {
            e.finalize();
            Ok(())
        }
        None => Err(HandleError::Finalized),
    }
}

pub fn instance_ref_incr(mid: margo_instance_id) -> Result<(), HandleError> {
    let inst = instance_ref(mid)?;
    engine(mid)?;
    inst.refs.fetch_add(1, Ordering::AcqRel);
    Ok(())
}

/// The references held on an instance (finalized or not).
pub fn instance_ref_count(mid: margo_instance_id) -> Result<u32, HandleError> {
    Ok(instance_ref(mid)?.refs.load(Ordering::Acquire) as u32)
}

/// Drops one reference; the last one finalizes the engine.
pub fn instance_release(mid: margo_instance_id) -> Result<(), HandleError> {
    let inst = instance_ref(mid)?;
    let prev =
        inst.refs.fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| r.checked_sub(1)).map_err(|_| HandleError::Finalized)?;
    if prev == 1 {
        instance_finalize(mid)?;
    }
    Ok(())
}

/// Hands an address to C (the caller frees it with `margo_addr_free`).
pub fn addr_into_c(addr: Address) -> hg_addr_t {
    Box::into_raw(Box::new(addr)) as hg_addr_t
}

/// Borrows the address behind a C handle.
///
/// # Safety
/// `addr` must be NULL or a handle from [`addr_into_c`] not yet freed.
pub unsafe fn addr_ref<'a>(addr: hg_addr_t) -> Option<&'a Address> {
    // SAFETY: by this function's contract `addr` is NULL or a live
    // `Box<Address>` pointer from addr_into_c.
    unsafe { (addr as *const Address).as_ref() }
}

/// Frees an address handle.
///
/// # Safety
/// `addr` must be NULL or a handle from [`addr_into_c`] not yet freed.
pub unsafe fn addr_free(addr: hg_addr_t) {
    if !addr.is_null() {
        // SAFETY: non-NULL, so by the contract a live Box<Address> from
        // addr_into_c that the caller gives up here.
        drop(unsafe { Box::from_raw(addr as *mut Address) });
    }
}

/// Hands one of an engine's pools to C (borrowed: valid while the engine lives).
pub fn pool_into_c(pool: &Arc<Pool>) -> ABT_pool {
    Arc::as_ptr(pool) as ABT_pool
}

/// The pool behind a C handle, if it belongs to `engine`.
/// Pools the program made itself (`ABT_pool_create_basic`) serve any
/// engine too.
pub fn pool_of(engine: &Engine, pool: ABT_pool) -> Option<Arc<Pool>> {
    if pool.is_null() {
        return None;
    }
    engine.owns_pool(pool as *const Pool).or_else(|| streams::find_pool(pool as *const Pool))
}

/// The address a C handle holds, to compare handles.
pub fn handle_key<T>(handle: *mut T) -> usize {
    handle as usize
}

/// Hands a running execution stream's key (`rpc::Xstream::key`) to C.
pub fn xstream_into_c(key: usize) -> super::abt::ABT_xstream {
    key as super::abt::ABT_xstream
}

/// The pool behind a C handle, among the pools the program made and those
/// of every live instance (`ABT_thread_create` names a pool, not an
/// instance).
pub fn pool_anywhere(pool: ABT_pool) -> Option<Arc<Pool>> {
    if pool.is_null() {
        return None;
    }
    if let Some(own) = streams::find_pool(pool as *const Pool) {
        return Some(own);
    }
    let live: Vec<usize> = LIVE.lock().as_ref().map(|s| s.iter().copied().collect()).unwrap_or_default();
    live.into_iter().find_map(|ptr| {
        // SAFETY: registry entries are never freed.
        let inst = unsafe { &*(ptr as *const Instance) };
        let engine = inst.engine.lock().clone()?;
        if engine.is_finalizing() {
            return None;
        }
        pool_of(&engine, pool)
    })
}

/// True while some margo instance is not finalized.
pub fn any_live_instance() -> bool {
    let live: Vec<usize> = LIVE.lock().as_ref().map(|s| s.iter().copied().collect()).unwrap_or_default();
    live.into_iter().any(|ptr| {
        // SAFETY: registry entries are never freed.
        let inst = unsafe { &*(ptr as *const Instance) };
        inst.engine.lock().as_ref().is_some_and(|e| !e.is_finalizing())
    })
}

/// Ties an opaque C handle type to the Rust type it owns through a Box.
pub trait Owned {
    type Rust;
}

/// A provider registered from C: stored into `*out`, or, with `out` NULL
/// (upstream's `*_PROVIDER_IGNORE`), owned by the engine until it
/// finalizes, when `destroy` runs on it.
///
/// # Safety
/// `out` must be NULL or writable.
pub unsafe fn provider_into_c<C: Owned>(engine: &Engine, out: *mut *mut C, provider: C::Rust, destroy: fn(&C::Rust))
where
    C::Rust: Send + 'static,
{
    if out.is_null() {
        engine.push_prefinalize(Box::new(move || destroy(&provider)));
    } else {
        // SAFETY: non-NULL, writable by the contract.
        unsafe { *out = boxed_into_c::<C>(provider) };
    }
}

/// Hands a value to C as `*mut C`.
pub fn boxed_into_c<C: Owned>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(value)) as *mut C
}

/// Borrows the value behind a C handle (None for NULL).
///
/// # Safety
/// `ptr` must be NULL or come from [`boxed_into_c`] and not be freed.
pub unsafe fn boxed_ref<'a, C: Owned>(ptr: *mut C) -> Option<&'a C::Rust> {
    // SAFETY: by the contract `ptr` is NULL or a live Box<C::Rust> pointer
    // from boxed_into_c (the C type only names the Rust type).
    unsafe { (ptr as *const C::Rust).as_ref() }
}

/// Borrows the value behind a C handle mutably (None for NULL).
///
/// # Safety
/// As [`boxed_ref`], and no other reference to the value may be live
/// (the C caller does not use the handle concurrently).
pub unsafe fn boxed_mut<'a, C: Owned>(ptr: *mut C) -> Option<&'a mut C::Rust> {
    // SAFETY: by the contract `ptr` is NULL or a live Box<C::Rust> pointer
    // that nobody else borrows now.
    unsafe { (ptr as *mut C::Rust).as_mut() }
}

/// Takes the value back from C (None for NULL).
///
/// # Safety
/// `ptr` must be NULL or come from [`boxed_into_c`] and not be freed; it
/// must not be used afterwards.
pub unsafe fn boxed_free<C: Owned>(ptr: *mut C) -> Option<C::Rust> {
    if ptr.is_null() {
        None
    } else {
        // SAFETY: non-NULL, so by the contract a live Box<C::Rust> from
        // boxed_into_c, never used again by the caller.
        Some(*unsafe { Box::from_raw(ptr as *mut C::Rust) })
    }
}

/// Lends a proc to C for the duration of one proc callback.
pub fn proc_into_c(proc: *mut Proc) -> hg_proc_t {
    proc as hg_proc_t
}

/// Borrows the proc behind a C handle (None for NULL).
///
/// # Safety
/// `proc` must be NULL or the pointer a running proc callback received
/// from [`proc_into_c`] (the proc outlives the callback, and nothing else
/// uses it meanwhile).
pub unsafe fn proc_mut<'a>(proc: hg_proc_t) -> Option<&'a mut Proc> {
    // SAFETY: by the contract NULL or a live, otherwise unused Proc.
    unsafe { (proc as *mut Proc).as_mut() }
}
