//! Loading module libraries. The one unsafe island of the Bedrock layer:
//! `dlopen` is the only way to run a module library's registration code.
//!
//! A library registers its modules while it loads (a C constructor or a C++
//! static object calling `bedrock_register_module`); nothing is looked up
//! by symbol name. Names of the built-in Flock module's library
//! (`libflock-bedrock-module.so`) load nothing: Flock is built in.

use super::error::BedrockError;
use parking_lot::Mutex;
use std::ffi::{CStr, CString};

static LOADED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Loads `path` once; returns false if it was already loaded.
pub fn load(path: &str) -> Result<bool, BedrockError> {
    super::modules::register_builtins();
    let mut loaded = LOADED.lock();
    if loaded.iter().any(|p| p == path) {
        return Ok(false);
    }
    if !super::modules::is_builtin_library(path) {
        let c_path =
            CString::new(path).map_err(|_| BedrockError::msg(format!("Could not dlopen library {path}: NUL in path")))?;
        let target = if path.is_empty() { std::ptr::null() } else { c_path.as_ptr() };
        // SAFETY: dlopen with a valid (or NULL: main program) path; the
        // handle is kept forever (RTLD_NODELETE), as upstream does.
        let handle = unsafe { libc::dlopen(target, libc::RTLD_NOW | libc::RTLD_GLOBAL | libc::RTLD_NODELETE) };
        if handle.is_null() {
            // SAFETY: dlerror returns NULL or a valid message string.
            let why = unsafe {
                let e = libc::dlerror();
                if e.is_null() {
                    "unknown error".to_string()
                } else {
                    CStr::from_ptr(e).to_string_lossy().into_owned()
                }
            };
            return Err(BedrockError::msg(format!("Could not dlopen library {path}: {why}")));
        }
    }
    loaded.push(path.to_string());
    Ok(true)
}

/// Libraries loaded so far, in load order.
pub fn loaded() -> Vec<String> {
    LOADED.lock().clone()
}
