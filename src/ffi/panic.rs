//! The panic boundary: every `extern "C"` entry point runs its body through
//! [`guard`], so a panic becomes an error value and never unwinds into C.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; if it panics, logs the panic and returns `on_panic`.
pub fn guard<T>(entry: &'static str, on_panic: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            crate::log::emit(crate::log::Level::Critical, &format!("{entry}: internal error caught at the C boundary: {what}"));
            on_panic
        }
    }
}
