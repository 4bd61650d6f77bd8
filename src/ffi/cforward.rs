//! Margo's forwards, responses and bulk transfers that end in a callback
//! (`margo_provider_cforward_timed` and its shorthands, `margo_crespond`,
//! `margo_bulk_ctransfer`): a forward is a `margo_iforward` (a transfer a
//! `margo_bulk_itransfer`), and whichever comes first — its answer (or
//! failure; a transfer's last piece) or its deadline — queues a job on the
//! engine's handler pool that finishes it (`margo_wait`) and calls the
//! user's function with the result. A response is queued at once (as `margo_respond` queues it), so
//! its callback is queued right after. The function runs once, never under
//! a lock of ours, and never on the thread that read the answer.
#![allow(non_camel_case_types)]

use super::bulk::margo_bulk_itransfer_timed;
use super::handles::{self, boxed_ref, margo_instance_id};
use super::hg::{hg_addr_t, hg_bulk_op_t, hg_bulk_t, hg_handle_t, hg_return, hg_return_t};
use super::margo::fail;
use super::panic::guard;
use super::rpc::{
    margo_hg_handle_get_instance, margo_provider_iforward_timed, margo_request, margo_request_struct, margo_respond, margo_wait,
    timeout_of, Operation,
};
use crate::rpc::timer::{self, TimerId};
use crate::rpc::{Pool, DEFAULT_PROVIDER_ID};
use parking_lot::Mutex;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The completion function of a callback forward (`void (*)(void*, hg_return_t)`).
pub type margo_completion_callback_t = Option<unsafe extern "C" fn(uargs: *mut c_void, ret: hg_return_t)>;

/// What finishes one callback forward: run once, by whichever trigger
/// comes first.
struct Finish {
    fired: AtomicBool,
    /// The request (a `margo_request`'s address), waited on and freed once.
    req: usize,
    callback: unsafe extern "C" fn(*mut c_void, hg_return_t),
    uargs: usize,
    deadline_timer: Mutex<Option<TimerId>>,
}

impl Finish {
    fn new(req: margo_request, callback: unsafe extern "C" fn(*mut c_void, hg_return_t), uargs: *mut c_void) -> Arc<Finish> {
        Arc::new(Finish {
            fired: AtomicBool::new(false),
            req: req as usize,
            callback,
            uargs: uargs as usize,
            deadline_timer: Mutex::new(None),
        })
    }

    /// The handler pool of `mid`, where the job runs; an instance already
    /// finalized has none: the job runs here, at once (the wait it makes
    /// reports the failure), and `None` is returned.
    fn pool_or_finish(&self, entry: &str, mid: margo_instance_id) -> Option<Arc<Pool>> {
        match handles::engine(mid) {
            Ok(e) => Some(e.handler_pool()),
            Err(e) => {
                fail(entry, e);
                self.run();
                None
            }
        }
    }

    /// Runs the job at `deadline` (a timer), unless something runs it first.
    fn arm(self: &Arc<Self>, deadline: Instant, pool: &Arc<Pool>) {
        let on_deadline = self.clone();
        let id = timer::schedule(deadline, pool, Box::new(move || on_deadline.run()));
        *self.deadline_timer.lock() = id;
    }

    fn run(&self) {
        if self.fired.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(id) = self.deadline_timer.lock().take() {
            timer::cancel(id);
        }
        // SAFETY: the request margo_provider_iforward_timed made, waited on
        // only here (`fired` lets one trigger through).
        let ret = unsafe { margo_wait(self.req as margo_request) };
        // SAFETY: the caller's function and argument, given for this call,
        // which it documents may run on a thread of the library.
        unsafe { (self.callback)(self.uargs as *mut c_void, ret) };
    }
}

impl Drop for Finish {
    /// Neither trigger ran the job (its pool stopped: the engine was
    /// finalized): the request is freed, and the callback does not run.
    fn drop(&mut self) {
        if !self.fired.load(Ordering::Acquire) {
            crate::warning!("a callback forward or transfer ended with its engine: its callback does not run");
            // SAFETY: the request margo_provider_iforward_timed made, never
            // waited on (`fired` is false) and no longer reachable.
            drop(unsafe { handles::boxed_free::<margo_request_struct>(self.req as margo_request) });
        }
    }
}

/// Queues `finish` on `pool`.
fn queue(pool: &Arc<Pool>, finish: &Arc<Finish>) {
    let f = finish.clone();
    pool.push(Box::new(move || f.run()));
}

/// Forwards as `margo_provider_iforward_timed`; `on_complete(uargs, ret)`
/// then runs on the handler pool with the result of the call (`HG_TIMEOUT`
/// at the deadline); read the answer in it with `margo_get_output`.
///
/// # Safety
/// As for `margo_provider_iforward_timed`; `on_complete` must be callable
/// with `uargs` on another thread of the library.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_cforward_timed(
    provider_id: u16,
    handle: hg_handle_t,
    in_struct: *mut c_void,
    timeout_ms: f64,
    on_complete: margo_completion_callback_t,
    uargs: *mut c_void,
) -> hg_return_t {
    const E: &str = "margo_provider_cforward";
    let Some(callback) = on_complete else {
        fail(E, "NULL completion callback");
        return hg_return::HG_INVALID_ARG;
    };
    // SAFETY: by the contract NULL or a live handle.
    let mid: margo_instance_id = unsafe { margo_hg_handle_get_instance(handle) };
    let mut req: margo_request = std::ptr::null_mut();
    // SAFETY: forwarded contract; `req` is ours to write.
    let rc = unsafe { margo_provider_iforward_timed(provider_id, handle, in_struct, timeout_ms, &mut req) };
    if rc != hg_return::HG_SUCCESS {
        return rc;
    }
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let finish = Finish::new(req, callback, uargs);
        // SAFETY: the live request just made; nobody else has it.
        let call = match unsafe { boxed_ref::<margo_request_struct>(req) } {
            Some(Operation::Forward(fwd)) => fwd.call_parts(),
            _ => None,
        };
        let Some(pool) = finish.pool_or_finish(E, mid) else { return hg_return::HG_SUCCESS };
        match call {
            // A response disabled: done as soon as sent.
            None => queue(&pool, &finish),
            Some((completion, deadline)) => {
                finish.arm(deadline, &pool);
                let f = finish.clone();
                let p = pool.clone();
                completion.on_complete(Box::new(move || queue(&p, &f)));
            }
        }
        hg_return::HG_SUCCESS
    })
}

/// # Safety
/// As for `margo_provider_cforward_timed`.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_cforward(
    provider_id: u16,
    handle: hg_handle_t,
    in_struct: *mut c_void,
    on_complete: margo_completion_callback_t,
    uargs: *mut c_void,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_provider_cforward_timed(provider_id, handle, in_struct, 0.0, on_complete, uargs) }
}

/// # Safety
/// As for `margo_provider_cforward_timed`.
#[no_mangle]
pub unsafe extern "C" fn margo_cforward(
    handle: hg_handle_t,
    in_struct: *mut c_void,
    on_complete: margo_completion_callback_t,
    uargs: *mut c_void,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_provider_cforward_timed(DEFAULT_PROVIDER_ID, handle, in_struct, 0.0, on_complete, uargs) }
}

/// # Safety
/// As for `margo_provider_cforward_timed`.
#[no_mangle]
pub unsafe extern "C" fn margo_cforward_timed(
    handle: hg_handle_t,
    in_struct: *mut c_void,
    timeout_ms: f64,
    on_complete: margo_completion_callback_t,
    uargs: *mut c_void,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_provider_cforward_timed(DEFAULT_PROVIDER_ID, handle, in_struct, timeout_ms, on_complete, uargs) }
}

/// Responds as `margo_respond`; `on_complete(uargs, HG_SUCCESS)` then runs
/// on the handler pool (the response is queued for sending, as there). A
/// response that cannot be made returns its error and runs no callback.
///
/// # Safety
/// As for `margo_respond`; `on_complete` must be callable with `uargs` on
/// another thread of the library.
#[no_mangle]
pub unsafe extern "C" fn margo_crespond(
    handle: hg_handle_t,
    out_struct: *mut c_void,
    on_complete: margo_completion_callback_t,
    uargs: *mut c_void,
) -> hg_return_t {
    const E: &str = "margo_crespond";
    let Some(callback) = on_complete else {
        fail(E, "NULL completion callback");
        return hg_return::HG_INVALID_ARG;
    };
    // SAFETY: by the contract NULL or a live handle.
    let mid: margo_instance_id = unsafe { margo_hg_handle_get_instance(handle) };
    // SAFETY: forwarded contract.
    let rc = unsafe { margo_respond(handle, out_struct) };
    if rc != hg_return::HG_SUCCESS {
        return rc;
    }
    let uargs = uargs as usize;
    guard(E, hg_return::HG_OTHER_ERROR, || match handles::engine(mid) {
        Ok(e) => {
            e.handler_pool().push(Box::new(move || {
                // SAFETY: the caller's function and argument, given for
                // this call, documented to run on a thread of the library.
                unsafe { callback(uargs as *mut c_void, hg_return::HG_SUCCESS) }
            }));
            hg_return::HG_SUCCESS
        }
        Err(e) => {
            fail(E, e);
            hg_return::HG_OTHER_ERROR
        }
    })
}

/// `margo_crespond`: a response is queued at once here, so no timeout
/// applies to it.
///
/// # Safety
/// As for `margo_crespond`.
#[no_mangle]
pub unsafe extern "C" fn margo_crespond_timed(
    handle: hg_handle_t,
    out_struct: *mut c_void,
    timeout_ms: f64,
    on_complete: margo_completion_callback_t,
    uargs: *mut c_void,
) -> hg_return_t {
    let _ = timeout_ms;
    // SAFETY: the same contract.
    unsafe { margo_crespond(handle, out_struct, on_complete, uargs) }
}

/// Starts a transfer as `margo_bulk_itransfer_timed`; `on_complete(uargs,
/// ret)` then runs on the handler pool with its result (`HG_TIMEOUT` past
/// `timeout_ms`; 0: none), once its last piece is settled. Its arguments are
/// checked before this returns (the same errors, and then the callback does
/// not run). The local memory must stay untouched until the callback runs.
///
/// # Safety
/// As for `margo_bulk_itransfer_timed`; `on_complete` must be callable with
/// `uargs` on another thread of the library.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_ctransfer_timed(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
    timeout_ms: f64,
    on_complete: margo_completion_callback_t,
    uargs: *mut c_void,
) -> hg_return_t {
    const E: &str = "margo_bulk_ctransfer";
    let Some(callback) = on_complete else {
        fail(E, "NULL completion callback");
        return hg_return::HG_INVALID_ARG;
    };
    // Taken before the transfer starts: its pieces' deadlines are later.
    let started = Instant::now();
    let mut req: margo_request = std::ptr::null_mut();
    // SAFETY: forwarded contract; `req` is ours to write.
    let rc = unsafe {
        margo_bulk_itransfer_timed(
            mid,
            op,
            origin_addr,
            origin_handle,
            origin_offset,
            local_handle,
            local_offset,
            size,
            timeout_ms,
            &mut req,
        )
    };
    if rc != hg_return::HG_SUCCESS {
        return rc;
    }
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let finish = Finish::new(req, callback, uargs);
        let Some(pool) = finish.pool_or_finish(E, mid) else { return hg_return::HG_SUCCESS };
        finish.arm(started + timeout_of(timeout_ms), &pool);
        // SAFETY: the live request just made; only `finish` frees it.
        match unsafe { boxed_ref::<margo_request_struct>(req) } {
            Some(Operation::Transfer(t)) => {
                let (f, p) = (finish.clone(), pool.clone());
                t.when_done(Box::new(move || queue(&p, &f)));
            }
            _ => queue(&pool, &finish),
        }
        hg_return::HG_SUCCESS
    })
}

/// `margo_bulk_ctransfer_timed` with no timeout.
///
/// # Safety
/// As for `margo_bulk_ctransfer_timed`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn margo_bulk_ctransfer(
    mid: margo_instance_id,
    op: hg_bulk_op_t,
    origin_addr: hg_addr_t,
    origin_handle: hg_bulk_t,
    origin_offset: usize,
    local_handle: hg_bulk_t,
    local_offset: usize,
    size: usize,
    on_complete: margo_completion_callback_t,
    uargs: *mut c_void,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe {
        margo_bulk_ctransfer_timed(
            mid,
            op,
            origin_addr,
            origin_handle,
            origin_offset,
            local_handle,
            local_offset,
            size,
            0.0,
            on_complete,
            uargs,
        )
    }
}
