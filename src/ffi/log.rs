//! Margo's logging calls (`margo-logging.h`). The variadic `margo_info(mid,
//! fmt, ...)` family is `static inline` in the header (stable Rust cannot
//! define C variadics): it formats with `vsnprintf` and calls
//! [`margo_log_message`].
#![allow(non_camel_case_types)]

use super::handles::{self, margo_instance_id};
use super::panic::guard;
use crate::log::{self, Level};
use std::ffi::{c_char, c_int, c_void, CStr, CString};

pub type margo_log_level = c_int;
pub const MARGO_LOG_EXTERNAL: margo_log_level = 0;
pub const MARGO_LOG_TRACE: margo_log_level = 1;
pub const MARGO_LOG_DEBUG: margo_log_level = 2;
pub const MARGO_LOG_INFO: margo_log_level = 3;
pub const MARGO_LOG_WARNING: margo_log_level = 4;
pub const MARGO_LOG_ERROR: margo_log_level = 5;
pub const MARGO_LOG_CRITICAL: margo_log_level = 6;

pub type margo_log_fn_t = Option<unsafe extern "C" fn(uargs: *mut c_void, message: *const c_char)>;

/// A user logger: one callback per level (NULL callbacks drop the message).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct margo_logger {
    pub uargs: *mut c_void,
    pub trace: margo_log_fn_t,
    pub debug: margo_log_fn_t,
    pub info: margo_log_fn_t,
    pub warning: margo_log_fn_t,
    pub error: margo_log_fn_t,
    pub critical: margo_log_fn_t,
}

struct CLogger(margo_logger);
// SAFETY: the user promises their callbacks and uargs may be used from any
// thread (Margo's loggers are called from every execution stream too).
unsafe impl Send for CLogger {}
// SAFETY: shared use only calls the callbacks with uargs, which the same
// promise covers (several execution streams log at once).
unsafe impl Sync for CLogger {}

impl CLogger {
    fn emit(&self, level: Level, msg: &str) {
        let l = &self.0;
        let f = match level {
            Level::External | Level::Trace => l.trace,
            Level::Debug => l.debug,
            Level::Info => l.info,
            Level::Warning => l.warning,
            Level::Error => l.error,
            Level::Critical => l.critical,
        };
        if let (Some(f), Ok(c)) = (f, CString::new(msg.replace('\0', " "))) {
            // SAFETY: the user's callback, with their uargs and a valid string.
            unsafe { f(l.uargs, c.as_ptr()) };
        }
    }
}

/// Emits one already-formatted message at `level` (0..=6).
///
/// # Safety
/// `message` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn margo_log_message(mid: margo_instance_id, level: margo_log_level, message: *const c_char) {
    guard("margo_log_message", (), || {
        let _ = mid; // levels and sinks are process-wide
        if message.is_null() {
            return;
        }
        let Some(level) = Level::from_i32(level) else { return };
        // SAFETY: non-NULL (checked above) and NUL-terminated by the contract.
        let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
        log::emit(level, &text);
    })
}

fn set_level(level: margo_log_level) -> c_int {
    match Level::from_i32(level) {
        Some(l) => {
            log::set_level(l);
            0
        }
        None => {
            log::emit(Level::Error, &format!("margo_set_log_level: {level} is not a margo_log_level"));
            -1
        }
    }
}

/// Sets the log threshold. Levels are process-wide in this implementation.
#[no_mangle]
pub extern "C" fn margo_set_log_level(mid: margo_instance_id, level: margo_log_level) -> c_int {
    guard("margo_set_log_level", -1, || {
        if let Err(e) = handles::engine_any(mid) {
            log::emit(Level::Error, &format!("margo_set_log_level: {e}"));
            return -1;
        }
        set_level(level)
    })
}

#[no_mangle]
pub extern "C" fn margo_set_global_log_level(level: margo_log_level) -> c_int {
    guard("margo_set_global_log_level", -1, || set_level(level))
}

/// Installs `logger` for every message (NULL restores stderr).
///
/// # Safety
/// `logger` must be NULL or valid; its callbacks must stay callable.
#[no_mangle]
pub unsafe extern "C" fn margo_set_global_logger(logger: *const margo_logger) -> c_int {
    guard("margo_set_global_logger", -1, || {
        // SAFETY: by the contract NULL or a valid margo_logger (copied here).
        let Some(l) = (unsafe { logger.as_ref() }) else {
            log::set_sink(None);
            return 0;
        };
        let l = CLogger(*l);
        log::set_sink(Some(Box::new(move |level, msg| l.emit(level, msg))));
        0
    })
}

/// Per-instance loggers are process-wide here: same as the global one.
///
/// # Safety
/// As `margo_set_global_logger`.
#[no_mangle]
pub unsafe extern "C" fn margo_set_logger(mid: margo_instance_id, logger: *const margo_logger) -> c_int {
    guard("margo_set_logger", -1, || {
        if handles::engine_any(mid).is_err() {
            log::emit(Level::Error, "margo_set_logger: invalid instance");
            return -1;
        }
        // SAFETY: the caller's promise, passed on.
        unsafe { margo_set_global_logger(logger) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    const MARK: &str = "log-reentry-test";
    static FIRST_CALLS: AtomicUsize = AtomicUsize::new(0);
    static NESTED_SEEN: AtomicUsize = AtomicUsize::new(0);
    static SECOND_CALLS: AtomicUsize = AtomicUsize::new(0);

    fn marked(message: *const c_char) -> Option<String> {
        // SAFETY: our sink always passes a valid NUL-terminated string.
        let text = unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned();
        text.contains(MARK).then_some(text)
    }

    /// Replaces the logger: installed by the first logger from inside its
    /// own callback.
    unsafe extern "C" fn second_logger(_uargs: *mut c_void, message: *const c_char) {
        if marked(message).is_some() {
            SECOND_CALLS.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Logs again (once) and then installs `second_logger`, all from inside
    /// the callback: both used to deadlock on the sink's lock.
    unsafe extern "C" fn first_logger(_uargs: *mut c_void, message: *const c_char) {
        let Some(text) = marked(message) else { return };
        if text.contains("nested") {
            NESTED_SEEN.fetch_add(1, Ordering::SeqCst);
            return;
        }
        FIRST_CALLS.fetch_add(1, Ordering::SeqCst);
        let nested = CString::new(format!("{MARK}: nested")).unwrap();
        // SAFETY: a valid string; the instance is ignored (process-wide).
        unsafe { margo_log_message(ptr::null_mut(), MARGO_LOG_ERROR, nested.as_ptr()) };
        let second = margo_logger {
            uargs: ptr::null_mut(),
            trace: None,
            debug: None,
            info: None,
            warning: None,
            error: Some(second_logger),
            critical: None,
        };
        // SAFETY: a valid logger whose callbacks live for the whole program.
        assert_eq!(unsafe { margo_set_global_logger(&second) }, 0);
    }

    #[test]
    fn a_logger_that_logs_or_replaces_the_logger_does_not_deadlock() {
        let _globals = crate::log::TEST_GLOBALS.lock();
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let first = margo_logger {
                uargs: ptr::null_mut(),
                trace: None,
                debug: None,
                info: None,
                warning: None,
                error: Some(first_logger),
                critical: None,
            };
            // SAFETY: a valid logger whose callbacks live for the whole program.
            assert_eq!(unsafe { margo_set_global_logger(&first) }, 0);
            let msg = CString::new(format!("{MARK}: outer")).unwrap();
            // SAFETY: a valid string.
            unsafe { margo_log_message(ptr::null_mut(), MARGO_LOG_ERROR, msg.as_ptr()) };
            // The replacement is in place for the next message.
            // SAFETY: a valid string.
            unsafe { margo_log_message(ptr::null_mut(), MARGO_LOG_ERROR, msg.as_ptr()) };
            // SAFETY: NULL restores stderr.
            assert_eq!(unsafe { margo_set_global_logger(ptr::null()) }, 0);
            let _ = done.send(());
        });
        finished.recv_timeout(Duration::from_secs(30)).expect("a logger that logs or replaces the logger deadlocked");
        assert_eq!(FIRST_CALLS.load(Ordering::SeqCst), 1);
        assert_eq!(NESTED_SEEN.load(Ordering::SeqCst), 1);
        assert_eq!(SECOND_CALLS.load(Ordering::SeqCst), 1);
    }
}
