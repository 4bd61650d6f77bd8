//! `flock-backend.h`: C backends (a table of functions) registered with
//! `flock_register_backend`, adapted to the Rust [`Backend`] trait.
#![allow(non_camel_case_types)]

use super::callbacks::{flock_membership_update_fn, flock_metadata_update_fn};
use super::common::{flock_return_t, ret_err, FLOCK_SUCCESS};
use super::jsonc::{self, json_object, Json};
use super::view::{clear_c, fill_c, flock_group_view_t, from_c};
use crate::ffi::handles;
use crate::ffi::handles::margo_instance_id;
use crate::ffi::hg::ABT_pool;
use crate::ffi::panic::guard;
use crate::flock::backend::{Backend, BackendFactory, BackendInit, UpdateSink, BACKENDS};
use crate::flock::error::{code, FlockError, Result};
use crate::flock::protocol::Update;
use crate::flock::registry::Named;
use crate::flock::GroupView;
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::Arc;

#[repr(C)]
pub struct flock_backend_init_args {
    pub mid: margo_instance_id,
    pub provider_id: u16,
    pub pool: ABT_pool,
    pub config: *mut json_object,
    pub self_addr_str: *const c_char,
    pub join: bool,
    pub initial_view: flock_group_view_t,
    pub member_update_callback: flock_membership_update_fn,
    pub metadata_update_callback: flock_metadata_update_fn,
    pub callback_context: *mut c_void,
}
pub type flock_backend_init_args_t = flock_backend_init_args;

pub type flock_backend_init_fn =
    Option<unsafe extern "C" fn(args: *mut flock_backend_init_args_t, state: *mut *mut c_void) -> flock_return_t>;
pub type flock_backend_finalize_fn = Option<unsafe extern "C" fn(state: *mut c_void) -> flock_return_t>;
pub type flock_backend_get_config_fn = Option<
    unsafe extern "C" fn(
        state: *mut c_void,
        f: Option<unsafe extern "C" fn(*mut c_void, *const json_object)>,
        uargs: *mut c_void,
    ) -> flock_return_t,
>;
pub type flock_backend_get_view_fn = Option<
    unsafe extern "C" fn(
        state: *mut c_void,
        f: Option<unsafe extern "C" fn(*mut c_void, *const flock_group_view_t)>,
        uargs: *mut c_void,
    ) -> flock_return_t,
>;
pub type flock_backend_add_metadata_fn =
    Option<unsafe extern "C" fn(state: *mut c_void, key: *const c_char, value: *const c_char) -> flock_return_t>;
pub type flock_backend_remove_metadata_fn =
    Option<unsafe extern "C" fn(state: *mut c_void, key: *const c_char) -> flock_return_t>;

#[repr(C)]
pub struct flock_backend_impl {
    pub name: *const c_char,
    pub init_group: flock_backend_init_fn,
    pub destroy_group: flock_backend_finalize_fn,
    pub get_config: flock_backend_get_config_fn,
    pub get_view: flock_backend_get_view_fn,
    pub add_metadata: flock_backend_add_metadata_fn,
    pub remove_metadata: flock_backend_remove_metadata_fn,
}

/// A registered C table (the caller keeps it alive, as upstream requires).
struct CBackendFactory {
    name: String,
    table: *const flock_backend_impl,
}

// SAFETY: the table is immutable and must outlive its use (upstream's rule);
// its functions are called from any thread, as upstream does.
unsafe impl Send for CBackendFactory {}
// SAFETY: shared use only reads the immutable table and calls its functions,
// which the plug-in must allow from several threads, as upstream does.
unsafe impl Sync for CBackendFactory {}

impl Named for CBackendFactory {
    fn name(&self) -> &str {
        &self.name
    }
}

fn check(code: flock_return_t, what: &str) -> Result<()> {
    match code {
        FLOCK_SUCCESS => Ok(()),
        c => Err(FlockError::from_code(c, format!("C backend {what} failed"))),
    }
}

/// The membership callback handed to a C backend (`callback_context` is
/// our `Arc<dyn UpdateSink>`). Called by C: panics stop here.
unsafe extern "C" fn member_trampoline(ctx: *mut c_void, update: i32, address: *const c_char, provider_id: u16) {
    guard("flock backend member update callback", (), || {
        if ctx.is_null() || address.is_null() {
            return;
        }
        // SAFETY: ctx is the callback context we handed to init_group, a
        // live `Arc<dyn UpdateSink>` owned by the backend.
        let sink = unsafe { &*(ctx as *const Arc<dyn UpdateSink>) };
        let Some(update) = u8::try_from(update).ok().and_then(Update::from_u8) else { return };
        // SAFETY: a non-NULL C string from the backend (the callback's contract).
        let address = unsafe { CStr::from_ptr(address) }.to_string_lossy();
        sink.membership(update, &address, provider_id);
    })
}

/// The metadata callback handed to a C backend. Called by C: panics stop here.
unsafe extern "C" fn metadata_trampoline(ctx: *mut c_void, key: *const c_char, value: *const c_char) {
    guard("flock backend metadata update callback", (), || {
        if ctx.is_null() || key.is_null() {
            return;
        }
        // SAFETY: as in member_trampoline.
        let sink = unsafe { &*(ctx as *const Arc<dyn UpdateSink>) };
        // SAFETY: non-NULL C strings from the backend (the callback's contract).
        let key = unsafe { CStr::from_ptr(key) }.to_string_lossy();
        // SAFETY: as above.
        let value = if value.is_null() { Default::default() } else { unsafe { CStr::from_ptr(value) }.to_string_lossy() };
        sink.metadata(&key, &value);
    })
}

impl BackendFactory for CBackendFactory {
    fn create(&self, init: BackendInit) -> Result<Arc<dyn Backend>> {
        // SAFETY: the table outlives its registration.
        let table = unsafe { &*self.table };
        let Some(init_group) = table.init_group else {
            return Err(FlockError::InvalidBackend(format!("backend \"{}\" has no init_group", self.name)));
        };
        let config = Json::from_value(&init.config)
            .ok_or_else(|| FlockError::InvalidConfig("cannot hand the group config to json-c".into()))?;
        let self_addr = CString::new(init.self_address.clone()).map_err(|_| FlockError::InvalidArgs("NUL in address".into()))?;
        let sink: Box<Arc<dyn UpdateSink>> = Box::new(init.sink.clone());
        let mut args = flock_backend_init_args {
            mid: handles::instance_for(&init.engine),
            provider_id: init.provider_id,
            pool: handles::pool_into_c(&init.pool),
            config: config.as_ptr(),
            self_addr_str: self_addr.as_ptr(),
            join: init.join,
            // SAFETY: an all-zero view is a valid empty, unlocked view.
            initial_view: unsafe { std::mem::zeroed() },
            member_update_callback: Some(member_trampoline),
            metadata_update_callback: Some(metadata_trampoline),
            callback_context: &*sink as *const Arc<dyn UpdateSink> as *mut c_void,
        };
        // SAFETY: args.initial_view is a valid empty view.
        unsafe { fill_c(&init.initial_view, &mut args.initial_view)? };
        let mut state: *mut c_void = std::ptr::null_mut();
        // SAFETY: the plug-in's own init with valid arguments.
        let rc = unsafe { init_group(&mut args, &mut state) };
        // Whatever the backend left in initial_view is still ours to free.
        // SAFETY: valid view whose memory came from malloc.
        unsafe { clear_c(&mut args.initial_view) };
        check(rc, "init_group")?;
        Ok(Arc::new(CBackend { table: self.table, state, _sink: sink, _config: config }))
    }
}

struct CBackend {
    table: *const flock_backend_impl,
    state: *mut c_void,
    /// The callback context handed to C: must live as long as the backend.
    _sink: Box<Arc<dyn UpdateSink>>,
    /// The config object handed to init (plug-ins may keep a reference).
    _config: Json,
}

// SAFETY: see CBackendFactory; the state belongs to the plug-in, which
// upstream also calls from several threads.
unsafe impl Send for CBackend {}
// SAFETY: shared use only calls the table's functions on the plug-in's state,
// which upstream also does from several threads at once.
unsafe impl Sync for CBackend {}

/// The callback handed to a C backend's `get_view`: copies the view into
/// the `Option<GroupView>` that `uargs` points to. Called by C: panics stop
/// here.
unsafe extern "C" fn view_trampoline(uargs: *mut c_void, view: *const flock_group_view_t) {
    guard("flock backend get_view callback", (), || {
        if uargs.is_null() {
            return;
        }
        // SAFETY: uargs is the `&mut Option<GroupView>` try_with_view passes,
        // alive for the whole get_view call; view is NULL or the backend's
        // live view (the callback's contract).
        let (out, view) = unsafe { (&mut *(uargs as *mut Option<GroupView>), view.as_ref()) };
        if let Some(v) = view {
            // SAFETY: a valid view, as above.
            *out = unsafe { from_c(v) }.ok();
        }
    })
}

impl Backend for CBackend {
    fn config(&self) -> serde_json::Value {
        let mut out = serde_json::json!({});
        // SAFETY: the plug-in's own function with its state.
        if let Some(f) = unsafe { (*self.table).get_config } {
            // SAFETY: the plug-in's get_config with its state; the trampoline
            // gets our `out`, alive for the call.
            unsafe { f(self.state, Some(jsonc::config_trampoline), &mut out as *mut _ as *mut c_void) };
        }
        out
    }

    fn with_view(&self, f: &mut dyn FnMut(&GroupView)) {
        if let Err(e) = self.try_with_view(f) {
            crate::error!("C backend get_view failed: {e}");
            f(&GroupView::default());
        }
    }

    fn try_with_view(&self, f: &mut dyn FnMut(&GroupView)) -> Result<()> {
        let mut view: Option<GroupView> = None;
        // SAFETY: the plug-in's function with its state and our out-pointer.
        let Some(get) = (unsafe { (*self.table).get_view }) else {
            return Err(FlockError::Unsupported("the backend has no get_view".into()));
        };
        // SAFETY: the plug-in's get_view with its state; `view` outlives the call.
        check(unsafe { get(self.state, Some(view_trampoline), &mut view as *mut _ as *mut c_void) }, "get_view")?;
        let view = view.ok_or_else(|| FlockError::Other("the backend's get_view produced no view".into()))?;
        f(&view);
        Ok(())
    }

    fn set_metadata(&self, key: &str, value: &str) -> Result<()> {
        let (k, v) = (CString::new(key), CString::new(value));
        let (Ok(k), Ok(v)) = (k, v) else { return Err(FlockError::InvalidArgs("NUL in metadata".into())) };
        // SAFETY: the table is valid for the backend's life (factory_of's contract).
        match unsafe { (*self.table).add_metadata } {
            // SAFETY: the plug-in's function, its state, two live C strings.
            Some(f) => check(unsafe { f(self.state, k.as_ptr(), v.as_ptr()) }, "add_metadata"),
            None => Err(FlockError::Unsupported("this backend cannot change metadata".into())),
        }
    }

    fn remove_metadata(&self, key: &str) -> Result<()> {
        let Ok(k) = CString::new(key) else { return Err(FlockError::InvalidArgs("NUL in key".into())) };
        // SAFETY: the table is valid for the backend's life (factory_of's contract).
        match unsafe { (*self.table).remove_metadata } {
            // SAFETY: the plug-in's function, its state, a live C string.
            Some(f) => check(unsafe { f(self.state, k.as_ptr()) }, "remove_metadata"),
            None => Err(FlockError::Unsupported("this backend cannot change metadata".into())),
        }
    }

    fn destroy(&self) -> Result<()> {
        // SAFETY: the table is valid for the backend's life (factory_of's contract).
        match unsafe { (*self.table).destroy_group } {
            // SAFETY: the plug-in's destroy_group with its state, called once.
            Some(f) => check(unsafe { f(self.state) }, "destroy_group"),
            None => Ok(()),
        }
    }
}

/// Wraps a C table as a factory (for `flock_provider_args.backend`).
///
/// # Safety
/// `table` must be a valid table that outlives its use.
pub unsafe fn factory_of(table: *const flock_backend_impl) -> Result<Arc<dyn BackendFactory>> {
    // SAFETY: by the contract NULL or a valid table.
    let t = unsafe { table.as_ref() }.ok_or_else(|| FlockError::InvalidArgs("NULL backend table".into()))?;
    if t.name.is_null() {
        return Err(FlockError::InvalidArgs("backend table without a name".into()));
    }
    // SAFETY: non-NULL (checked above); a valid table's name is NUL-terminated.
    let name = unsafe { CStr::from_ptr(t.name) }.to_string_lossy().into_owned();
    Ok(Arc::new(CBackendFactory { name, table }))
}

/// Adds a backend to the table `group.type` names are looked up in.
///
/// # Safety
/// `backend_impl` must be NULL or a valid table that outlives the process's
/// use of it (it is not copied).
#[no_mangle]
pub unsafe extern "C" fn flock_register_backend(backend_impl: *mut flock_backend_impl) -> flock_return_t {
    guard("flock_register_backend", code::OTHER, || {
        crate::flock::backend::register_builtins();
        // SAFETY: the caller's contract is factory_of's.
        match unsafe { factory_of(backend_impl) }.and_then(|f| BACKENDS.register(f)) {
            Ok(()) => FLOCK_SUCCESS,
            Err(e) => ret_err("flock_register_backend", e),
        }
    })
}

/// Upstream exports this alias too.
///
/// # Safety
/// As `flock_register_backend`.
#[no_mangle]
pub unsafe extern "C" fn flock_provider_register_backend(backend_impl: *mut flock_backend_impl) -> flock_return_t {
    // SAFETY: the same contract.
    unsafe { flock_register_backend(backend_impl) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A sink that panics on every update, counting the calls.
    struct PanickingSink(AtomicUsize);

    impl UpdateSink for PanickingSink {
        fn membership(&self, _: Update, _: &str, _: u16) {
            self.0.fetch_add(1, Ordering::SeqCst);
            panic!("membership sink failed");
        }
        fn metadata(&self, _: &str, _: &str) {
            self.0.fetch_add(1, Ordering::SeqCst);
            panic!("metadata sink failed");
        }
    }

    #[test]
    fn callbacks_called_by_c_stop_panics() {
        // A panic escaping an extern "C" function aborts the process: this
        // test finishing is the check.
        let sink = Arc::new(PanickingSink(AtomicUsize::new(0)));
        let ctx: Arc<dyn UpdateSink> = sink.clone();
        let ctx_ptr = &ctx as *const Arc<dyn UpdateSink> as *mut c_void;
        // SAFETY: ctx_ptr points to a live Arc<dyn UpdateSink>; valid strings.
        unsafe {
            member_trampoline(ctx_ptr, Update::Joined as i32, c"na+sm://1-2".as_ptr(), 3);
            metadata_trampoline(ctx_ptr, c"key".as_ptr(), c"value".as_ptr());
            metadata_trampoline(ctx_ptr, c"key".as_ptr(), std::ptr::null());
        }
        assert_eq!(sink.0.load(Ordering::SeqCst), 3);
        // NULL context, address or key: ignored, no call.
        // SAFETY: NULL pointers are accepted by the trampolines.
        unsafe {
            member_trampoline(std::ptr::null_mut(), Update::Joined as i32, c"a".as_ptr(), 3);
            member_trampoline(ctx_ptr, Update::Joined as i32, std::ptr::null(), 3);
            metadata_trampoline(ctx_ptr, std::ptr::null(), c"v".as_ptr());
            // An update code that is not one: ignored.
            member_trampoline(ctx_ptr, 99, c"a".as_ptr(), 3);
        }
        assert_eq!(sink.0.load(Ordering::SeqCst), 3);
        // The view callback with a NULL view or NULL uargs.
        let mut view: Option<GroupView> = None;
        // SAFETY: uargs points to an Option<GroupView>; NULL views are accepted.
        unsafe {
            view_trampoline(&mut view as *mut Option<GroupView> as *mut c_void, std::ptr::null());
            view_trampoline(std::ptr::null_mut(), std::ptr::null());
        }
        assert!(view.is_none());
    }
}
