//! Argobots' C API as Margo programs use it (`abt.h`, which `margo.h`
//! includes): mutexes, condition variables, readers-writer locks,
//! eventuals, barriers and user-level threads on a Margo pool. Each object
//! is a `rpc::sync` value in a Box; waits lend the handler's execution
//! stream (see `rpc/sync/mod.rs`). Return values are Argobots' codes;
//! a NULL handle gets the object's `ABT_ERR_INV_*` code, never a crash.

#![allow(non_camel_case_types)]

use super::callback::CCallback;
use super::handles::{boxed_free, boxed_into_c, boxed_mut, boxed_ref, pool_anywhere, Owned};
use super::panic::guard;
use crate::rpc::sync::{Barrier, Cond, Eventual, Future, Mutex, RwLock, TimedOut, Ult, WhenReady};
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub type ABT_bool = c_int;

pub const ABT_SUCCESS: c_int = 0;
pub const ABT_ERR_UNINITIALIZED: c_int = 1;
pub const ABT_ERR_MEM: c_int = 2;
pub const ABT_ERR_OTHER: c_int = 3;
pub const ABT_ERR_INV_XSTREAM: c_int = 4;
pub const ABT_ERR_INV_SCHED: c_int = 7;
pub const ABT_ERR_INV_SCHED_PREDEF: c_int = 9;
pub const ABT_ERR_INV_POOL: c_int = 12;
pub const ABT_ERR_INV_POOL_KIND: c_int = 13;
pub const ABT_ERR_INV_POOL_ACCESS: c_int = 14;
pub const ABT_ERR_INV_TASK: c_int = 18;
pub const ABT_ERR_INV_KEY: c_int = 19;
pub const ABT_ERR_XSTREAM: c_int = 29;
pub const ABT_ERR_POOL: c_int = 34;
pub const ABT_ERR_SYS: c_int = 54;
pub const ABT_ERR_INV_THREAD: c_int = 16;
pub const ABT_ERR_INV_THREAD_ATTR: c_int = 17;
pub const ABT_ERR_INV_MUTEX: c_int = 20;
pub const ABT_ERR_INV_MUTEX_ATTR: c_int = 21;
pub const ABT_ERR_INV_COND: c_int = 22;
pub const ABT_ERR_INV_RWLOCK: c_int = 23;
pub const ABT_ERR_INV_EVENTUAL: c_int = 24;
pub const ABT_ERR_INV_FUTURE: c_int = 25;
pub const ABT_ERR_INV_BARRIER: c_int = 26;
pub const ABT_ERR_INV_TIMER: c_int = 27;
pub const ABT_ERR_INV_ARG: c_int = 53;
pub const ABT_ERR_THREAD: c_int = 36;
pub const ABT_ERR_MUTEX: c_int = 39;
pub const ABT_ERR_MUTEX_LOCKED: c_int = 40;
pub const ABT_ERR_COND: c_int = 41;
pub const ABT_ERR_COND_TIMEDOUT: c_int = 42;
pub const ABT_ERR_RWLOCK: c_int = 43;
pub const ABT_ERR_EVENTUAL: c_int = 44;
pub const ABT_ERR_FUTURE: c_int = 45;
pub const ABT_ERR_BARRIER: c_int = 46;
pub const ABT_ERR_FEATURE_NA: c_int = 51;

/// Opaque pool handle (`ABT_pool`); borrows one of an engine's pools.
pub struct ABT_pool_opaque {
    _private: [u8; 0],
}
pub type ABT_pool = *mut ABT_pool_opaque;

/// Opaque execution stream (`ABT_xstream`): one of a margo instance's
/// streams (`margo_find_xstream_by_*`), one the program made
/// (`ABT_xstream_create*`), or the primary stream (see `abt_xstream.rs`).
pub struct ABT_xstream_opaque {
    _private: [u8; 0],
}
pub type ABT_xstream = *mut ABT_xstream_opaque;

/// Opaque mutex (`ABT_mutex`): a Box from `ABT_mutex_create`, or the
/// program's own `ABT_mutex_memory` (the same 64-byte layout, see
/// `rpc/sync/locks.rs`), which is never freed here.
pub struct ABT_mutex_opaque {
    _private: [u8; 0],
}
pub type ABT_mutex = *mut ABT_mutex_opaque;
impl Owned for ABT_mutex_opaque {
    type Rust = Mutex;
}

/// Opaque mutex attributes (`ABT_mutex_attr`): whether it is recursive.
pub struct ABT_mutex_attr_opaque {
    _private: [u8; 0],
}
pub type ABT_mutex_attr = *mut ABT_mutex_attr_opaque;
impl Owned for ABT_mutex_attr_opaque {
    type Rust = MutexAttr;
}
#[derive(Default)]
pub struct MutexAttr {
    recursive: bool,
}

/// Opaque condition variable (`ABT_cond`): a Box from `ABT_cond_create`,
/// or the program's own `ABT_cond_memory`.
pub struct ABT_cond_opaque {
    _private: [u8; 0],
}
pub type ABT_cond = *mut ABT_cond_opaque;
impl Owned for ABT_cond_opaque {
    type Rust = Cond;
}

/// Opaque readers-writer lock (`ABT_rwlock`).
pub struct ABT_rwlock_opaque {
    _private: [u8; 0],
}
pub type ABT_rwlock = *mut ABT_rwlock_opaque;
impl Owned for ABT_rwlock_opaque {
    type Rust = RwLock;
}

/// Opaque eventual (`ABT_eventual`).
pub struct ABT_eventual_opaque {
    _private: [u8; 0],
}
pub type ABT_eventual = *mut ABT_eventual_opaque;
impl Owned for ABT_eventual_opaque {
    type Rust = Eventual;
}

/// Opaque future (`ABT_future`).
pub struct ABT_future_opaque {
    _private: [u8; 0],
}
pub type ABT_future = *mut ABT_future_opaque;
impl Owned for ABT_future_opaque {
    type Rust = Future;
}

/// Opaque barrier (`ABT_barrier`).
pub struct ABT_barrier_opaque {
    _private: [u8; 0],
}
pub type ABT_barrier = *mut ABT_barrier_opaque;
impl Owned for ABT_barrier_opaque {
    type Rust = Barrier;
}

/// Opaque user-level thread (`ABT_thread`).
pub struct ABT_thread_opaque {
    _private: [u8; 0],
}
pub type ABT_thread = *mut ABT_thread_opaque;
impl Owned for ABT_thread_opaque {
    type Rust = Ult;
}

/// Opaque thread attributes (`ABT_thread_attr`). The stack size is kept
/// but not applied: a thread's function runs on its execution stream's
/// own thread and stack.
pub struct ABT_thread_attr_opaque {
    _private: [u8; 0],
}
pub type ABT_thread_attr = *mut ABT_thread_attr_opaque;
impl Owned for ABT_thread_attr_opaque {
    type Rust = ThreadAttr;
}
#[derive(Default)]
pub struct ThreadAttr {
    stacksize: usize,
}

/// Opaque stopwatch (`ABT_timer`): a start and a stop time in seconds
/// (`ABT_get_wtime`'s clock).
pub struct ABT_timer_opaque {
    _private: [u8; 0],
}
pub type ABT_timer = *mut ABT_timer_opaque;
impl Owned for ABT_timer_opaque {
    type Rust = Stopwatch;
}
#[derive(Default, Clone, Copy)]
pub struct Stopwatch {
    start: f64,
    stop: f64,
}

/// How many `ABT_init` calls are not yet matched by `ABT_finalize`.
static INITS: AtomicUsize = AtomicUsize::new(0);

/// Starts the Argobots subset. Nothing needs starting (`margo_init` works
/// without it); the count answers `ABT_initialized`.
#[no_mangle]
pub extern "C" fn ABT_init(_argc: c_int, _argv: *mut *mut c_char) -> c_int {
    INITS.fetch_add(1, Ordering::SeqCst);
    ABT_SUCCESS
}

#[no_mangle]
pub extern "C" fn ABT_finalize() -> c_int {
    match INITS.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
        Ok(_) => ABT_SUCCESS,
        Err(_) => ABT_ERR_UNINITIALIZED,
    }
}

/// `ABT_SUCCESS` once `ABT_init` was called (and not finalized) or while a
/// margo instance lives (`margo_init` initializes Argobots upstream).
#[no_mangle]
pub extern "C" fn ABT_initialized() -> c_int {
    if INITS.load(Ordering::SeqCst) > 0 || super::handles::any_live_instance() {
        ABT_SUCCESS
    } else {
        ABT_ERR_UNINITIALIZED
    }
}

/// Writes the name of an Argobots error code into `str` (if not NULL) and
/// its length into `len` (if not NULL), as `ABT_error_get_str` does.
///
/// # Safety
/// `str`, if not NULL, must have room for the name and its terminating
/// NUL (ask with `str` NULL first); `len` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_error_get_str(err: c_int, str: *mut c_char, len: *mut usize) -> c_int {
    guard("ABT_error_get_str", ABT_ERR_OTHER, || {
        let name = error_name(err);
        if !len.is_null() {
            // SAFETY: non-NULL and writable by the contract.
            unsafe { *len = name.len() };
        }
        if !str.is_null() {
            // SAFETY: by the contract `str` has room for the name and a NUL.
            unsafe {
                std::ptr::copy_nonoverlapping(name.as_ptr().cast::<c_char>(), str, name.len());
                *str.add(name.len()) = 0;
            }
        }
        ABT_SUCCESS
    })
}

fn error_name(err: c_int) -> &'static str {
    match err {
        ABT_SUCCESS => "ABT_SUCCESS",
        ABT_ERR_UNINITIALIZED => "ABT_ERR_UNINITIALIZED",
        ABT_ERR_MEM => "ABT_ERR_MEM",
        ABT_ERR_OTHER => "ABT_ERR_OTHER",
        ABT_ERR_INV_XSTREAM => "ABT_ERR_INV_XSTREAM",
        ABT_ERR_INV_SCHED => "ABT_ERR_INV_SCHED",
        ABT_ERR_INV_SCHED_PREDEF => "ABT_ERR_INV_SCHED_PREDEF",
        ABT_ERR_INV_POOL => "ABT_ERR_INV_POOL",
        ABT_ERR_INV_POOL_KIND => "ABT_ERR_INV_POOL_KIND",
        ABT_ERR_INV_POOL_ACCESS => "ABT_ERR_INV_POOL_ACCESS",
        ABT_ERR_INV_TASK => "ABT_ERR_INV_TASK",
        ABT_ERR_INV_KEY => "ABT_ERR_INV_KEY",
        ABT_ERR_XSTREAM => "ABT_ERR_XSTREAM",
        ABT_ERR_POOL => "ABT_ERR_POOL",
        ABT_ERR_SYS => "ABT_ERR_SYS",
        ABT_ERR_INV_THREAD => "ABT_ERR_INV_THREAD",
        ABT_ERR_INV_THREAD_ATTR => "ABT_ERR_INV_THREAD_ATTR",
        ABT_ERR_INV_MUTEX => "ABT_ERR_INV_MUTEX",
        ABT_ERR_INV_MUTEX_ATTR => "ABT_ERR_INV_MUTEX_ATTR",
        ABT_ERR_INV_COND => "ABT_ERR_INV_COND",
        ABT_ERR_INV_RWLOCK => "ABT_ERR_INV_RWLOCK",
        ABT_ERR_INV_EVENTUAL => "ABT_ERR_INV_EVENTUAL",
        ABT_ERR_INV_BARRIER => "ABT_ERR_INV_BARRIER",
        ABT_ERR_INV_TIMER => "ABT_ERR_INV_TIMER",
        ABT_ERR_INV_ARG => "ABT_ERR_INV_ARG",
        ABT_ERR_THREAD => "ABT_ERR_THREAD",
        ABT_ERR_MUTEX => "ABT_ERR_MUTEX",
        ABT_ERR_MUTEX_LOCKED => "ABT_ERR_MUTEX_LOCKED",
        ABT_ERR_COND => "ABT_ERR_COND",
        ABT_ERR_COND_TIMEDOUT => "ABT_ERR_COND_TIMEDOUT",
        ABT_ERR_RWLOCK => "ABT_ERR_RWLOCK",
        ABT_ERR_EVENTUAL => "ABT_ERR_EVENTUAL",
        ABT_ERR_INV_FUTURE => "ABT_ERR_INV_FUTURE",
        ABT_ERR_FUTURE => "ABT_ERR_FUTURE",
        ABT_ERR_BARRIER => "ABT_ERR_BARRIER",
        ABT_ERR_FEATURE_NA => "ABT_ERR_FEATURE_NA",
        _ => "ABT_ERR_UNKNOWN",
    }
}

/// Stores a new object in `*out`; `ABT_ERR_INV_ARG` for a NULL `out`.
///
/// # Safety
/// `out` must be NULL or writable.
pub(super) unsafe fn create<C: Owned>(entry: &'static str, out: *mut *mut C, value: impl FnOnce() -> C::Rust) -> c_int {
    guard(entry, ABT_ERR_OTHER, || {
        if out.is_null() {
            return ABT_ERR_INV_ARG;
        }
        // SAFETY: non-NULL and writable by the contract.
        unsafe { *out = boxed_into_c(value()) };
        ABT_SUCCESS
    })
}

/// Frees `*handle` and sets it to NULL; `invalid` for a NULL handle.
///
/// # Safety
/// `handle` must be NULL or point to NULL or to a handle of this kind that
/// no other thread uses any more.
pub(super) unsafe fn free<C: Owned>(entry: &'static str, handle: *mut *mut C, invalid: c_int) -> c_int {
    guard(entry, ABT_ERR_OTHER, || {
        if handle.is_null() {
            return ABT_ERR_INV_ARG;
        }
        // SAFETY: non-NULL and readable by the contract.
        let h = unsafe { *handle };
        if h.is_null() {
            return invalid;
        }
        // SAFETY: a live handle of this kind that the caller gives up.
        drop(unsafe { boxed_free(h) });
        // SAFETY: as above, writable.
        unsafe { *handle = std::ptr::null_mut() };
        ABT_SUCCESS
    })
}

/// Runs `f` on the object behind `handle`; `invalid` for NULL.
///
/// # Safety
/// `handle` must be NULL or a live handle of this kind.
pub(super) unsafe fn with<C: Owned>(
    entry: &'static str,
    handle: *mut C,
    invalid: c_int,
    f: impl FnOnce(&C::Rust) -> c_int,
) -> c_int {
    guard(entry, ABT_ERR_OTHER, || {
        // SAFETY: NULL or a live handle by the contract.
        match unsafe { boxed_ref(handle) } {
            Some(v) => f(v),
            None => invalid,
        }
    })
}

// ---- mutexes ----------------------------------------------------------

/// # Safety
/// `newmutex` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_mutex_create(newmutex: *mut ABT_mutex) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { create("ABT_mutex_create", newmutex, || Mutex::new(false)) }
}

/// # Safety
/// `attr` must be NULL (`ABT_MUTEX_ATTR_NULL`) or a live attribute
/// handle; `newmutex` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_mutex_create_with_attr(attr: ABT_mutex_attr, newmutex: *mut ABT_mutex) -> c_int {
    // SAFETY: NULL or a live handle by the contract.
    let recursive = unsafe { boxed_ref(attr) }.is_some_and(|a| a.recursive);
    // SAFETY: forwarded contract.
    unsafe { create("ABT_mutex_create_with_attr", newmutex, || Mutex::new(recursive)) }
}

/// # Safety
/// See `free`: `mutex` NULL, or pointing to NULL or to an unused mutex.
#[no_mangle]
pub unsafe extern "C" fn ABT_mutex_free(mutex: *mut ABT_mutex) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { free("ABT_mutex_free", mutex, ABT_ERR_INV_MUTEX) }
}

/// # Safety
/// `mutex` must be NULL or a live mutex.
#[no_mangle]
pub unsafe extern "C" fn ABT_mutex_lock(mutex: ABT_mutex) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_mutex_lock", mutex, ABT_ERR_INV_MUTEX, |m| {
            m.lock();
            ABT_SUCCESS
        })
    }
}

/// Argobots' busy-waiting lock; ours polls briefly and then sleeps, as
/// `ABT_mutex_lock` does (a busy wait beside busy cores loses the core).
///
/// # Safety
/// `mutex` must be NULL or a live mutex.
#[no_mangle]
pub unsafe extern "C" fn ABT_mutex_spinlock(mutex: ABT_mutex) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { ABT_mutex_lock(mutex) }
}

/// `ABT_ERR_MUTEX_LOCKED` if another thread holds it.
///
/// # Safety
/// `mutex` must be NULL or a live mutex.
#[no_mangle]
pub unsafe extern "C" fn ABT_mutex_trylock(mutex: ABT_mutex) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_mutex_trylock", mutex, ABT_ERR_INV_MUTEX, |m| if m.try_lock() { ABT_SUCCESS } else { ABT_ERR_MUTEX_LOCKED })
    }
}

/// `ABT_ERR_MUTEX` (and a warning) for a mutex that is not locked, or a
/// recursive one held by another thread.
///
/// # Safety
/// `mutex` must be NULL or a live mutex.
#[no_mangle]
pub unsafe extern "C" fn ABT_mutex_unlock(mutex: ABT_mutex) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_mutex_unlock", mutex, ABT_ERR_INV_MUTEX, |m| match m.unlock() {
            Ok(()) => ABT_SUCCESS,
            Err(_) => {
                crate::warning!("ABT_mutex_unlock: the mutex is not held by the caller; left as it is");
                ABT_ERR_MUTEX
            }
        })
    }
}

/// # Safety
/// `newattr` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_mutex_attr_create(newattr: *mut ABT_mutex_attr) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { create("ABT_mutex_attr_create", newattr, MutexAttr::default) }
}

/// # Safety
/// See `free`.
#[no_mangle]
pub unsafe extern "C" fn ABT_mutex_attr_free(attr: *mut ABT_mutex_attr) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { free("ABT_mutex_attr_free", attr, ABT_ERR_INV_MUTEX_ATTR) }
}

/// # Safety
/// `attr` must be NULL or a live attribute handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn ABT_mutex_attr_set_recursive(attr: ABT_mutex_attr, recursive: ABT_bool) -> c_int {
    guard("ABT_mutex_attr_set_recursive", ABT_ERR_OTHER, || {
        // SAFETY: NULL or a live attribute handle that no other thread uses
        // (the contract), so this is its only reference.
        match unsafe { boxed_mut(attr) } {
            Some(a) => {
                a.recursive = recursive != 0;
                ABT_SUCCESS
            }
            None => ABT_ERR_INV_MUTEX_ATTR,
        }
    })
}

// ---- condition variables ------------------------------------------------

/// # Safety
/// `newcond` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_cond_create(newcond: *mut ABT_cond) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { create("ABT_cond_create", newcond, Cond::default) }
}

/// # Safety
/// See `free`.
#[no_mangle]
pub unsafe extern "C" fn ABT_cond_free(cond: *mut ABT_cond) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { free("ABT_cond_free", cond, ABT_ERR_INV_COND) }
}

/// # Safety
/// `cond` and `mutex` must each be NULL or live; the caller holds `mutex`.
#[no_mangle]
pub unsafe extern "C" fn ABT_cond_wait(cond: ABT_cond, mutex: ABT_mutex) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { cond_wait("ABT_cond_wait", cond, mutex, None) }
}

/// Waits until signalled or until `abstime` (wall-clock time, as
/// `gettimeofday` gives it) passes: then `ABT_ERR_COND_TIMEDOUT`.
///
/// # Safety
/// As `ABT_cond_wait`; `abstime` must be NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn ABT_cond_timedwait(cond: ABT_cond, mutex: ABT_mutex, abstime: *const libc::timespec) -> c_int {
    if abstime.is_null() {
        return ABT_ERR_INV_ARG;
    }
    // SAFETY: non-NULL and readable by the contract.
    let abstime = unsafe { *abstime };
    let Some(deadline) = deadline_of(&abstime) else {
        return ABT_ERR_INV_ARG;
    };
    // SAFETY: forwarded contract.
    unsafe { cond_wait("ABT_cond_timedwait", cond, mutex, Some(deadline)) }
}

/// The monotonic instant of a wall-clock deadline (None if malformed).
fn deadline_of(abstime: &libc::timespec) -> Option<Instant> {
    if abstime.tv_sec < 0 || !(0..1_000_000_000).contains(&abstime.tv_nsec) {
        return None;
    }
    let wall = Duration::new(abstime.tv_sec as u64, abstime.tv_nsec as u32);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let left = wall.saturating_sub(now);
    Some(Instant::now() + left.min(Duration::from_secs(100 * 365 * 86_400)))
}

/// # Safety
/// As `ABT_cond_wait`.
unsafe fn cond_wait(entry: &'static str, cond: ABT_cond, mutex: ABT_mutex, deadline: Option<Instant>) -> c_int {
    guard(entry, ABT_ERR_OTHER, || {
        // SAFETY: NULL or live handles by the contract.
        let (Some(c), Some(m)) = (unsafe { boxed_ref(cond) }, unsafe { boxed_ref(mutex) }) else {
            return if cond.is_null() { ABT_ERR_INV_COND } else { ABT_ERR_INV_MUTEX };
        };
        match c.wait_until(m, deadline) {
            Ok(Ok(())) => ABT_SUCCESS,
            Ok(Err(TimedOut)) => ABT_ERR_COND_TIMEDOUT,
            Err(_) => {
                crate::warning!("{entry}: the caller does not hold the mutex; not waiting");
                ABT_ERR_MUTEX
            }
        }
    })
}

/// # Safety
/// `cond` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ABT_cond_signal(cond: ABT_cond) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_cond_signal", cond, ABT_ERR_INV_COND, |c| {
            c.signal();
            ABT_SUCCESS
        })
    }
}

/// # Safety
/// `cond` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ABT_cond_broadcast(cond: ABT_cond) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_cond_broadcast", cond, ABT_ERR_INV_COND, |c| {
            c.broadcast();
            ABT_SUCCESS
        })
    }
}

// ---- readers-writer locks ---------------------------------------------

/// # Safety
/// `newrwlock` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_rwlock_create(newrwlock: *mut ABT_rwlock) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { create("ABT_rwlock_create", newrwlock, RwLock::default) }
}

/// # Safety
/// See `free`.
#[no_mangle]
pub unsafe extern "C" fn ABT_rwlock_free(rwlock: *mut ABT_rwlock) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { free("ABT_rwlock_free", rwlock, ABT_ERR_INV_RWLOCK) }
}

/// # Safety
/// `rwlock` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ABT_rwlock_rdlock(rwlock: ABT_rwlock) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_rwlock_rdlock", rwlock, ABT_ERR_INV_RWLOCK, |l| {
            l.read();
            ABT_SUCCESS
        })
    }
}

/// # Safety
/// `rwlock` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ABT_rwlock_wrlock(rwlock: ABT_rwlock) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_rwlock_wrlock", rwlock, ABT_ERR_INV_RWLOCK, |l| {
            l.write();
            ABT_SUCCESS
        })
    }
}

/// `ABT_ERR_RWLOCK` (and a warning) if nobody holds it.
///
/// # Safety
/// `rwlock` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ABT_rwlock_unlock(rwlock: ABT_rwlock) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_rwlock_unlock", rwlock, ABT_ERR_INV_RWLOCK, |l| match l.unlock() {
            Ok(()) => ABT_SUCCESS,
            Err(_) => {
                crate::warning!("ABT_rwlock_unlock: the lock is not held; left as it is");
                ABT_ERR_RWLOCK
            }
        })
    }
}

// ---- eventuals ----------------------------------------------------------

/// An eventual carrying `nbytes` bytes (0: a plain event).
///
/// # Safety
/// `neweventual` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_eventual_create(nbytes: c_int, neweventual: *mut ABT_eventual) -> c_int {
    let Ok(size) = usize::try_from(nbytes) else {
        crate::warning!("ABT_eventual_create: negative size {nbytes}");
        return ABT_ERR_INV_ARG;
    };
    let Some(eventual) = Eventual::new(size) else {
        crate::warning!("ABT_eventual_create: no memory for {size} bytes");
        return ABT_ERR_MEM;
    };
    // SAFETY: forwarded contract.
    unsafe { create("ABT_eventual_create", neweventual, || eventual) }
}

/// # Safety
/// See `free`.
#[no_mangle]
pub unsafe extern "C" fn ABT_eventual_free(eventual: *mut ABT_eventual) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { free("ABT_eventual_free", eventual, ABT_ERR_INV_EVENTUAL) }
}

/// Waits until the eventual is set; `*value` (if `value` is not NULL)
/// then points to its bytes, valid until it is freed.
///
/// # Safety
/// `eventual` must be NULL or live; `value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_eventual_wait(eventual: ABT_eventual, value: *mut *mut c_void) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_eventual_wait", eventual, ABT_ERR_INV_EVENTUAL, |ev| {
            ev.wait();
            if !value.is_null() {
                // SAFETY: non-NULL and writable by the contract.
                *value = ev.value_ptr().cast();
            }
            ABT_SUCCESS
        })
    }
}

/// Whether the eventual is set, without waiting.
///
/// # Safety
/// `eventual` must be NULL or live; `value` and `is_ready` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_eventual_test(eventual: ABT_eventual, value: *mut *mut c_void, is_ready: *mut ABT_bool) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_eventual_test", eventual, ABT_ERR_INV_EVENTUAL, |ev| {
            let ready = ev.is_set();
            if !is_ready.is_null() {
                // SAFETY: non-NULL and writable by the contract.
                *is_ready = c_int::from(ready);
            }
            if ready && !value.is_null() {
                // SAFETY: as above.
                *value = ev.value_ptr().cast();
            }
            ABT_SUCCESS
        })
    }
}

/// Sets the eventual, copying `nbytes` bytes from `value`, and wakes its
/// waiters. `ABT_ERR_EVENTUAL` if it is already set, `ABT_ERR_INV_ARG` for
/// more bytes than it was created for.
///
/// # Safety
/// `eventual` must be NULL or live; `value` readable for `nbytes` bytes
/// (or NULL with `nbytes` 0).
#[no_mangle]
pub unsafe extern "C" fn ABT_eventual_set(eventual: ABT_eventual, value: *const c_void, nbytes: c_int) -> c_int {
    let len = match usize::try_from(nbytes) {
        Ok(n) if n == 0 || !value.is_null() => n,
        _ => return ABT_ERR_INV_ARG,
    };
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_eventual_set", eventual, ABT_ERR_INV_EVENTUAL, |ev| {
            let bytes = if len == 0 { &[][..] } else { std::slice::from_raw_parts(value.cast::<u8>(), len) };
            match ev.set(bytes) {
                Ok(()) => ABT_SUCCESS,
                Err(e) => {
                    crate::warning!("ABT_eventual_set: {e}");
                    if matches!(e, crate::rpc::sync::EventualError::AlreadySet) {
                        ABT_ERR_EVENTUAL
                    } else {
                        ABT_ERR_INV_ARG
                    }
                }
            }
        })
    }
}

/// # Safety
/// `eventual` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ABT_eventual_reset(eventual: ABT_eventual) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_eventual_reset", eventual, ABT_ERR_INV_EVENTUAL, |ev| {
            ev.reset();
            ABT_SUCCESS
        })
    }
}

// ---- futures ------------------------------------------------------------

/// A future of `num_compartments` compartments; `cb_func` (if not NULL) is
/// called, by the setter of the last compartment, with the array of the
/// values in the order they were set.
///
/// # Safety
/// `cb_func` must be callable with such an array on any thread; `newfuture`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_future_create(
    num_compartments: u32,
    cb_func: Option<unsafe extern "C" fn(*mut *mut c_void)>,
    newfuture: *mut ABT_future,
) -> c_int {
    let when_ready = cb_func.map(|f| {
        let w: WhenReady = std::sync::Arc::new(move |values: &mut [usize]| {
            // SAFETY: the caller's function, given the array of the values
            // (usize and pointers have one size and layout here), which
            // lives for the call.
            unsafe { f(values.as_mut_ptr().cast::<*mut c_void>()) }
        });
        w
    });
    // SAFETY: forwarded contract.
    unsafe { create("ABT_future_create", newfuture, || Future::new(num_compartments as usize, when_ready)) }
}

/// # Safety
/// See `free`.
#[no_mangle]
pub unsafe extern "C" fn ABT_future_free(future: *mut ABT_future) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { free("ABT_future_free", future, ABT_ERR_INV_FUTURE) }
}

/// Fills the next compartment (`ABT_ERR_FUTURE` if all are set).
///
/// # Safety
/// `future` must be NULL or a live future.
#[no_mangle]
pub unsafe extern "C" fn ABT_future_set(future: ABT_future, value: *mut c_void) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_future_set", future, ABT_ERR_INV_FUTURE, |f| match f.set(value as usize) {
            Ok(()) => ABT_SUCCESS,
            Err(e) => {
                crate::warning!("ABT_future_set: {e}");
                ABT_ERR_FUTURE
            }
        })
    }
}

/// Waits (the handler's stream lent) until every compartment is set.
///
/// # Safety
/// `future` must be NULL or a live future.
#[no_mangle]
pub unsafe extern "C" fn ABT_future_wait(future: ABT_future) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_future_wait", future, ABT_ERR_INV_FUTURE, |f| {
            f.wait();
            ABT_SUCCESS
        })
    }
}

/// # Safety
/// `future` must be NULL or a live future; `is_ready` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_future_test(future: ABT_future, is_ready: *mut ABT_bool) -> c_int {
    if is_ready.is_null() {
        return ABT_ERR_INV_ARG;
    }
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_future_test", future, ABT_ERR_INV_FUTURE, |f| {
            // SAFETY: checked non-NULL, writable by the contract.
            *is_ready = f.is_ready() as ABT_bool;
            ABT_SUCCESS
        })
    }
}

/// Empties every compartment.
///
/// # Safety
/// `future` must be NULL or a live future.
#[no_mangle]
pub unsafe extern "C" fn ABT_future_reset(future: ABT_future) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_future_reset", future, ABT_ERR_INV_FUTURE, |f| {
            f.reset();
            ABT_SUCCESS
        })
    }
}

// ---- barriers -----------------------------------------------------------

/// # Safety
/// `newbarrier` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_barrier_create(num_waiters: u32, newbarrier: *mut ABT_barrier) -> c_int {
    if num_waiters == 0 {
        return ABT_ERR_INV_ARG;
    }
    // SAFETY: forwarded contract.
    unsafe { create("ABT_barrier_create", newbarrier, || Barrier::new(num_waiters as usize)) }
}

/// # Safety
/// See `free`.
#[no_mangle]
pub unsafe extern "C" fn ABT_barrier_free(barrier: *mut ABT_barrier) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { free("ABT_barrier_free", barrier, ABT_ERR_INV_BARRIER) }
}

/// Changes the number of waiters; `ABT_ERR_BARRIER` while some wait.
///
/// # Safety
/// `barrier` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ABT_barrier_reinit(barrier: ABT_barrier, num_waiters: u32) -> c_int {
    if num_waiters == 0 {
        return ABT_ERR_INV_ARG;
    }
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_barrier_reinit", barrier, ABT_ERR_INV_BARRIER, |b| {
            if b.reinit(num_waiters as usize) {
                ABT_SUCCESS
            } else {
                ABT_ERR_BARRIER
            }
        })
    }
}

/// # Safety
/// `barrier` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ABT_barrier_wait(barrier: ABT_barrier) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_barrier_wait", barrier, ABT_ERR_INV_BARRIER, |b| {
            b.wait();
            ABT_SUCCESS
        })
    }
}

/// # Safety
/// `barrier` must be NULL or live; `num_waiters` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_barrier_get_num_waiters(barrier: ABT_barrier, num_waiters: *mut u32) -> c_int {
    if num_waiters.is_null() {
        return ABT_ERR_INV_ARG;
    }
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_barrier_get_num_waiters", barrier, ABT_ERR_INV_BARRIER, |b| {
            // SAFETY: non-NULL and writable by the contract.
            *num_waiters = u32::try_from(b.size()).unwrap_or(u32::MAX);
            ABT_SUCCESS
        })
    }
}

// ---- user-level threads -------------------------------------------------

/// Runs `thread_func(arg)` as a job of `pool` (a pool of a live margo
/// instance: `margo_get_handler_pool`, a Bedrock provider's pool). With
/// `newthread` NULL the thread is not joinable and frees itself.
///
/// # Safety
/// `pool` must be NULL or a pool handle; `thread_func` a function that may
/// be called with `arg` on another thread; `attr` NULL or a live attribute
/// handle; `newthread` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_create(
    pool: ABT_pool,
    thread_func: Option<unsafe extern "C" fn(*mut c_void)>,
    arg: *mut c_void,
    _attr: ABT_thread_attr,
    newthread: *mut ABT_thread,
) -> c_int {
    guard("ABT_thread_create", ABT_ERR_OTHER, || {
        let Some(func) = thread_func else {
            return ABT_ERR_INV_ARG;
        };
        let Some(pool) = pool_anywhere(pool) else {
            crate::warning!("ABT_thread_create: the pool is NULL or not a pool of a live margo instance");
            return ABT_ERR_INV_POOL;
        };
        let call = CCallback::new(func, arg);
        let ult = Ult::spawn(&pool, move || call.call());
        if !newthread.is_null() {
            // SAFETY: non-NULL and writable by the contract.
            unsafe { *newthread = boxed_into_c(ult) };
        }
        ABT_SUCCESS
    })
}

/// Waits until the thread's function returned. `ABT_ERR_INV_THREAD` for
/// a thread joining itself.
///
/// # Safety
/// `thread` must be NULL or a live thread handle.
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_join(thread: ABT_thread) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_thread_join", thread, ABT_ERR_INV_THREAD, |t| match t.join() {
            Ok(()) => ABT_SUCCESS,
            Err(_) => ABT_ERR_INV_THREAD,
        })
    }
}

/// Joins the thread, then frees its handle and sets it to NULL.
///
/// # Safety
/// See `free`.
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_free(thread: *mut ABT_thread) -> c_int {
    if !thread.is_null() {
        // SAFETY: non-NULL and readable by the contract.
        let rc = unsafe { ABT_thread_join(*thread) };
        if rc != ABT_SUCCESS {
            return rc;
        }
    }
    // SAFETY: forwarded contract.
    unsafe { free("ABT_thread_free", thread, ABT_ERR_INV_THREAD) }
}

/// Joins `num_threads` threads of `thread_list` in order; the first error
/// stops there and is returned.
///
/// # Safety
/// `thread_list` must be NULL with `num_threads` 0, or hold `num_threads`
/// thread handles (each NULL or live).
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_join_many(num_threads: c_int, thread_list: *mut ABT_thread) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { for_each_thread(num_threads, thread_list, |t| ABT_thread_join(*t)) }
}

/// Joins and frees `num_threads` threads of `thread_list`, setting each
/// handle to NULL; the first error stops there and is returned.
///
/// # Safety
/// As `ABT_thread_join_many`, and no other thread uses the handles.
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_free_many(num_threads: c_int, thread_list: *mut ABT_thread) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { for_each_thread(num_threads, thread_list, |t| ABT_thread_free(t)) }
}

/// # Safety
/// As `ABT_thread_join_many`.
unsafe fn for_each_thread(n: c_int, list: *mut ABT_thread, mut f: impl FnMut(*mut ABT_thread) -> c_int) -> c_int {
    let Ok(n) = usize::try_from(n) else {
        return ABT_ERR_INV_ARG;
    };
    if n > 0 && list.is_null() {
        return ABT_ERR_INV_ARG;
    }
    for i in 0..n {
        // SAFETY: `list` holds `n` handles by the contract.
        let rc = f(unsafe { list.add(i) });
        if rc != ABT_SUCCESS {
            return rc;
        }
    }
    ABT_SUCCESS
}

/// Seconds since an arbitrary point in the past (a monotonic clock), for
/// measuring intervals.
#[no_mangle]
pub extern "C" fn ABT_get_wtime() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC exists
    // on every Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

// ---- timers (stopwatches) ------------------------------------------------

/// # Safety
/// `newtimer` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_timer_create(newtimer: *mut ABT_timer) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { create("ABT_timer_create", newtimer, Stopwatch::default) }
}

/// A copy of `timer` (its start and stop times).
///
/// # Safety
/// `timer` must be NULL or live; `newtimer` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_timer_dup(timer: ABT_timer, newtimer: *mut ABT_timer) -> c_int {
    // SAFETY: NULL or live by the contract.
    let Some(t) = (unsafe { boxed_ref(timer) }).copied() else { return ABT_ERR_INV_TIMER };
    // SAFETY: forwarded contract.
    unsafe { create("ABT_timer_dup", newtimer, || t) }
}

/// # Safety
/// See `free`.
#[no_mangle]
pub unsafe extern "C" fn ABT_timer_free(timer: *mut ABT_timer) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { free("ABT_timer_free", timer, ABT_ERR_INV_TIMER) }
}

/// Runs `f` on the stopwatch behind `timer`.
///
/// # Safety
/// `timer` must be NULL or a live timer no other thread uses meanwhile.
unsafe fn with_stopwatch(entry: &'static str, timer: ABT_timer, f: impl FnOnce(&mut Stopwatch) -> c_int) -> c_int {
    guard(entry, ABT_ERR_OTHER, || {
        // SAFETY: NULL or live and unshared by the contract.
        match unsafe { boxed_mut(timer) } {
            Some(t) => f(t),
            None => ABT_ERR_INV_TIMER,
        }
    })
}

/// # Safety
/// `timer` must be NULL or a live timer no other thread uses meanwhile.
#[no_mangle]
pub unsafe extern "C" fn ABT_timer_start(timer: ABT_timer) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with_stopwatch("ABT_timer_start", timer, |t| {
            t.start = ABT_get_wtime();
            ABT_SUCCESS
        })
    }
}

/// # Safety
/// As `ABT_timer_start`.
#[no_mangle]
pub unsafe extern "C" fn ABT_timer_stop(timer: ABT_timer) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with_stopwatch("ABT_timer_stop", timer, |t| {
            t.stop = ABT_get_wtime();
            ABT_SUCCESS
        })
    }
}

/// The seconds between the last start and stop.
///
/// # Safety
/// As `ABT_timer_start`; `secs` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_timer_read(timer: ABT_timer, secs: *mut f64) -> c_int {
    if secs.is_null() {
        return ABT_ERR_INV_ARG;
    }
    // SAFETY: forwarded contract.
    unsafe {
        with_stopwatch("ABT_timer_read", timer, |t| {
            // SAFETY: non-NULL and writable by the contract.
            *secs = t.stop - t.start;
            ABT_SUCCESS
        })
    }
}

/// Stops, then reads.
///
/// # Safety
/// As `ABT_timer_read`.
#[no_mangle]
pub unsafe extern "C" fn ABT_timer_stop_and_read(timer: ABT_timer, secs: *mut f64) -> c_int {
    // SAFETY: forwarded contract.
    match unsafe { ABT_timer_stop(timer) } {
        // SAFETY: forwarded contract.
        ABT_SUCCESS => unsafe { ABT_timer_read(timer, secs) },
        rc => rc,
    }
}

/// Stops, then adds the seconds measured to `*secs`.
///
/// # Safety
/// As `ABT_timer_read`.
#[no_mangle]
pub unsafe extern "C" fn ABT_timer_stop_and_add(timer: ABT_timer, secs: *mut f64) -> c_int {
    let mut took = 0.0;
    // SAFETY: forwarded contract; `took` is a local.
    let rc = unsafe { ABT_timer_stop_and_read(timer, &mut took) };
    if rc == ABT_SUCCESS {
        if secs.is_null() {
            return ABT_ERR_INV_ARG;
        }
        // SAFETY: non-NULL and writable by the contract.
        unsafe { *secs += took };
    }
    rc
}

/// What a start and a stop cost by themselves (measured).
///
/// # Safety
/// `overhead` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_timer_get_overhead(overhead: *mut f64) -> c_int {
    if overhead.is_null() {
        return ABT_ERR_INV_ARG;
    }
    let (mut a, mut b) = (0.0, 0.0);
    for _ in 0..16 {
        a = ABT_get_wtime();
        b = ABT_get_wtime();
    }
    // SAFETY: non-NULL and writable by the contract.
    unsafe { *overhead = (b - a).max(0.0) };
    ABT_SUCCESS
}

/// Lets the other handlers of the caller's execution stream run if work
/// is queued for it; elsewhere, yields the CPU once.
#[no_mangle]
pub extern "C" fn ABT_thread_yield() -> c_int {
    guard("ABT_thread_yield", ABT_ERR_OTHER, || {
        crate::rpc::sync::yield_now();
        ABT_SUCCESS
    })
}

/// Argobots 1.1's name for `ABT_thread_yield`.
#[no_mangle]
pub extern "C" fn ABT_self_yield() -> c_int {
    ABT_thread_yield()
}

/// # Safety
/// `newattr` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_attr_create(newattr: *mut ABT_thread_attr) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { create("ABT_thread_attr_create", newattr, ThreadAttr::default) }
}

/// # Safety
/// See `free`.
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_attr_free(attr: *mut ABT_thread_attr) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { free("ABT_thread_attr_free", attr, ABT_ERR_INV_THREAD_ATTR) }
}

/// Kept for `ABT_thread_attr_get_stacksize`; not applied (see
/// `ABT_thread_attr`).
///
/// # Safety
/// `attr` must be NULL or a live attribute handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_attr_set_stacksize(attr: ABT_thread_attr, stacksize: usize) -> c_int {
    guard("ABT_thread_attr_set_stacksize", ABT_ERR_OTHER, || {
        // SAFETY: NULL or a live attribute handle used by no other thread
        // (the contract).
        match unsafe { boxed_mut(attr) } {
            Some(a) => {
                a.stacksize = stacksize;
                ABT_SUCCESS
            }
            None => ABT_ERR_INV_THREAD_ATTR,
        }
    })
}

/// # Safety
/// `attr` must be NULL or live; `stacksize` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ABT_thread_attr_get_stacksize(attr: ABT_thread_attr, stacksize: *mut usize) -> c_int {
    if stacksize.is_null() {
        return ABT_ERR_INV_ARG;
    }
    // SAFETY: forwarded contract.
    unsafe {
        with("ABT_thread_attr_get_stacksize", attr, ABT_ERR_INV_THREAD_ATTR, |a| {
            // SAFETY: non-NULL and writable by the contract.
            *stacksize = a.stacksize;
            ABT_SUCCESS
        })
    }
}
