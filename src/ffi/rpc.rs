//! Margo's C RPC API: registering RPCs with their proc callbacks and
//! handlers, handles (`hg_handle_t`), forwarding, responding, inputs and
//! outputs.
//!
//! An RPC id (`hg_id_t`) is the upper 48 bits of the name's hash with the
//! provider id in the low 16 bits. Each instance keeps a table of what C
//! registered under each id ([`RpcTable`]); a registration with a handler
//! is also registered with the engine, by name and provider id, as a
//! deferred handler: a request becomes a target [`Handle`] given to the C
//! handler on its pool's execution stream, and the caller gets its answer
//! when the handler calls `margo_respond`, or an error once the handle's
//! last reference is dropped without one.
#![allow(non_camel_case_types)]

use super::handles::{self, margo_instance_id, Owned};
use super::hg::{
    hg_addr_t, hg_bool_t, hg_handle, hg_handle_t, hg_id_t, hg_info, hg_proc_cb_t, hg_proc_t, hg_return, hg_return_t, hg_rpc_cb_t,
    ABT_pool,
};
use super::hg_proc::{self, Proc};
use super::margo::{fail, text};
use super::panic::guard;
use crate::rpc::{wire, Address, CallToken, Completion, Engine, PendingCall, Request, Responder, RpcError, DEFAULT_PROVIDER_ID};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What "no timeout" waits: a year (the engine needs a deadline).
const NO_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

type ProcFn = unsafe extern "C" fn(hg_proc_t, *mut c_void) -> hg_return_t;
type RpcFn = unsafe extern "C" fn(hg_handle_t) -> hg_return_t;
/// A registered data's free callback.
pub type margo_data_free_fn = Option<unsafe extern "C" fn(data: *mut c_void)>;

/// The id C sees for (`name`, `provider_id`).
pub fn rpc_id(name: &str, provider_id: u16) -> hg_id_t {
    (wire::rpc_id(name) & !0xFFFF) | provider_id as hg_id_t
}

/// A registered data's free callback and pointer, once taken out of its
/// registration to be freed.
type DataToFree = (unsafe extern "C" fn(*mut c_void), usize);

/// What can change on a registration after it is made, and the handler
/// calls of it that run.
///
/// A C handler typically reads its registration's data
/// (`margo_registered_data`: thallium keeps each handler's `std::function`
/// there) and uses it until it returns, while another thread may replace
/// the data (`margo_register_data`), deregister the RPC or finalize the
/// instance. So a data's free callback does not run when it is replaced or
/// withdrawn, but once no handler call that may have read it still runs:
/// each call counts as running from before its handler is called until it
/// returns ([`Running`]), under the epoch (the data's version) current when
/// it started; a data replaced or withdrawn in epoch `e` waits in `retired`
/// until no call of epoch `e` or earlier runs. Nothing ever waits for a
/// handler (a handler may deregister its own RPC, or finalize): the free
/// callback runs on the thread that lets go of the data last, outside the
/// lock, and exactly once (the data moves from `data`/`free` to `retired`
/// to that thread's hands).
#[derive(Default)]
struct EntryState {
    /// `margo_register_data`'s pointer and free callback.
    data: usize,
    free: margo_data_free_fn,
    disable_response: bool,
    /// Bumped whenever the data is replaced or withdrawn.
    epoch: u64,
    /// How many handler calls run, by the epoch they started in (entries
    /// at zero are removed, so the first key is the oldest running call's).
    running: BTreeMap<u64, usize>,
    /// Data replaced or withdrawn while calls that may use it ran, each
    /// with the last epoch in which it was the registration's data.
    retired: Vec<(u64, DataToFree)>,
    /// Deregistered, or its instance finalized: no handler call starts,
    /// and no data can be attached.
    withdrawn: bool,
}

impl EntryState {
    /// Retires the current data (if any) and opens a new epoch; returns the
    /// retired data that no running call can be using any more, to be
    /// freed once the lock is released.
    fn retire_data(&mut self) -> Vec<DataToFree> {
        let data = std::mem::take(&mut self.data);
        if let Some(free) = self.free.take().filter(|_| data != 0) {
            self.retired.push((self.epoch, (free, data)));
        }
        self.epoch += 1;
        self.collect()
    }

    /// Takes out the retired data no running call started early enough to
    /// have read.
    fn collect(&mut self) -> Vec<DataToFree> {
        let oldest = self.running.keys().next().copied();
        let (done, kept) = std::mem::take(&mut self.retired).into_iter().partition(|(last, _)| oldest.is_none_or(|o| *last < o));
        self.retired = kept;
        done.into_iter().map(|(_, d)| d).collect()
    }

    /// Marks the registration withdrawn and retires its data.
    fn withdraw(&mut self) -> Vec<DataToFree> {
        if self.withdrawn {
            return Vec::new();
        }
        self.withdrawn = true;
        self.retire_data()
    }
}

/// Withdraws a registration (deregistered, or its instance finalized): no
/// handler call of it starts any more, and its data is freed now if none
/// runs, else by the last one to return.
fn withdraw(state: &Mutex<EntryState>) {
    let freed = state.lock().withdraw();
    run_free(freed);
}

/// Runs free callbacks (never under a lock: one may call back into margo).
fn run_free(freed: Vec<DataToFree>) {
    for (free, data) in freed {
        // SAFETY: the user's free callback with the data they registered
        // with it, called once: the data left its registration's state
        // under the lock, into this list only.
        unsafe { free(data as *mut c_void) };
    }
}

/// One handler call counted as running (see [`EntryState`]); dropping it
/// frees the retired data only this call held back.
struct Running {
    state: Arc<Mutex<EntryState>>,
    epoch: u64,
}

impl Running {
    /// Counts a handler call as running, with whether the RPC's response
    /// is disabled; `None` if the registration was withdrawn. Both under
    /// the lock that withdrawing takes, so a call either counts before the
    /// withdrawal (and its data outlives it) or does not run.
    fn enter(state: &Arc<Mutex<EntryState>>) -> Option<(Running, bool)> {
        let mut s = state.lock();
        if s.withdrawn {
            return None;
        }
        let epoch = s.epoch;
        *s.running.entry(epoch).or_default() += 1;
        Some((Running { state: state.clone(), epoch }, s.disable_response))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let freed = {
            let mut s = self.state.lock();
            if let Some(n) = s.running.get_mut(&self.epoch) {
                *n -= 1;
                if *n == 0 {
                    s.running.remove(&self.epoch);
                }
            }
            s.collect()
        };
        run_free(freed);
    }
}

/// One registered (name, provider id).
struct Entry {
    id: hg_id_t,
    name: String,
    c_name: CString,
    provider_id: u16,
    in_proc: Option<ProcFn>,
    out_proc: Option<ProcFn>,
    handler: Option<RpcFn>,
    /// Shared with the entry this one replaced (a handler added to a
    /// registration made without one keeps its data and flags).
    state: Arc<Mutex<EntryState>>,
}

/// The RPCs C registered with one instance.
#[derive(Default)]
pub struct RpcTable {
    entries: Mutex<HashMap<hg_id_t, Arc<Entry>>>,
}

impl RpcTable {
    fn get(&self, id: hg_id_t) -> Option<Arc<Entry>> {
        self.entries.lock().get(&id).cloned()
    }

    #[allow(clippy::too_many_arguments)]
    fn register(
        &self,
        engine: &Engine,
        mid: margo_instance_id,
        name: &str,
        in_proc: Option<ProcFn>,
        out_proc: Option<ProcFn>,
        handler: Option<RpcFn>,
        provider_id: u16,
        pool: Option<Arc<crate::rpc::Pool>>,
    ) -> Result<hg_id_t, String> {
        let id = rpc_id(name, provider_id);
        let c_name = CString::new(name).map_err(|_| "the RPC name holds a NUL byte".to_string())?;
        let mut entries = self.entries.lock();
        let state = match entries.get(&id) {
            Some(e) if e.name != name => {
                return Err(format!("the id of \"{name}\" collides with that of \"{}\"; rename one", e.name))
            }
            // Registering again without a handler (two client libraries
            // registering the same RPC, say) gives the same id.
            Some(_) if handler.is_none() => return Ok(id),
            Some(e) if e.handler.is_some() => {
                return Err(format!("\"{name}\" already has a handler for provider id {provider_id}"))
            }
            Some(e) => e.state.clone(),
            None => Arc::default(),
        };
        let entry = Arc::new(Entry { id, name: name.to_string(), c_name, provider_id, in_proc, out_proc, handler, state });
        if let Some(cb) = handler {
            let served = entry.clone();
            let mid = mid as usize;
            engine
                .register_deferred(
                    name,
                    provider_id,
                    pool,
                    Arc::new(move |req: Request, responder: Responder| serve(mid, &served, cb, req, responder)),
                )
                .map_err(|e| e.to_string())?;
        }
        entries.insert(id, entry);
        Ok(id)
    }

    /// Empties the table and withdraws every registration (at finalize).
    fn clear(&self) {
        let entries: Vec<_> = self.entries.lock().drain().map(|(_, e)| e).collect();
        for e in entries {
            withdraw(&e.state);
        }
    }
}

/// Releases what C registered with a finalized instance: the table's
/// entries and, through their free callbacks, their data (Margo does this
/// when Mercury finalizes). Finalizing joins the execution streams, but not
/// the one of a handler that finalizes its own instance (nor that stream's
/// stand-ins): the data of registrations whose handlers still run is freed
/// by the last of them to return, as after `margo_deregister`.
pub(super) fn release_registrations(mid: margo_instance_id) {
    if let Ok(table) = handles::rpc_table(mid) {
        table.clear();
    }
}

/// A request arrived for a C handler: wrap it in a handle and call it.
fn serve(mid: usize, entry: &Arc<Entry>, cb: RpcFn, req: Request, responder: Responder) {
    // The handler is chosen here, on its pool's stream: the engine found
    // the registration when the request arrived, but the request may have
    // waited on the pool while the RPC was deregistered. Counting the call
    // as running (or finding the registration withdrawn) in one step under
    // the state's lock means the handler either runs with its data alive
    // until it returns, or does not run at all.
    let Some((running, disabled)) = Running::enter(&entry.state) else {
        responder.not_served();
        return;
    };
    let responder = if disabled {
        // The caller does not wait for an answer: release it at once.
        responder.respond(Ok(Vec::new()));
        None
    } else {
        Some(responder)
    };
    let sender = req.sender.clone().unwrap_or_else(|| req.engine.self_address());
    let handle = Handle::new(
        mid as margo_instance_id,
        req.engine,
        entry.clone(),
        sender,
        Side::Target { input: Arc::from(req.payload), responder: Mutex::new(responder), response_disabled: disabled },
    );
    let h = handles::boxed_into_c::<hg_handle>(handle);
    let _current = CurrentRpc::enter(mid, entry.id);
    // SAFETY: the user's registered handler, given a live handle that it
    // now owns (one reference, released by margo_destroy). No lock is held.
    let ret = unsafe { cb(h) };
    // The handler has returned: if the RPC was deregistered (or its data
    // replaced) meanwhile, the data it held back is freed now.
    drop(running);
    if ret != hg_return::HG_SUCCESS {
        crate::warning!("the C handler of RPC \"{}\" returned {:?}", entry.name, ret);
    }
}

/// Where a handle stands.
enum Side {
    /// From `margo_create`: the call's target, after a forward the answer,
    /// and while one is in flight its token (for `HG_Cancel`).
    Origin { target: Address, output: Arc<Mutex<Option<Arc<[u8]>>>>, in_flight: Mutex<Option<CallToken>> },
    /// Given to a handler: the request's payload and the way back.
    Target { input: Arc<[u8]>, responder: Mutex<Option<Responder>>, response_disabled: bool },
}

/// What an `hg_handle_t` owns.
pub struct Handle {
    refs: AtomicUsize,
    mid: margo_instance_id,
    engine: Engine,
    entry: Arc<Entry>,
    /// What `margo_get_info` shows; `info.addr` is owned by the handle.
    info: hg_info,
    side: Side,
    /// What `margo_set_data` attached, and how to free it.
    data: Mutex<Option<Attached>>,
}

/// Data a program attached to a handle (`margo_set_data`): the pointer and
/// the function that frees it (when replaced, or with the handle).
struct Attached {
    data: usize,
    free: Option<unsafe extern "C" fn(*mut c_void)>,
}

impl Attached {
    /// Frees the data with its function (none: nothing to do).
    fn release(self) {
        if let Some(free) = self.free {
            // SAFETY: the program's own function and the data it attached
            // with it (margo_set_data's contract); called once, outside our
            // locks.
            unsafe { free(self.data as *mut c_void) };
        }
    }
}

impl Owned for hg_handle {
    type Rust = Handle;
}

impl Handle {
    fn new(mid: margo_instance_id, engine: Engine, entry: Arc<Entry>, addr: Address, side: Side) -> Handle {
        let info = hg_info {
            hg_class: std::ptr::null_mut(),
            // Stands for Mercury's context: margo_hg_info_get_instance
            // reads the instance back from it.
            context: mid.cast(),
            addr: handles::addr_into_c(addr),
            id: entry.id,
            context_id: 0,
        };
        Handle { refs: AtomicUsize::new(1), mid, engine, entry, info, side, data: Mutex::new(None) }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(attached) = self.data.get_mut().take() {
            attached.release();
        }
        // SAFETY: the handle's own address, from addr_into_c in Handle::new;
        // C was told not to free it (it duplicates it to keep it).
        unsafe { handles::addr_free(self.info.addr) };
    }
}

/// # Safety
/// `h` must be NULL or a live handle.
unsafe fn handle_ref<'a>(h: hg_handle_t) -> Option<&'a Handle> {
    // SAFETY: by the contract NULL or a live handle from boxed_into_c.
    unsafe { handles::boxed_ref::<hg_handle>(h) }
}

fn rpc_code(entry: &str, e: &RpcError) -> hg_return_t {
    fail(entry, e);
    e.into()
}

pub(super) fn timeout_of(timeout_ms: f64) -> Duration {
    if timeout_ms.is_finite() && timeout_ms > 0.0 {
        Duration::try_from_secs_f64(timeout_ms / 1000.0).map_or(NO_TIMEOUT, |d| d.min(NO_TIMEOUT))
    } else {
        NO_TIMEOUT
    }
}

/// Encodes `data` with `cb` (nothing to encode: an empty payload).
///
/// # Safety
/// `data` must be NULL or valid for `cb`.
unsafe fn encode(cb: Option<ProcFn>, data: *mut c_void) -> Result<Vec<u8>, hg_return_t> {
    match cb {
        Some(cb) if !data.is_null() => {
            let mut proc = Proc::encoder();
            // SAFETY: non-NULL and valid for `cb` by the contract.
            unsafe { hg_proc::run(cb, &mut proc, data) }?;
            Ok(proc.into_payload())
        }
        _ => Ok(Vec::new()),
    }
}

/// Decodes `bytes` into `data` with `cb` (no proc: nothing to decode).
///
/// # Safety
/// `data` must be non-NULL and valid for writes by `cb`.
unsafe fn decode(cb: Option<ProcFn>, bytes: Arc<[u8]>, data: *mut c_void) -> hg_return_t {
    let Some(cb) = cb else { return hg_return::HG_SUCCESS };
    let mut proc = Proc::decoder(bytes);
    // SAFETY: by the contract.
    match unsafe { hg_proc::run(cb, &mut proc, data) } {
        Ok(()) => hg_return::HG_SUCCESS,
        Err(code) => code,
    }
}

/// Runs `cb` in free mode over `data`.
///
/// # Safety
/// `data` must be non-NULL and hold what a decode with `cb` produced.
unsafe fn release(cb: Option<ProcFn>, data: *mut c_void) -> hg_return_t {
    let Some(cb) = cb else { return hg_return::HG_SUCCESS };
    let mut proc = Proc::freer();
    // SAFETY: by the contract.
    match unsafe { hg_proc::run(cb, &mut proc, data) } {
        Ok(()) => hg_return::HG_SUCCESS,
        Err(code) => code,
    }
}

// ---------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------

/// Registers an RPC under (`func_name`, `provider_id`): its input and
/// output procs (NULL: no input / no output) and, on a server, its handler
/// (NULL for a caller only), run on `pool` (`ABT_POOL_NULL`: the default
/// handler pool). Returns its id, or 0 on error.
///
/// # Safety
/// `func_name` must be NULL or NUL-terminated; the callbacks must stay valid
/// while registered.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_register_name(
    mid: margo_instance_id,
    func_name: *const c_char,
    in_proc_cb: hg_proc_cb_t,
    out_proc_cb: hg_proc_cb_t,
    rpc_cb: hg_rpc_cb_t,
    provider_id: u16,
    pool: ABT_pool,
) -> hg_id_t {
    const E: &str = "margo_provider_register_name";
    guard(E, 0, || {
        let (engine, table) = match (handles::engine(mid), handles::rpc_table(mid)) {
            (Ok(e), Ok(t)) => (e, t),
            (Err(e), _) | (_, Err(e)) => {
                fail(E, e);
                return 0;
            }
        };
        // SAFETY: NULL or NUL-terminated by the contract.
        let Some(name) = (unsafe { text(func_name) }) else {
            fail(E, "RPC name is NULL or not UTF-8");
            return 0;
        };
        let pool = if pool.is_null() {
            None
        } else {
            match handles::pool_of(&engine, pool) {
                Some(p) => Some(p),
                None => {
                    fail(E, format!("\"{name}\": the pool is not one of this instance's"));
                    return 0;
                }
            }
        };
        match table.register(&engine, mid, name, in_proc_cb, out_proc_cb, rpc_cb, provider_id, pool) {
            Ok(id) => id,
            Err(why) => {
                fail(E, why);
                0
            }
        }
    })
}

/// `margo_provider_register_name` with `MARGO_DEFAULT_PROVIDER_ID` (as
/// `MARGO_REGISTER` registers) and the default handler pool.
///
/// # Safety
/// As for `margo_provider_register_name`.
#[no_mangle]
pub unsafe extern "C" fn margo_register_name(
    mid: margo_instance_id,
    func_name: *const c_char,
    in_proc_cb: hg_proc_cb_t,
    out_proc_cb: hg_proc_cb_t,
    rpc_cb: hg_rpc_cb_t,
) -> hg_id_t {
    // SAFETY: the same contract.
    unsafe {
        margo_provider_register_name(mid, func_name, in_proc_cb, out_proc_cb, rpc_cb, DEFAULT_PROVIDER_ID, std::ptr::null_mut())
    }
}

/// Sets `*id` to the id of (`func_name`, `provider_id`) and `*flag` to
/// whether it is registered with this instance.
///
/// # Safety
/// `func_name` NULL or NUL-terminated; `id` and `flag` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_registered_name(
    mid: margo_instance_id,
    func_name: *const c_char,
    provider_id: u16,
    id: *mut hg_id_t,
    flag: *mut hg_bool_t,
) -> hg_return_t {
    const E: &str = "margo_provider_registered_name";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let table = match handles::rpc_table(mid) {
            Ok(t) => t,
            Err(e) => {
                fail(E, e);
                return hg_return::HG_INVALID_ARG;
            }
        };
        // SAFETY: NULL or NUL-terminated by the contract.
        let (Some(name), false, false) = (unsafe { text(func_name) }, id.is_null(), flag.is_null()) else {
            fail(E, "NULL (or non-UTF-8) name, or NULL output pointer");
            return hg_return::HG_INVALID_ARG;
        };
        let rid = rpc_id(name, provider_id);
        let found = table.get(rid).is_some_and(|e| e.name == name);
        // SAFETY: both checked non-NULL above; writable by the contract.
        unsafe {
            *id = rid;
            *flag = found as hg_bool_t;
        }
        hg_return::HG_SUCCESS
    })
}

/// `margo_provider_registered_name` for `MARGO_DEFAULT_PROVIDER_ID`.
///
/// # Safety
/// As for `margo_provider_registered_name`.
#[no_mangle]
pub unsafe extern "C" fn margo_registered_name(
    mid: margo_instance_id,
    func_name: *const c_char,
    id: *mut hg_id_t,
    flag: *mut hg_bool_t,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_provider_registered_name(mid, func_name, DEFAULT_PROVIDER_ID, id, flag) }
}

/// Removes a registration: its handler is no longer called (a request that
/// arrives or is still queued gets `HG_NOENTRY`) and `margo_registered_data`
/// returns NULL for it. Its data's free callback runs at once if no call of
/// the handler runs, else when the last running one returns (this does not
/// wait for them: a handler may deregister its own RPC). `HG_NO_MATCH` if
/// `rpc_id` is not registered.
#[no_mangle]
pub extern "C" fn margo_deregister(mid: margo_instance_id, rpc_id: hg_id_t) -> hg_return_t {
    const E: &str = "margo_deregister";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let table = match handles::rpc_table(mid) {
            Ok(t) => t,
            Err(e) => {
                fail(E, e);
                return hg_return::HG_INVALID_ARG;
            }
        };
        let Some(entry) = table.entries.lock().remove(&rpc_id) else {
            fail(E, format!("RPC id {rpc_id:#x} is not registered"));
            return hg_return::HG_NOENTRY;
        };
        // Withdrawn before the engine forgets the RPC: a request the engine
        // still dispatches meanwhile is refused like a later one, instead of
        // running a handler that finds no data.
        let freed = entry.state.lock().withdraw();
        if entry.handler.is_some() {
            if let Ok(engine) = handles::engine_any(mid) {
                engine.deregister(&entry.name, entry.provider_id);
            }
        }
        run_free(freed);
        hg_return::HG_SUCCESS
    })
}

/// Attaches `data` to a registration. `free_callback` (may be NULL) runs
/// once, when the data is replaced by another call of this function, the
/// RPC deregistered or the instance finalized, and no call of the RPC's
/// handler that started before then still runs: until then a running
/// handler may keep using the data it read with `margo_registered_data`.
/// `HG_NO_MATCH` if `id` is not registered (the data is then not taken).
#[no_mangle]
pub extern "C" fn margo_register_data(
    mid: margo_instance_id,
    id: hg_id_t,
    data: *mut c_void,
    free_callback: margo_data_free_fn,
) -> hg_return_t {
    const E: &str = "margo_register_data";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let table = match handles::rpc_table(mid) {
            Ok(t) => t,
            Err(e) => {
                fail(E, e);
                return hg_return::HG_INVALID_ARG;
            }
        };
        let Some(entry) = table.get(id) else {
            fail(E, format!("RPC id {id:#x} is not registered"));
            return hg_return::HG_NOENTRY;
        };
        let freed = {
            let mut state = entry.state.lock();
            if state.withdrawn {
                // Deregistered since the lookup: as if it had not been found.
                None
            } else {
                let freed = state.retire_data();
                state.data = data as usize;
                state.free = free_callback;
                Some(freed)
            }
        };
        let Some(freed) = freed else {
            fail(E, format!("RPC id {id:#x} is not registered"));
            return hg_return::HG_NOENTRY;
        };
        run_free(freed);
        hg_return::HG_SUCCESS
    })
}

/// The data attached to a registration (NULL if none, or not registered:
/// NULL once deregistered, also for its handler calls still running).
#[no_mangle]
pub extern "C" fn margo_registered_data(mid: margo_instance_id, id: hg_id_t) -> *mut c_void {
    guard("margo_registered_data", std::ptr::null_mut(), || {
        let Ok(table) = handles::rpc_table(mid) else { return std::ptr::null_mut() };
        table.get(id).map_or(std::ptr::null_mut(), |e| e.state.lock().data as *mut c_void)
    })
}

/// With `disable_flag` non-zero, callers of this RPC do not wait for an
/// answer (a forward returns once the request is queued) and its handlers
/// need not respond.
#[no_mangle]
pub extern "C" fn margo_registered_disable_response(mid: margo_instance_id, id: hg_id_t, disable_flag: c_int) -> hg_return_t {
    const E: &str = "margo_registered_disable_response";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let Some(entry) = handles::rpc_table(mid).ok().and_then(|t| t.get(id)) else {
            fail(E, format!("RPC id {id:#x} is not registered with this instance"));
            return hg_return::HG_NOENTRY;
        };
        entry.state.lock().disable_response = disable_flag != 0;
        hg_return::HG_SUCCESS
    })
}

/// # Safety
/// `disabled_flag` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_registered_disabled_response(
    mid: margo_instance_id,
    id: hg_id_t,
    disabled_flag: *mut c_int,
) -> hg_return_t {
    const E: &str = "margo_registered_disabled_response";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        if disabled_flag.is_null() {
            fail(E, "output pointer is NULL");
            return hg_return::HG_INVALID_ARG;
        }
        let Some(entry) = handles::rpc_table(mid).ok().and_then(|t| t.get(id)) else {
            fail(E, format!("RPC id {id:#x} is not registered with this instance"));
            return hg_return::HG_NOENTRY;
        };
        let disabled = entry.state.lock().disable_response;
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *disabled_flag = disabled as c_int };
        hg_return::HG_SUCCESS
    })
}

// ---------------------------------------------------------------------------
// Handles
// ---------------------------------------------------------------------------

/// A handle for calling RPC `id` at `addr` (free with `margo_destroy`).
/// `HG_NO_MATCH` if `id` is not registered with this instance.
///
/// # Safety
/// `addr` must be NULL or a live address handle; `handle` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_create(
    mid: margo_instance_id,
    addr: hg_addr_t,
    id: hg_id_t,
    handle: *mut hg_handle_t,
) -> hg_return_t {
    const E: &str = "margo_create";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        let (engine, table) = match (handles::engine(mid), handles::rpc_table(mid)) {
            (Ok(e), Ok(t)) => (e, t),
            (Err(e), _) | (_, Err(e)) => {
                fail(E, e);
                return hg_return::HG_INVALID_ARG;
            }
        };
        // SAFETY: by the contract NULL or a live address handle.
        let (Some(target), false) = (unsafe { handles::addr_ref(addr) }, handle.is_null()) else {
            fail(E, "NULL address or output pointer");
            return hg_return::HG_INVALID_ARG;
        };
        let Some(entry) = table.get(id) else {
            fail(E, format!("RPC id {id:#x} is not registered with this instance"));
            return hg_return::HG_NOENTRY;
        };
        let side = Side::Origin { target: target.clone(), output: Arc::default(), in_flight: Mutex::new(None) };
        let h = Handle::new(mid, engine, entry, target.clone(), side);
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *handle = handles::boxed_into_c::<hg_handle>(h) };
        hg_return::HG_SUCCESS
    })
}

/// Drops one reference to a handle; the last one frees it (a received
/// request not responded to is then answered with an error). NULL is a no-op.
///
/// # Safety
/// `handle` must be NULL or a live handle; a freed handle must not be used.
#[no_mangle]
pub unsafe extern "C" fn margo_destroy(handle: hg_handle_t) -> hg_return_t {
    guard("margo_destroy", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live handle.
        let Some(h) = (unsafe { handle_ref(handle) }) else { return hg_return::HG_SUCCESS };
        match h.refs.fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| r.checked_sub(1)) {
            Ok(1) => {
                // SAFETY: that was the last reference: nobody uses the
                // handle any more (the contract), so it is ours to free.
                drop(unsafe { handles::boxed_free::<hg_handle>(handle) });
                hg_return::HG_SUCCESS
            }
            Ok(_) => hg_return::HG_SUCCESS,
            Err(_) => {
                fail("margo_destroy", "the handle has no reference left");
                hg_return::HG_INVALID_ARG
            }
        }
    })
}

/// Adds a reference to a handle (each needs its own `margo_destroy`).
///
/// # Safety
/// `handle` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn margo_ref_incr(handle: hg_handle_t) -> hg_return_t {
    guard("margo_ref_incr", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live handle.
        let Some(h) = (unsafe { handle_ref(handle) }) else {
            fail("margo_ref_incr", "NULL handle");
            return hg_return::HG_INVALID_ARG;
        };
        h.refs.fetch_add(1, Ordering::AcqRel);
        hg_return::HG_SUCCESS
    })
}

/// The handle's address (the target of a call; the caller of a received
/// request) and RPC id; valid while the handle lives. NULL for NULL.
///
/// # Safety
/// `handle` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn margo_get_info(handle: hg_handle_t) -> *const hg_info {
    guard("margo_get_info", std::ptr::null(), || {
        // SAFETY: by the contract NULL or a live handle.
        unsafe { handle_ref(handle) }.map_or(std::ptr::null(), |h| &h.info as *const hg_info)
    })
}

/// The instance a handle belongs to (`MARGO_INSTANCE_NULL` for NULL).
///
/// # Safety
/// `h` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn margo_hg_handle_get_instance(h: hg_handle_t) -> margo_instance_id {
    guard("margo_hg_handle_get_instance", std::ptr::null_mut(), || {
        // SAFETY: by the contract NULL or a live handle.
        unsafe { handle_ref(h) }.map_or(std::ptr::null_mut(), |h| h.mid)
    })
}

/// The instance of a handle's info (what `margo_get_info` gave): NULL for
/// NULL or an info that is not one of ours.
///
/// # Safety
/// `info` must be NULL or point to a readable `struct hg_info`.
#[no_mangle]
pub unsafe extern "C" fn margo_hg_info_get_instance(info: *const hg_info) -> margo_instance_id {
    guard("margo_hg_info_get_instance", std::ptr::null_mut(), || {
        // SAFETY: NULL or readable by the contract.
        let Some(info) = (unsafe { info.as_ref() }) else { return std::ptr::null_mut() };
        let mid: margo_instance_id = info.context.cast();
        if handles::engine_any(mid).is_ok() {
            mid
        } else {
            fail("margo_hg_info_get_instance", "the info's context is not a margo instance of this process");
            std::ptr::null_mut()
        }
    })
}

/// The registered name of the handle's RPC (NULL for NULL); valid while
/// the handle lives.
///
/// # Safety
/// `handle` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn margo_handle_get_name(handle: hg_handle_t) -> *const c_char {
    guard("margo_handle_get_name", std::ptr::null(), || {
        // SAFETY: by the contract NULL or a live handle.
        unsafe { handle_ref(handle) }.map_or(std::ptr::null(), |h| h.entry.c_name.as_ptr())
    })
}

// ---------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------

/// A forward ready to go: the input encoded, the target and RPC known.
struct Prepared<'a> {
    h: &'a Handle,
    target: &'a Address,
    output: &'a Arc<Mutex<Option<Arc<[u8]>>>>,
    in_flight: &'a Mutex<Option<CallToken>>,
    payload: Vec<u8>,
    /// The RPC's response is disabled: nothing to wait for.
    disabled: bool,
}

/// Checks an origin handle and encodes the input.
///
/// # Safety
/// `handle` must be NULL or a live handle; `in_struct` NULL or valid for
/// the RPC's input proc.
unsafe fn prepare<'a>(entry_point: &str, handle: hg_handle_t, in_struct: *mut c_void) -> Result<Prepared<'a>, hg_return_t> {
    // SAFETY: by the contract NULL or a live handle.
    let Some(h) = (unsafe { handle_ref::<'a>(handle) }) else {
        fail(entry_point, "NULL handle");
        return Err(hg_return::HG_INVALID_ARG);
    };
    let Side::Origin { target, output, in_flight } = &h.side else {
        fail(entry_point, "the handle is a received request's, not one from margo_create");
        return Err(hg_return::HG_INVALID_ARG);
    };
    // SAFETY: NULL or valid for the input proc by the contract.
    let payload = unsafe { encode(h.entry.in_proc, in_struct) }.inspect_err(|code| {
        fail(entry_point, format!("encoding the input of \"{}\" failed: {code:?}", h.entry.name));
    })?;
    *output.lock() = None;
    let disabled = h.entry.state.lock().disable_response;
    Ok(Prepared { h, target, output, in_flight, payload, disabled })
}

fn keep_output(entry_point: &str, outcome: Result<Vec<u8>, RpcError>, output: &Mutex<Option<Arc<[u8]>>>) -> hg_return_t {
    match outcome {
        Ok(bytes) => {
            *output.lock() = Some(Arc::from(bytes));
            hg_return::HG_SUCCESS
        }
        Err(e) => rpc_code(entry_point, &e),
    }
}

/// Calls the handle's RPC at provider `provider_id` of its target and waits
/// for the answer (`timeout_ms` <= 0: no timeout). `HG_NO_MATCH`: no such
/// RPC or provider there; `HG_TIMEOUT`; `HG_OTHER_ERROR`: the handler
/// dropped the request without responding.
///
/// # Safety
/// `handle` must be NULL or a live handle; `in_struct` NULL or valid for the
/// RPC's input proc.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_forward_timed(
    provider_id: u16,
    handle: hg_handle_t,
    in_struct: *mut c_void,
    timeout_ms: f64,
) -> hg_return_t {
    const E: &str = "margo_forward";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        // SAFETY: the caller's contract.
        let p = match unsafe { prepare(E, handle, in_struct) } {
            Ok(p) => p,
            Err(code) => return code,
        };
        let (engine, name, timeout) = (&p.h.engine, &p.h.entry.name, timeout_of(timeout_ms));
        if p.disabled {
            // Queued and left: the answer, if any, is not waited for.
            return match engine.call_async(p.target, name, provider_id, p.payload, timeout) {
                Ok(_) => hg_return::HG_SUCCESS,
                Err(e) => rpc_code(E, &e),
            };
        }
        let outcome =
            engine.call_with_token(p.target, name, provider_id, p.payload, timeout, |c| *p.in_flight.lock() = Some(c.token()));
        p.in_flight.lock().take();
        keep_output(E, outcome, p.output)
    })
}

/// # Safety
/// As for `margo_provider_forward_timed`.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_forward(provider_id: u16, handle: hg_handle_t, in_struct: *mut c_void) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_provider_forward_timed(provider_id, handle, in_struct, 0.0) }
}

/// Forwards to `MARGO_DEFAULT_PROVIDER_ID`.
///
/// # Safety
/// As for `margo_provider_forward_timed`.
#[no_mangle]
pub unsafe extern "C" fn margo_forward_timed(handle: hg_handle_t, in_struct: *mut c_void, timeout_ms: f64) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_provider_forward_timed(DEFAULT_PROVIDER_ID, handle, in_struct, timeout_ms) }
}

/// # Safety
/// As for `margo_provider_forward_timed`.
#[no_mangle]
pub unsafe extern "C" fn margo_forward(handle: hg_handle_t, in_struct: *mut c_void) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_provider_forward_timed(DEFAULT_PROVIDER_ID, handle, in_struct, 0.0) }
}

/// Opaque request of a non-blocking operation (`margo_request`): a
/// forward (`margo_iforward`), a response (`margo_irespond`) or a bulk
/// transfer (`margo_bulk_itransfer`).
pub struct margo_request_struct {
    _private: [u8; 0],
}
pub type margo_request = *mut margo_request_struct;

/// What a `margo_request` owns; `margo_wait` and `margo_test` take either.
pub enum Operation {
    Forward(Forward),
    Transfer(super::bulk::PendingTransfer),
    /// A response, queued when `margo_irespond` returned: the engine
    /// sends it (a lost caller is the caller's timeout, as upstream). Its
    /// handle (`margo_request_get_handle`; not owned).
    Responded {
        handle: usize,
    },
}

/// `margo_request_type` (upstream's values).
#[repr(C)]
#[allow(non_camel_case_types, clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum margo_request_type {
    MARGO_RESPONSE_REQUEST = 2,
    MARGO_FORWARD_REQUEST = 4,
    MARGO_BULK_REQUEST = 6,
    MARGO_INVALID_REQUEST = 8,
}

/// A non-blocking forward: the call, and where its answer goes.
pub struct Forward {
    call: Option<PendingCall>,
    output: Arc<Mutex<Option<Arc<[u8]>>>>,
    /// The handle forwarded (`margo_request_get_handle`; not owned).
    handle: usize,
}

impl Forward {
    /// The call's completion and deadline (`None`: its response is
    /// disabled, nothing to wait for).
    pub(super) fn call_parts(&self) -> Option<(Completion, Instant)> {
        self.call.as_ref().map(|c| (c.completion(), c.deadline()))
    }
}

impl Owned for margo_request_struct {
    type Rust = Operation;
}

/// Starts a call without waiting; `margo_wait` finishes it (and frees the
/// request). The input is encoded before this returns.
///
/// # Safety
/// As for `margo_provider_forward_timed`; `req` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_iforward_timed(
    provider_id: u16,
    handle: hg_handle_t,
    in_struct: *mut c_void,
    timeout_ms: f64,
    req: *mut margo_request,
) -> hg_return_t {
    const E: &str = "margo_iforward";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        if req.is_null() {
            fail(E, "output request pointer is NULL");
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: the caller's contract.
        let p = match unsafe { prepare(E, handle, in_struct) } {
            Ok(p) => p,
            Err(code) => return code,
        };
        let call = match p.h.engine.call_async(p.target, &p.h.entry.name, provider_id, p.payload, timeout_of(timeout_ms)) {
            Ok(call) => call,
            Err(e) => return rpc_code(E, &e),
        };
        *p.in_flight.lock() = Some(call.token());
        let fwd = Forward { call: (!p.disabled).then_some(call), output: p.output.clone(), handle: handle as usize };
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *req = handles::boxed_into_c::<margo_request_struct>(Operation::Forward(fwd)) };
        hg_return::HG_SUCCESS
    })
}

/// # Safety
/// As for `margo_provider_iforward_timed`.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_iforward(
    provider_id: u16,
    handle: hg_handle_t,
    in_struct: *mut c_void,
    req: *mut margo_request,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_provider_iforward_timed(provider_id, handle, in_struct, 0.0, req) }
}

/// # Safety
/// As for `margo_provider_iforward_timed`.
#[no_mangle]
pub unsafe extern "C" fn margo_iforward_timed(
    handle: hg_handle_t,
    in_struct: *mut c_void,
    timeout_ms: f64,
    req: *mut margo_request,
) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_provider_iforward_timed(DEFAULT_PROVIDER_ID, handle, in_struct, timeout_ms, req) }
}

/// # Safety
/// As for `margo_provider_iforward_timed`.
#[no_mangle]
pub unsafe extern "C" fn margo_iforward(handle: hg_handle_t, in_struct: *mut c_void, req: *mut margo_request) -> hg_return_t {
    // SAFETY: the same contract.
    unsafe { margo_provider_iforward_timed(DEFAULT_PROVIDER_ID, handle, in_struct, 0.0, req) }
}

/// Waits for a non-blocking operation and frees the request: for a
/// forward, the answer is then read with `margo_get_output` on the handle;
/// for a bulk transfer, the return value is the transfer's.
///
/// # Safety
/// `req` must be NULL or a request from `margo_*iforward*` or
/// `margo_bulk_itransfer*` not yet waited on.
#[no_mangle]
pub unsafe extern "C" fn margo_wait(req: margo_request) -> hg_return_t {
    guard("margo_wait", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live request, not used afterwards.
        let Some(op) = (unsafe { handles::boxed_free::<margo_request_struct>(req) }) else {
            fail("margo_wait", "NULL request");
            return hg_return::HG_INVALID_ARG;
        };
        match op {
            Operation::Forward(Forward { call: Some(call), output, .. }) => keep_output("margo_wait", call.wait(), &output),
            Operation::Forward(Forward { call: None, .. }) => hg_return::HG_SUCCESS,
            Operation::Transfer(t) => t.wait("margo_wait"),
            Operation::Responded { .. } => hg_return::HG_SUCCESS,
        }
    })
}

/// Waits until one of the `count` requests of `req` completes, then waits
/// for it (`margo_wait`: it is freed) and sets `*index` to its position;
/// its return value is that `margo_wait`'s. NULL requests are skipped; if
/// all are NULL, `*index` is `count` and the result `HG_SUCCESS`. Blocks
/// (upstream polls): the thread sleeps until an answer, a bulk piece or a
/// deadline, driving progress when nobody else does, as `margo_wait` would.
///
/// # Safety
/// `req` must point to `count` requests, each NULL or live (not waited
/// on); `index` must be writable.
#[no_mangle]
pub unsafe extern "C" fn margo_wait_any(count: usize, req: *mut margo_request, index: *mut usize) -> hg_return_t {
    const E: &str = "margo_wait_any";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        if index.is_null() || (req.is_null() && count > 0) {
            fail(E, "NULL request array or index pointer");
            return hg_return::HG_INVALID_ARG;
        }
        // SAFETY: `count` requests by the contract (a dangling pointer is
        // fine for none).
        let reqs = if count == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(req, count) } };
        loop {
            let mut waits: Vec<Completion> = Vec::new();
            let mut until: Option<Instant> = None;
            let mut engine: Option<Engine> = None;
            for (i, &r) in reqs.iter().enumerate() {
                // SAFETY: NULL or a live request, by the contract.
                let Some(op) = (unsafe { handles::boxed_ref::<margo_request_struct>(r) }) else { continue };
                let pending = match op {
                    Operation::Forward(Forward { call: Some(call), .. }) if !call.test() => {
                        Some((call.engine().clone(), vec![call.completion()], call.deadline()))
                    }
                    Operation::Transfer(t) if !t.test() => t.waits(),
                    _ => None,
                };
                let Some((e, mut completions, deadline)) = pending else {
                    // SAFETY: `index` checked non-NULL, writable by the contract.
                    unsafe { *index = i };
                    // SAFETY: a live request, waited on once (here).
                    return unsafe { margo_wait(r) };
                };
                waits.append(&mut completions);
                until = Some(until.map_or(deadline, |u| u.min(deadline)));
                engine.get_or_insert(e);
            }
            let (Some(engine), Some(until)) = (engine, until) else {
                // SAFETY: as above.
                unsafe { *index = count };
                return hg_return::HG_SUCCESS;
            };
            engine.wait_any(&waits, until);
        }
    })
}

/// Sets `*flag` to 1 if `margo_wait` would return at once, else 0 (a bulk
/// transfer's answered pieces are taken in, and its next ones sent).
///
/// # Safety
/// `req` must be NULL or a live request; `flag` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_test(req: margo_request, flag: *mut c_int) -> c_int {
    guard("margo_test", hg_return::HG_OTHER_ERROR as c_int, || {
        // SAFETY: by the contract NULL or a live request.
        let (Some(op), false) = (unsafe { handles::boxed_ref::<margo_request_struct>(req) }, flag.is_null()) else {
            fail("margo_test", "NULL request or flag pointer");
            return hg_return::HG_INVALID_ARG as c_int;
        };
        let done = match op {
            Operation::Forward(fwd) => fwd.call.as_ref().is_none_or(|c| c.test()),
            Operation::Transfer(t) => t.test(),
            Operation::Responded { .. } => true,
        };
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *flag = done as c_int };
        hg_return::HG_SUCCESS as c_int
    })
}

// ---------------------------------------------------------------------------
// Inputs, outputs, responses
// ---------------------------------------------------------------------------

/// Decodes a received request's input into `in_struct` (release it with
/// `margo_free_input`). `HG_PROTOCOL_ERROR` for bytes that do not decode.
///
/// # Safety
/// `handle` must be NULL or a live handle; `in_struct` NULL or valid for
/// writes by the RPC's input proc.
#[no_mangle]
pub unsafe extern "C" fn margo_get_input(handle: hg_handle_t, in_struct: *mut c_void) -> hg_return_t {
    const E: &str = "margo_get_input";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live handle.
        let (Some(h), false) = (unsafe { handle_ref(handle) }, in_struct.is_null()) else {
            fail(E, "NULL handle or input pointer");
            return hg_return::HG_INVALID_ARG;
        };
        let Side::Target { input, .. } = &h.side else {
            fail(E, "the handle is not a received request's");
            return hg_return::HG_INVALID_ARG;
        };
        // SAFETY: non-NULL and valid for the input proc by the contract.
        let ret = unsafe { decode(h.entry.in_proc, input.clone(), in_struct) };
        if ret != hg_return::HG_SUCCESS {
            fail(E, format!("the input of \"{}\" does not decode: {ret:?}", h.entry.name));
        }
        ret
    })
}

/// Releases what `margo_get_input` allocated in `in_struct`.
///
/// # Safety
/// `handle` must be NULL or a live handle; `in_struct` NULL or holding
/// what `margo_get_input` decoded.
#[no_mangle]
pub unsafe extern "C" fn margo_free_input(handle: hg_handle_t, in_struct: *mut c_void) -> hg_return_t {
    guard("margo_free_input", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live handle.
        let (Some(h), false) = (unsafe { handle_ref(handle) }, in_struct.is_null()) else {
            fail("margo_free_input", "NULL handle or input pointer");
            return hg_return::HG_INVALID_ARG;
        };
        // SAFETY: holds a decoded input by the contract.
        unsafe { release(h.entry.in_proc, in_struct) }
    })
}

/// Decodes the answer of the last forward into `out_struct` (release it
/// with `margo_free_output`).
///
/// # Safety
/// `handle` must be NULL or a live handle; `out_struct` NULL or valid for
/// writes by the RPC's output proc.
#[no_mangle]
pub unsafe extern "C" fn margo_get_output(handle: hg_handle_t, out_struct: *mut c_void) -> hg_return_t {
    const E: &str = "margo_get_output";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live handle.
        let (Some(h), false) = (unsafe { handle_ref(handle) }, out_struct.is_null()) else {
            fail(E, "NULL handle or output pointer");
            return hg_return::HG_INVALID_ARG;
        };
        let Side::Origin { output, .. } = &h.side else {
            fail(E, "the handle is a received request's, not one from margo_create");
            return hg_return::HG_INVALID_ARG;
        };
        let Some(bytes) = output.lock().clone() else {
            fail(E, format!("no answer to read: \"{}\" was not forwarded successfully", h.entry.name));
            return hg_return::HG_INVALID_ARG;
        };
        // SAFETY: non-NULL and valid for the output proc by the contract.
        let ret = unsafe { decode(h.entry.out_proc, bytes, out_struct) };
        if ret != hg_return::HG_SUCCESS {
            fail(E, format!("the output of \"{}\" does not decode: {ret:?}", h.entry.name));
        }
        ret
    })
}

/// Releases what `margo_get_output` allocated in `out_struct`.
///
/// # Safety
/// `handle` must be NULL or a live handle; `out_struct` NULL or holding
/// what `margo_get_output` decoded.
#[no_mangle]
pub unsafe extern "C" fn margo_free_output(handle: hg_handle_t, out_struct: *mut c_void) -> hg_return_t {
    guard("margo_free_output", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live handle.
        let (Some(h), false) = (unsafe { handle_ref(handle) }, out_struct.is_null()) else {
            fail("margo_free_output", "NULL handle or output pointer");
            return hg_return::HG_INVALID_ARG;
        };
        // SAFETY: holds a decoded output by the contract.
        unsafe { release(h.entry.out_proc, out_struct) }
    })
}

/// Answers a received request with `out_struct` (NULL: an empty answer).
/// Once only; a no-op if the RPC's response is disabled.
///
/// # Safety
/// `handle` must be NULL or a live handle; `out_struct` NULL or valid for
/// the RPC's output proc.
#[no_mangle]
pub unsafe extern "C" fn margo_respond(handle: hg_handle_t, out_struct: *mut c_void) -> hg_return_t {
    const E: &str = "margo_respond";
    guard(E, hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live handle.
        let Some(h) = (unsafe { handle_ref(handle) }) else {
            fail(E, "NULL handle");
            return hg_return::HG_INVALID_ARG;
        };
        let Side::Target { responder, response_disabled, .. } = &h.side else {
            fail(E, "the handle is not a received request's");
            return hg_return::HG_INVALID_ARG;
        };
        if *response_disabled {
            return hg_return::HG_SUCCESS;
        }
        // SAFETY: NULL or valid for the output proc by the contract.
        let payload = match unsafe { encode(h.entry.out_proc, out_struct) } {
            Ok(p) => p,
            Err(code) => {
                fail(E, format!("encoding the output of \"{}\" failed: {code:?}", h.entry.name));
                return code;
            }
        };
        let Some(r) = responder.lock().take() else {
            fail(E, format!("\"{}\" was already responded to", h.entry.name));
            return hg_return::HG_INVALID_ARG;
        };
        r.respond(Ok(payload));
        hg_return::HG_SUCCESS
    })
}

/// Responds without waiting: the response is queued as `margo_respond`
/// queues it, and `*req` is a request that `margo_wait` finishes at once.
///
/// # Safety
/// As for `margo_respond`; `req` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_irespond(handle: hg_handle_t, out_struct: *mut c_void, req: *mut margo_request) -> hg_return_t {
    if req.is_null() {
        fail("margo_irespond", "output request pointer is NULL");
        return hg_return::HG_INVALID_ARG;
    }
    // SAFETY: the same contract.
    let rc = unsafe { margo_respond(handle, out_struct) };
    if rc == hg_return::HG_SUCCESS {
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *req = handles::boxed_into_c::<margo_request_struct>(Operation::Responded { handle: handle as usize }) };
    }
    rc
}

/// `margo_irespond`: a response is queued at once here, so no timeout
/// applies to it.
///
/// # Safety
/// As for `margo_irespond`.
#[no_mangle]
pub unsafe extern "C" fn margo_irespond_timed(
    handle: hg_handle_t,
    out_struct: *mut c_void,
    timeout_ms: f64,
    req: *mut margo_request,
) -> hg_return_t {
    let _ = timeout_ms;
    // SAFETY: the same contract.
    unsafe { margo_irespond(handle, out_struct, req) }
}

/// `margo_respond`: a response is queued at once here, so no timeout
/// applies to it.
///
/// # Safety
/// As for `margo_respond`.
#[no_mangle]
pub unsafe extern "C" fn margo_respond_timed(handle: hg_handle_t, out_struct: *mut c_void, timeout_ms: f64) -> hg_return_t {
    let _ = timeout_ms;
    // SAFETY: the same contract.
    unsafe { margo_respond(handle, out_struct) }
}

/// Cancels the forward in flight on `handle` (`margo_forward` in another
/// thread, or `margo_iforward`): it completes with `HG_CANCELED`, and an
/// answer that comes later is dropped. Nothing to cancel (no forward in
/// flight, or a received request's handle) is `HG_SUCCESS`, as Mercury
/// has it for a finished operation.
///
/// # Safety
/// `handle` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn HG_Cancel(handle: hg_handle_t) -> hg_return_t {
    guard("HG_Cancel", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live handle.
        let Some(h) = (unsafe { handle_ref(handle) }) else {
            fail("HG_Cancel", "NULL handle");
            return hg_return::HG_INVALID_ARG;
        };
        if let Side::Origin { in_flight, .. } = &h.side {
            if let Some(token) = in_flight.lock().as_ref() {
                h.engine.cancel_call(token);
            }
        }
        hg_return::HG_SUCCESS
    })
}

/// Mercury's text for a return code (a static string).
#[no_mangle]
pub extern "C" fn HG_Error_to_string(errnum: c_int) -> *const c_char {
    const ALL: [hg_return; 27] = {
        use hg_return::*;
        [
            HG_SUCCESS,
            HG_PERMISSION,
            HG_NOENTRY,
            HG_INTERRUPT,
            HG_AGAIN,
            HG_NOMEM,
            HG_ACCESS,
            HG_FAULT,
            HG_BUSY,
            HG_EXIST,
            HG_NODEV,
            HG_INVALID_ARG,
            HG_PROTOCOL_ERROR,
            HG_OVERFLOW,
            HG_MSGSIZE,
            HG_PROTONOSUPPORT,
            HG_OPNOTSUPPORTED,
            HG_ADDRINUSE,
            HG_ADDRNOTAVAIL,
            HG_HOSTUNREACH,
            HG_TIMEOUT,
            HG_CANCELED,
            HG_IO_ERROR,
            HG_CHECKSUM_ERROR,
            HG_NA_ERROR,
            HG_OTHER_ERROR,
            HG_RETURN_MAX,
        ]
    };
    use hg_return::*;
    let Some(code) = ALL.iter().copied().find(|c| *c as c_int == errnum) else { return c"UNDEFINED/UNRECOGNIZED".as_ptr() };
    let s: &'static std::ffi::CStr = match code {
        HG_SUCCESS => c"HG_SUCCESS",
        HG_PERMISSION => c"HG_PERMISSION",
        HG_NOENTRY => c"HG_NOENTRY",
        HG_INTERRUPT => c"HG_INTERRUPT",
        HG_AGAIN => c"HG_AGAIN",
        HG_NOMEM => c"HG_NOMEM",
        HG_ACCESS => c"HG_ACCESS",
        HG_FAULT => c"HG_FAULT",
        HG_BUSY => c"HG_BUSY",
        HG_EXIST => c"HG_EXIST",
        HG_NODEV => c"HG_NODEV",
        HG_INVALID_ARG => c"HG_INVALID_ARG",
        HG_PROTOCOL_ERROR => c"HG_PROTOCOL_ERROR",
        HG_OVERFLOW => c"HG_OVERFLOW",
        HG_MSGSIZE => c"HG_MSGSIZE",
        HG_PROTONOSUPPORT => c"HG_PROTONOSUPPORT",
        HG_OPNOTSUPPORTED => c"HG_OPNOTSUPPORTED",
        HG_ADDRINUSE => c"HG_ADDRINUSE",
        HG_ADDRNOTAVAIL => c"HG_ADDRNOTAVAIL",
        HG_HOSTUNREACH => c"HG_HOSTUNREACH",
        HG_TIMEOUT => c"HG_TIMEOUT",
        HG_CANCELED => c"HG_CANCELED",
        HG_IO_ERROR => c"HG_IO_ERROR",
        HG_CHECKSUM_ERROR => c"HG_CHECKSUM_ERROR",
        HG_NA_ERROR => c"HG_NA_ERROR",
        HG_OTHER_ERROR => c"HG_OTHER_ERROR",
        HG_RETURN_MAX => c"HG_RETURN_MAX",
    };
    s.as_ptr()
}

#[cfg(test)]
mod tests {
    //! A registration's data outlives the handler calls that may use it
    //! ([`EntryState`]). The probes the handlers read are never deallocated:
    //! their free callback poisons them and reports, so a use after free
    //! shows as a poisoned read and a second free as a second report,
    //! instead of undefined behaviour.
    use super::super::margo::margo_finalize;
    use super::*;
    use crate::rpc::{InitOverrides, Mode};
    use crossbeam_channel::{unbounded, Receiver, Sender, TryRecvError};
    use std::sync::atomic::AtomicU64;

    /// What a probe holds until its free callback runs (then 0).
    const ALIVE: u64 = 0x5AFE_DA7A;
    /// How long a test waits for a step before failing (a bound, not a
    /// pause: every wait below ends as soon as its event comes).
    const BOUND: Duration = Duration::from_secs(30);

    #[derive(Clone, Copy)]
    enum Action {
        /// Wait for the test's go-ahead.
        Block,
        /// Deregister the handler's own RPC.
        DeregisterSelf,
        /// Finalize the handler's own instance.
        FinalizeSelf,
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Event {
        /// The handler read its probe, last thing before returning: what it found.
        Read(u64),
        /// `margo_deregister` of its own RPC, inside the handler.
        Deregistered(hg_return_t),
        /// Whether `margo_registered_data` was NULL after that.
        DataGone(bool),
        /// The probe's free callback ran.
        Freed(u32),
    }

    /// A handler's registered data.
    struct Probe {
        tag: u32,
        alive: AtomicU64,
        action: Action,
        entered: Sender<()>,
        release: Receiver<()>,
        events: Sender<Event>,
    }

    /// The test's ends of a probe's channels.
    struct Rig {
        data: *mut c_void,
        entered: Receiver<()>,
        release: Sender<()>,
        events: Receiver<Event>,
    }

    fn probe(tag: u32, action: Action) -> Rig {
        let (entered_tx, entered) = unbounded();
        let (release, release_rx) = unbounded();
        let (events_tx, events) = unbounded();
        let probe =
            Probe { tag, alive: AtomicU64::new(ALIVE), action, entered: entered_tx, release: release_rx, events: events_tx };
        let data = Box::leak(Box::new(probe)) as *mut Probe as *mut c_void;
        Rig { data, entered, release, events }
    }

    fn next(events: &Receiver<Event>) -> Event {
        events.recv_timeout(BOUND).expect("an event within the bound")
    }

    unsafe extern "C" fn free_probe(data: *mut c_void) {
        // SAFETY: the tests register only leaked, never deallocated Probes.
        let probe = unsafe { &*(data as *const Probe) };
        probe.alive.store(0, Ordering::SeqCst);
        let _ = probe.events.send(Event::Freed(probe.tag));
    }

    unsafe extern "C" fn probe_handler(h: hg_handle_t) -> hg_return_t {
        // SAFETY: the live handle the engine gave this handler.
        let (mid, id) = unsafe { (margo_hg_handle_get_instance(h), (*margo_get_info(h)).id) };
        // SAFETY: NULL or a leaked Probe (see free_probe).
        if let Some(probe) = unsafe { (margo_registered_data(mid, id) as *const Probe).as_ref() } {
            let _ = probe.entered.send(());
            match probe.action {
                Action::Block => {
                    let _ = probe.release.recv_timeout(BOUND);
                }
                Action::DeregisterSelf => {
                    let _ = probe.events.send(Event::Deregistered(margo_deregister(mid, id)));
                    let _ = probe.events.send(Event::DataGone(margo_registered_data(mid, id).is_null()));
                }
                Action::FinalizeSelf => margo_finalize(mid),
            }
            let _ = probe.events.send(Event::Read(probe.alive.load(Ordering::SeqCst)));
        }
        // SAFETY: the handler's own live handle, released here.
        unsafe {
            margo_respond(h, std::ptr::null_mut());
            margo_destroy(h);
        }
        hg_return::HG_SUCCESS
    }

    fn instance(mode: Mode) -> margo_instance_id {
        handles::instance_into_c(Engine::new("na+sm", mode, "", &InitOverrides::default()).unwrap())
    }

    /// Registers `name` on `mid` with the probe handler and `rig`'s probe.
    fn register(mid: margo_instance_id, name: &str, rig: &Rig) -> hg_id_t {
        let c = CString::new(name).unwrap();
        // SAFETY: a NUL-terminated name and static callbacks.
        let id = unsafe { margo_register_name(mid, c.as_ptr(), None, None, Some(probe_handler)) };
        assert_ne!(id, 0);
        assert_eq!(margo_register_data(mid, id, rig.data, Some(free_probe)), hg_return::HG_SUCCESS);
        id
    }

    /// A client instance calling RPCs of a server instance.
    struct Caller {
        mid: margo_instance_id,
        server: hg_addr_t,
    }

    type Call = (hg_handle_t, margo_request);

    impl Caller {
        fn new(server: margo_instance_id, names: &[&str]) -> Caller {
            let mid = instance(Mode::Client);
            for name in names {
                let c = CString::new(*name).unwrap();
                // SAFETY: a NUL-terminated name; no callbacks.
                assert_ne!(unsafe { margo_register_name(mid, c.as_ptr(), None, None, None) }, 0);
            }
            Caller { mid, server: handles::addr_into_c(handles::engine(server).unwrap().self_address()) }
        }

        /// Sends a request for `name` (queued at the server before this returns).
        fn start(&self, name: &str) -> Call {
            let (mut h, mut req): (hg_handle_t, margo_request) = (std::ptr::null_mut(), std::ptr::null_mut());
            // SAFETY: a live address and writable outputs; no input.
            unsafe {
                assert_eq!(margo_create(self.mid, self.server, rpc_id(name, DEFAULT_PROVIDER_ID), &mut h), hg_return::HG_SUCCESS);
                let timeout_ms = BOUND.as_millis() as f64;
                assert_eq!(margo_iforward_timed(h, std::ptr::null_mut(), timeout_ms, &mut req), hg_return::HG_SUCCESS);
            }
            (h, req)
        }

        /// The call's outcome.
        fn finish(&self, (h, req): Call) -> hg_return_t {
            // SAFETY: a request and handle from start, each released once.
            unsafe {
                let ret = margo_wait(req);
                margo_destroy(h);
                ret
            }
        }
    }

    impl Drop for Caller {
        fn drop(&mut self) {
            // SAFETY: our own address handle, released once.
            unsafe { handles::addr_free(self.server) };
            margo_finalize(self.mid);
        }
    }

    #[test]
    fn deregistering_while_a_handler_runs_frees_the_data_once_it_returns() {
        let server = instance(Mode::Server);
        let rig = probe(1, Action::Block);
        let id = register(server, "dereg_block", &rig);
        let caller = Caller::new(server, &["dereg_block"]);
        let call = caller.start("dereg_block");
        rig.entered.recv_timeout(BOUND).expect("the handler runs");
        assert_eq!(margo_deregister(server, id), hg_return::HG_SUCCESS, "returns without waiting for the handler");
        assert_eq!(rig.events.try_recv(), Err(TryRecvError::Empty), "nothing freed while the handler runs");
        assert!(margo_registered_data(server, id).is_null());
        assert_eq!(caller.finish(caller.start("dereg_block")), hg_return::HG_NOENTRY, "a request after deregister");
        assert_eq!(margo_deregister(server, id), hg_return::HG_NOENTRY);
        rig.release.send(()).unwrap();
        assert_eq!(caller.finish(call), hg_return::HG_SUCCESS);
        assert_eq!(next(&rig.events), Event::Read(ALIVE), "the handler's data lived until it returned");
        assert_eq!(next(&rig.events), Event::Freed(1));
        margo_finalize(server);
        assert_eq!(rig.events.try_recv(), Err(TryRecvError::Empty), "freed once (not again at finalize)");
    }

    #[test]
    fn a_handler_deregistering_its_own_rpc_frees_its_data_on_return() {
        let server = instance(Mode::Server);
        let rig = probe(2, Action::DeregisterSelf);
        let id = register(server, "dereg_self", &rig);
        let caller = Caller::new(server, &["dereg_self"]);
        assert_eq!(caller.finish(caller.start("dereg_self")), hg_return::HG_SUCCESS, "the handler did not deadlock");
        assert_eq!(next(&rig.events), Event::Deregistered(hg_return::HG_SUCCESS));
        assert_eq!(next(&rig.events), Event::DataGone(true));
        assert_eq!(next(&rig.events), Event::Read(ALIVE), "its data lived on after its own deregistration");
        assert_eq!(next(&rig.events), Event::Freed(2));
        assert_eq!(caller.finish(caller.start("dereg_self")), hg_return::HG_NOENTRY);
        assert!(margo_registered_data(server, id).is_null());
        margo_finalize(server);
        assert_eq!(rig.events.try_recv(), Err(TryRecvError::Empty), "freed once");
    }

    #[test]
    fn a_request_queued_before_deregister_is_refused_and_its_handler_not_run() {
        let server = instance(Mode::Server);
        let (busy, queued) = (probe(3, Action::Block), probe(4, Action::Block));
        register(server, "dereg_busy", &busy);
        let queued_id = register(server, "dereg_queued", &queued);
        let caller = Caller::new(server, &["dereg_busy", "dereg_queued"]);
        // The handler pool's only execution stream is held by the first
        // call, so the second waits in the pool.
        let first = caller.start("dereg_busy");
        busy.entered.recv_timeout(BOUND).expect("the first handler runs");
        let second = caller.start("dereg_queued");
        assert_eq!(handles::engine(server).unwrap().handler_pool().len(), 1, "the second request is queued");
        assert_eq!(margo_deregister(server, queued_id), hg_return::HG_SUCCESS);
        assert_eq!(queued.events.try_recv(), Ok(Event::Freed(4)), "no handler of it ran: freed at once");
        busy.release.send(()).unwrap();
        assert_eq!(caller.finish(first), hg_return::HG_SUCCESS);
        assert_eq!(caller.finish(second), hg_return::HG_NOENTRY, "answered as a request for an RPC not served");
        assert_eq!(queued.entered.try_recv(), Err(TryRecvError::Empty), "its handler never ran");
        assert_eq!(next(&busy.events), Event::Read(ALIVE));
        // Finalizing joins the streams, then frees what is still registered.
        margo_finalize(server);
        assert_eq!(busy.events.try_recv(), Ok(Event::Freed(3)));
        assert_eq!(queued.events.try_recv(), Err(TryRecvError::Empty));
    }

    #[test]
    fn a_handler_finalizing_its_instance_keeps_its_data_until_it_returns() {
        let server = instance(Mode::Server);
        let rig = probe(5, Action::FinalizeSelf);
        let id = register(server, "dereg_finalize", &rig);
        let caller = Caller::new(server, &["dereg_finalize"]);
        assert_eq!(caller.finish(caller.start("dereg_finalize")), hg_return::HG_SUCCESS);
        assert_eq!(next(&rig.events), Event::Read(ALIVE), "its data lived on after the finalize it ran");
        assert_eq!(next(&rig.events), Event::Freed(5));
        assert!(margo_registered_data(server, id).is_null());
        margo_finalize(server);
        assert_eq!(rig.events.try_recv(), Err(TryRecvError::Empty), "freed once");
    }

    #[test]
    fn replaced_data_is_freed_once_the_handlers_that_may_hold_it_return() {
        let server = instance(Mode::Server);
        let (old, new, late) = (probe(6, Action::Block), probe(7, Action::Block), probe(8, Action::Block));
        let id = register(server, "dereg_replace", &old);
        let caller = Caller::new(server, &["dereg_replace"]);
        let call = caller.start("dereg_replace");
        old.entered.recv_timeout(BOUND).expect("the handler runs");
        assert_eq!(margo_register_data(server, id, new.data, Some(free_probe)), hg_return::HG_SUCCESS);
        assert_eq!(margo_registered_data(server, id), new.data);
        assert_eq!(old.events.try_recv(), Err(TryRecvError::Empty), "the running handler may hold the old data");
        old.release.send(()).unwrap();
        assert_eq!(caller.finish(call), hg_return::HG_SUCCESS);
        assert_eq!(next(&old.events), Event::Read(ALIVE));
        assert_eq!(next(&old.events), Event::Freed(6));
        assert_eq!(margo_deregister(server, id), hg_return::HG_SUCCESS);
        assert_eq!(new.events.try_recv(), Ok(Event::Freed(7)), "no handler runs: freed at once");
        let refused = margo_register_data(server, id, late.data, Some(free_probe));
        assert_eq!(refused, hg_return::HG_NOENTRY, "nothing to attach data to");
        margo_finalize(server);
        assert_eq!(late.events.try_recv(), Err(TryRecvError::Empty), "refused data is the caller's: not freed");
        assert_eq!(old.events.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(new.events.try_recv(), Err(TryRecvError::Empty));
    }
}

// ---------------------------------------------------------------------------
// What a request, a handle and a handler carry for the program
// ---------------------------------------------------------------------------

/// The handle a forward or a response request was made with
/// (`HG_HANDLE_NULL` for a transfer, a NULL or unknown request).
///
/// # Safety
/// `req` must be NULL or a live request.
#[no_mangle]
pub unsafe extern "C" fn margo_request_get_handle(req: margo_request) -> hg_handle_t {
    guard("margo_request_get_handle", std::ptr::null_mut(), || {
        // SAFETY: by the contract NULL or a live request.
        match unsafe { handles::boxed_ref::<margo_request_struct>(req) } {
            Some(Operation::Forward(f)) => f.handle as hg_handle_t,
            Some(Operation::Responded { handle }) => *handle as hg_handle_t,
            _ => std::ptr::null_mut(),
        }
    })
}

/// What made the request (`MARGO_INVALID_REQUEST` for NULL).
///
/// # Safety
/// `req` must be NULL or a live request.
#[no_mangle]
pub unsafe extern "C" fn margo_request_get_type(req: margo_request) -> margo_request_type {
    guard("margo_request_get_type", margo_request_type::MARGO_INVALID_REQUEST, || {
        // SAFETY: by the contract NULL or a live request.
        match unsafe { handles::boxed_ref::<margo_request_struct>(req) } {
            Some(Operation::Forward(_)) => margo_request_type::MARGO_FORWARD_REQUEST,
            Some(Operation::Responded { .. }) => margo_request_type::MARGO_RESPONSE_REQUEST,
            Some(Operation::Transfer(_)) => margo_request_type::MARGO_BULK_REQUEST,
            None => margo_request_type::MARGO_INVALID_REQUEST,
        }
    })
}

/// The margo instance the request belongs to (`MARGO_INSTANCE_NULL` for
/// NULL, or once the instance is finalized).
///
/// # Safety
/// `req` must be NULL or a live request.
#[no_mangle]
pub unsafe extern "C" fn margo_request_get_instance(req: margo_request) -> margo_instance_id {
    guard("margo_request_get_instance", std::ptr::null_mut(), || {
        // SAFETY: by the contract NULL or a live request.
        let handle = match unsafe { handles::boxed_ref::<margo_request_struct>(req) } {
            Some(Operation::Forward(f)) => f.handle,
            Some(Operation::Responded { handle }) => *handle,
            Some(Operation::Transfer(t)) => return handles::instance_for(&t.engine()),
            None => return std::ptr::null_mut(),
        };
        // SAFETY: the handle the request was made with, which the program
        // keeps until it has waited for the request (margo's contract).
        unsafe { handle_ref(handle as hg_handle_t) }.map_or(std::ptr::null_mut(), |h| h.mid)
    })
}

/// The data attached to the handle with `margo_set_data` (NULL: none).
///
/// # Safety
/// `h` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn margo_get_data(h: hg_handle_t) -> *mut c_void {
    guard("margo_get_data", std::ptr::null_mut(), || {
        // SAFETY: by the contract NULL or a live handle.
        let Some(handle) = (unsafe { handle_ref(h) }) else { return std::ptr::null_mut() };
        handle.data.lock().as_ref().map_or(std::ptr::null_mut(), |a| a.data as *mut c_void)
    })
}

/// Attaches `data` to the handle; `free_callback` (may be NULL) frees it
/// when other data replaces it or the handle goes. Data attached before is
/// freed now, with its own function (outside our locks).
///
/// # Safety
/// `h` must be NULL or a live handle; `free_callback` NULL or callable with
/// `data` on any thread of the program.
#[no_mangle]
pub unsafe extern "C" fn margo_set_data(
    h: hg_handle_t,
    data: *mut c_void,
    free_callback: Option<unsafe extern "C" fn(*mut c_void)>,
) -> hg_return_t {
    guard("margo_set_data", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live handle.
        let Some(handle) = (unsafe { handle_ref(h) }) else {
            fail("margo_set_data", "NULL handle");
            return hg_return::HG_INVALID_ARG;
        };
        let before = handle.data.lock().replace(Attached { data: data as usize, free: free_callback });
        if let Some(before) = before {
            before.release();
        }
        hg_return::HG_SUCCESS
    })
}

/// The RPC this thread works for, as `margo_get_current_rpc_id` reports
/// it: set while a C handler runs (restored after), or by
/// `margo_set_current_rpc_id`.
struct CurrentRpc {
    before: Option<(usize, hg_id_t)>,
}

thread_local! {
    static CURRENT_RPC: std::cell::Cell<Option<(usize, hg_id_t)>> = const { std::cell::Cell::new(None) };
}

impl CurrentRpc {
    fn enter(mid: usize, id: hg_id_t) -> CurrentRpc {
        CurrentRpc { before: CURRENT_RPC.with(|c| c.replace(Some((mid, id)))) }
    }
}

impl Drop for CurrentRpc {
    fn drop(&mut self) {
        CURRENT_RPC.with(|c| c.set(self.before));
    }
}

/// Sets the RPC this thread works for (see `margo_get_current_rpc_id`).
///
/// # Safety
/// `mid` must be NULL or a live instance.
#[no_mangle]
pub unsafe extern "C" fn margo_set_current_rpc_id(mid: margo_instance_id, id: hg_id_t) -> hg_return_t {
    guard("margo_set_current_rpc_id", hg_return::HG_OTHER_ERROR, || {
        // Any instance of ours, finalized or not (a handler may still run
        // while its instance finalizes).
        if let Err(e) = handles::rpc_table(mid) {
            fail("margo_set_current_rpc_id", e);
            return hg_return::HG_INVALID_ARG;
        }
        CURRENT_RPC.with(|c| c.set(Some((mid as usize, id))));
        hg_return::HG_SUCCESS
    })
}

/// The RPC id of the handler this thread runs, or the one set with
/// `margo_set_current_rpc_id` on this thread; otherwise, as upstream,
/// `MARGO_DEFAULT_PROVIDER_ID` (65535). Best effort, as upstream says:
/// `margo_get_info(handle)->id` is the sure way.
///
/// # Safety
/// `mid` must be NULL or a live instance; `id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_get_current_rpc_id(mid: margo_instance_id, id: *mut hg_id_t) -> hg_return_t {
    guard("margo_get_current_rpc_id", hg_return::HG_OTHER_ERROR, || {
        // Any instance of ours, finalized or not (a handler may still run
        // while its instance finalizes).
        if let Err(e) = handles::rpc_table(mid) {
            fail("margo_get_current_rpc_id", e);
            return hg_return::HG_INVALID_ARG;
        }
        if id.is_null() {
            fail("margo_get_current_rpc_id", "output pointer is NULL");
            return hg_return::HG_INVALID_ARG;
        }
        let current = CURRENT_RPC.with(|c| c.get()).filter(|(m, _)| *m == mid as usize).map(|(_, i)| i);
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *id = current.unwrap_or(u64::from(DEFAULT_PROVIDER_ID)) };
        hg_return::HG_SUCCESS
    })
}
