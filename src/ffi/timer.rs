//! Margo's timers (`margo-timer.h`): a C callback run on a pool some
//! milliseconds after `margo_timer_start`. Each `margo_timer_t` is a Box
//! holding an `rpc::alarm::Alarm` and the engine whose finalization fires
//! it if pending. Return values are margo's: 0, or -1 with an error logged.

#![allow(non_camel_case_types)]

use super::abt::ABT_pool;
use super::callback::CCallback;
use super::handles::{self, boxed_free, boxed_into_c, boxed_ref, margo_instance_id, Owned};
use super::margo::fail;
use super::panic::guard;
use crate::rpc::alarm::Alarm;
use crate::rpc::Engine;
use std::ffi::{c_int, c_void};
use std::time::Duration;

/// A timer's callback (`margo_timer_callback_fn`).
pub type margo_timer_callback_fn = Option<unsafe extern "C" fn(*mut c_void)>;

/// Opaque timer (`margo_timer_t`).
pub struct margo_timer {
    _private: [u8; 0],
}
pub type margo_timer_t = *mut margo_timer;

pub struct Timer {
    alarm: Alarm,
    /// Its finalize hook is registered there, under `alarm.key()`.
    engine: Engine,
}

impl Owned for margo_timer {
    type Rust = Timer;
}

/// A timer whose callback runs on the instance's handler pool.
///
/// # Safety
/// `cb_dat` must stay valid for every firing; `timer` must be NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn margo_timer_create(
    mid: margo_instance_id,
    cb_fn: margo_timer_callback_fn,
    cb_dat: *mut c_void,
    timer: *mut margo_timer_t,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { create("margo_timer_create", mid, cb_fn, cb_dat, None, timer) }
}

/// A timer whose callback runs on `pool` (`ABT_POOL_NULL`: the progress
/// pool).
///
/// # Safety
/// As `margo_timer_create`; `pool` NULL or a pool handle.
#[no_mangle]
pub unsafe extern "C" fn margo_timer_create_with_pool(
    mid: margo_instance_id,
    cb_fn: margo_timer_callback_fn,
    cb_dat: *mut c_void,
    pool: ABT_pool,
    timer: *mut margo_timer_t,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { create("margo_timer_create_with_pool", mid, cb_fn, cb_dat, Some(pool), timer) }
}

/// # Safety
/// As `margo_timer_create_with_pool`.
unsafe fn create(
    entry: &'static str,
    mid: margo_instance_id,
    cb_fn: margo_timer_callback_fn,
    cb_dat: *mut c_void,
    pool: Option<ABT_pool>,
    timer: *mut margo_timer_t,
) -> c_int {
    guard(entry, -1, || {
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => {
                fail(entry, e);
                return -1;
            }
        };
        let Some(func) = cb_fn else {
            fail(entry, "NULL callback");
            return -1;
        };
        if timer.is_null() {
            fail(entry, "NULL output pointer");
            return -1;
        }
        let pool = match pool {
            None => engine.handler_pool(),
            Some(p) if p.is_null() => engine.progress_pool(),
            Some(p) => match handles::pool_of(&engine, p) {
                Some(p) => p,
                None => {
                    fail(entry, "the pool is not one of this margo instance's");
                    return -1;
                }
            },
        };
        let call = CCallback::new(func, cb_dat);
        let alarm = Alarm::new(&pool, move || call.call());
        let weak = alarm.downgrade();
        engine.push_finalize_callback(
            alarm.key(),
            Box::new(move || {
                if let Some(a) = weak.upgrade() {
                    a.finalize();
                }
            }),
        );
        // SAFETY: non-NULL and writable by the contract.
        unsafe { *timer = boxed_into_c(Timer { alarm, engine }) };
        0
    })
}

/// Fires the callback `timeout_ms` from now. -1 if the timer is pending
/// (it may be started again once it fired), or its instance finalized.
///
/// # Safety
/// `timer` must be NULL or a live timer.
#[no_mangle]
pub unsafe extern "C" fn margo_timer_start(timer: margo_timer_t, timeout_ms: f64) -> c_int {
    guard("margo_timer_start", -1, || {
        // SAFETY: NULL or a live timer by the contract.
        let Some(t) = (unsafe { boxed_ref(timer) }) else {
            fail("margo_timer_start", "NULL timer");
            return -1;
        };
        // (Refuses NaN, negative and too large to represent.)
        let Ok(after) = Duration::try_from_secs_f64(timeout_ms / 1000.0) else {
            fail("margo_timer_start", format!("timeout {timeout_ms} ms is not a non-negative number of representable size"));
            return -1;
        };
        match t.alarm.start(after) {
            Ok(()) => 0,
            Err(e) => {
                fail("margo_timer_start", e);
                -1
            }
        }
    })
}

/// Unschedules the timer and waits for its callbacks that run (on other
/// threads); a firing queued but not running skips its callback.
///
/// # Safety
/// `timer` must be NULL or a live timer.
#[no_mangle]
pub unsafe extern "C" fn margo_timer_cancel(timer: margo_timer_t) -> c_int {
    guard("margo_timer_cancel", -1, || {
        // SAFETY: NULL or a live timer by the contract.
        match unsafe { boxed_ref(timer) } {
            Some(t) => {
                t.alarm.cancel();
                0
            }
            None => {
                fail("margo_timer_cancel", "NULL timer");
                -1
            }
        }
    })
}

/// Cancels `n` timers.
///
/// # Safety
/// `timers` must hold `n` timers (each NULL or live), or be NULL with `n` 0.
#[no_mangle]
pub unsafe extern "C" fn margo_timer_cancel_many(n: usize, timers: *mut margo_timer_t) -> c_int {
    if n == 0 {
        return 0;
    }
    if timers.is_null() {
        fail("margo_timer_cancel_many", "NULL array");
        return -1;
    }
    let mut rc = 0;
    for i in 0..n {
        // SAFETY: `timers` holds `n` handles by the contract.
        if unsafe { margo_timer_cancel(*timers.add(i)) } != 0 {
            rc = -1;
        }
    }
    rc
}

/// Frees the timer. A pending timer still fires (then is gone); cancel it
/// first not to.
///
/// # Safety
/// `timer` must be NULL or a live timer not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn margo_timer_destroy(timer: margo_timer_t) -> c_int {
    guard("margo_timer_destroy", -1, || {
        // SAFETY: NULL or a live timer that the caller gives up.
        let Some(t) = (unsafe { boxed_free(timer) }) else {
            fail("margo_timer_destroy", "NULL timer");
            return -1;
        };
        t.engine.pop_finalize_callback(t.alarm.key());
        0
    })
}
