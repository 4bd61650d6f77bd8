//! Loading module libraries. The one unsafe island of the Bedrock layer:
//! `dlopen` is the only way to run a module library's registration code.
//!
//! A library registers its modules while it loads (a C constructor or a C++
//! static object calling `bedrock_register_module`); nothing is looked up
//! by symbol name. Names of the built-in Flock module's library
//! (`libflock-bedrock-module.so`) and the Yokan one
//! (`libyokan-bedrock-module.so`) load nothing: both are built in.

use super::error::BedrockError;
use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
use parking_lot::Mutex;

/// Paths loaded so far, with the libraries they opened (none for the
/// built-in Flock module's names). Never closed, as upstream: a module's
/// code runs for the whole life of the process.
static LOADED: Mutex<Vec<(String, Option<Library>)>> = Mutex::new(Vec::new());

/// Loads `path` once; returns false if it was already loaded.
pub fn load(path: &str) -> Result<bool, BedrockError> {
    super::modules::register_builtins();
    let mut loaded = LOADED.lock();
    if loaded.iter().any(|(p, _)| p == path) {
        return Ok(false);
    }
    let library = if super::modules::is_builtin_library(path) {
        None
    } else {
        // An empty path is the main program (dlopen(NULL)).
        let target = (!path.is_empty()).then_some(path);
        // SAFETY: loading a library runs its initializers: that is the point
        // (modules register themselves from them), and is what the user
        // asked for by naming the library; RTLD_NODELETE keeps its code
        // mapped even if the handle were closed, as upstream does.
        let library = unsafe { Library::open(target, RTLD_NOW | RTLD_GLOBAL | libc::RTLD_NODELETE) }
            .map_err(|e| BedrockError::msg(format!("Could not dlopen library {path}: {e}")))?;
        Some(library)
    };
    loaded.push((path.to_string(), library));
    Ok(true)
}

/// Libraries loaded so far, in load order.
pub fn loaded() -> Vec<String> {
    LOADED.lock().iter().map(|(p, _)| p.clone()).collect()
}
