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
use crate::rpc::{wire, Address, Engine, PendingCall, Request, Responder, RpcError, DEFAULT_PROVIDER_ID};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

/// What can change on a registration after it is made.
#[derive(Default)]
struct EntryState {
    /// `margo_register_data`'s pointer and free callback.
    data: usize,
    free: margo_data_free_fn,
    disable_response: bool,
}

impl EntryState {
    /// Takes the data out, for its free callback to run (outside any lock).
    fn take_data(&mut self) -> Option<(unsafe extern "C" fn(*mut c_void), usize)> {
        let data = std::mem::take(&mut self.data);
        let free = self.free.take();
        free.filter(|_| data != 0).map(|f| (f, data))
    }
}

fn run_free(pending: Option<(unsafe extern "C" fn(*mut c_void), usize)>) {
    if let Some((free, data)) = pending {
        // SAFETY: the user's free callback with the data they registered
        // with it, called once (the state no longer holds them).
        unsafe { free(data as *mut c_void) };
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

    /// Empties the table, running the data free callbacks (at finalize).
    fn clear(&self) {
        let entries: Vec<_> = self.entries.lock().drain().map(|(_, e)| e).collect();
        for e in entries {
            let pending = e.state.lock().take_data();
            run_free(pending);
        }
    }
}

/// Releases what C registered with a finalized instance: the table's
/// entries and, through their free callbacks, their data (Margo does this
/// when Mercury finalizes). Once the engine is finalized no handler runs.
pub(super) fn release_registrations(mid: margo_instance_id) {
    if let Ok(table) = handles::rpc_table(mid) {
        table.clear();
    }
}

/// A request arrived for a C handler: wrap it in a handle and call it.
fn serve(mid: usize, entry: &Arc<Entry>, cb: RpcFn, req: Request, responder: Responder) {
    let disabled = entry.state.lock().disable_response;
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
    // SAFETY: the user's registered handler, given a live handle that it
    // now owns (one reference, released by margo_destroy). No lock is held.
    let ret = unsafe { cb(h) };
    if ret != hg_return::HG_SUCCESS {
        crate::warning!("the C handler of RPC \"{}\" returned {:?}", entry.name, ret);
    }
}

/// Where a handle stands.
enum Side {
    /// From `margo_create`: the call's target and, after a forward, the answer.
    Origin { target: Address, output: Arc<Mutex<Option<Arc<[u8]>>>> },
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
}

impl Owned for hg_handle {
    type Rust = Handle;
}

impl Handle {
    fn new(mid: margo_instance_id, engine: Engine, entry: Arc<Entry>, addr: Address, side: Side) -> Handle {
        let info = hg_info {
            hg_class: std::ptr::null_mut(),
            context: std::ptr::null_mut(),
            addr: handles::addr_into_c(addr),
            id: entry.id,
            context_id: 0,
        };
        Handle { refs: AtomicUsize::new(1), mid, engine, entry, info, side }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
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

/// Removes a registration (its handler stops being served; its data's free
/// callback runs). `HG_NO_MATCH` if `rpc_id` is not registered.
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
        if entry.handler.is_some() {
            if let Ok(engine) = handles::engine_any(mid) {
                engine.deregister(&entry.name, entry.provider_id);
            }
        }
        let pending = entry.state.lock().take_data();
        run_free(pending);
        hg_return::HG_SUCCESS
    })
}

/// Attaches `data` to a registration (its previous data is released with
/// its own free callback). `free_callback` runs when the RPC is
/// deregistered, or once the instance is finalized.
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
        let previous = {
            let mut state = entry.state.lock();
            let previous = state.take_data();
            state.data = data as usize;
            state.free = free_callback;
            previous
        };
        run_free(previous);
        hg_return::HG_SUCCESS
    })
}

/// The data attached to a registration (NULL if none, or not registered).
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
        let side = Side::Origin { target: target.clone(), output: Arc::default() };
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
    let Side::Origin { target, output } = &h.side else {
        fail(entry_point, "the handle is a received request's, not one from margo_create");
        return Err(hg_return::HG_INVALID_ARG);
    };
    // SAFETY: NULL or valid for the input proc by the contract.
    let payload = unsafe { encode(h.entry.in_proc, in_struct) }.inspect_err(|code| {
        fail(entry_point, format!("encoding the input of \"{}\" failed: {code:?}", h.entry.name));
    })?;
    *output.lock() = None;
    let disabled = h.entry.state.lock().disable_response;
    Ok(Prepared { h, target, output, payload, disabled })
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
        keep_output(E, engine.call(p.target, name, provider_id, p.payload, timeout), p.output)
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

/// Opaque request of a non-blocking forward (`margo_request`).
pub struct margo_request_struct {
    _private: [u8; 0],
}
pub type margo_request = *mut margo_request_struct;

/// What a `margo_request` owns: the call, and where its answer goes.
pub struct Forward {
    call: Option<PendingCall>,
    output: Arc<Mutex<Option<Arc<[u8]>>>>,
}

impl Owned for margo_request_struct {
    type Rust = Forward;
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
        let fwd = Forward { call: (!p.disabled).then_some(call), output: p.output.clone() };
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *req = handles::boxed_into_c::<margo_request_struct>(fwd) };
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

/// Waits for a non-blocking forward and frees the request; the answer is
/// then read with `margo_get_output` on the handle.
///
/// # Safety
/// `req` must be NULL or a request from `margo_*iforward*` not yet waited on.
#[no_mangle]
pub unsafe extern "C" fn margo_wait(req: margo_request) -> hg_return_t {
    guard("margo_wait", hg_return::HG_OTHER_ERROR, || {
        // SAFETY: by the contract NULL or a live request, not used afterwards.
        let Some(fwd) = (unsafe { handles::boxed_free::<margo_request_struct>(req) }) else {
            fail("margo_wait", "NULL request");
            return hg_return::HG_INVALID_ARG;
        };
        match fwd.call {
            Some(call) => keep_output("margo_wait", call.wait(), &fwd.output),
            None => hg_return::HG_SUCCESS,
        }
    })
}

/// Sets `*flag` to 1 if `margo_wait` would return at once, else 0.
///
/// # Safety
/// `req` must be NULL or a live request; `flag` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn margo_test(req: margo_request, flag: *mut c_int) -> c_int {
    guard("margo_test", hg_return::HG_OTHER_ERROR as c_int, || {
        // SAFETY: by the contract NULL or a live request.
        let (Some(fwd), false) = (unsafe { handles::boxed_ref::<margo_request_struct>(req) }, flag.is_null()) else {
            fail("margo_test", "NULL request or flag pointer");
            return hg_return::HG_INVALID_ARG as c_int;
        };
        let done = fwd.call.as_ref().is_none_or(|c| c.test());
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
