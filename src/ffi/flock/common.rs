//! `flock_return_t` and the error-to-code step every Flock entry point ends with.
#![allow(non_camel_case_types)]

use crate::flock::FlockError;
use crate::log::{self, Level};

/// Declared in the hand-written `flock/flock-common.h` (an enum there).
pub type flock_return_t = i32;
pub const FLOCK_SUCCESS: flock_return_t = 0;

/// Logs the error (one line) and returns its code.
pub fn ret_err(entry: &str, e: FlockError) -> flock_return_t {
    log::emit(Level::Error, &format!("{entry}: {e}"));
    e.code()
}

pub fn ret(entry: &str, r: Result<(), FlockError>) -> flock_return_t {
    match r {
        Ok(()) => FLOCK_SUCCESS,
        Err(e) => ret_err(entry, e),
    }
}
