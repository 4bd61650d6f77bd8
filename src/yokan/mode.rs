//! `YOKAN_MODE_*` flags (values as in upstream's `yokan/common.h`) and the
//! checks made on them before any work is done.

use super::error::{Result, YokanError};

pub const DEFAULT: i32 = 0;
pub const INCLUSIVE: i32 = 0x1;
pub const APPEND: i32 = 0x2;
pub const CONSUME: i32 = 0x4;
/// WAIT and NOTIFY share one bit, as upstream.
pub const WAIT: i32 = 0x8;
pub const NOTIFY: i32 = 0x8;
pub const NEW_ONLY: i32 = 0x10;
pub const EXIST_ONLY: i32 = 0x20;
pub const NO_PREFIX: i32 = 0x40;
pub const IGNORE_KEYS: i32 = 0x80;
pub const KEEP_LAST: i32 = 0x180;
pub const SUFFIX: i32 = 0x200;
pub const LUA_FILTER: i32 = 0x400;
pub const IGNORE_DOCS: i32 = 0x800;
pub const FILTER_VALUE: i32 = 0x1000;
pub const LIB_FILTER: i32 = 0x2000;
pub const NO_RDMA: i32 = 0x4000;
pub const UPDATE_NEW: i32 = 0x8000;
pub const EXTRA: i32 = 0x10000;

/// Every bit a Yokan mode may carry.
pub const ALL: i32 = 0x1ffff;

/// Client-side check (upstream's): contradictory pairs are refused.
pub fn check_client(mode: i32) -> Result<()> {
    let both = |a: i32, b: i32| mode & a == a && mode & b == b;
    for (a, b, what) in [
        (APPEND, NEW_ONLY, "APPEND with NEW_ONLY"),
        (NEW_ONLY, EXIST_ONLY, "NEW_ONLY with EXIST_ONLY"),
        (SUFFIX, LUA_FILTER, "SUFFIX with LUA_FILTER"),
        (LIB_FILTER, SUFFIX, "LIB_FILTER with SUFFIX"),
        (LUA_FILTER, LIB_FILTER, "LUA_FILTER with LIB_FILTER"),
    ] {
        if both(a, b) {
            return Err(YokanError::mode(format!("mode combines {what}")));
        }
    }
    if mode & !ALL != 0 {
        return Err(YokanError::mode(format!("unknown mode bits 0x{:x}", mode & !ALL)));
    }
    Ok(())
}

/// Server-side check: bits the backend does not support are refused.
pub fn check_supported(mode: i32, supported: i32, backend: &str) -> Result<()> {
    let mode = mode & !EXTRA;
    if mode & LUA_FILTER != 0 {
        return Err(YokanError::mode("YOKAN_MODE_LUA_FILTER: Lua filters are not provided by this implementation"));
    }
    if mode & LIB_FILTER != 0 {
        return Err(YokanError::mode("YOKAN_MODE_LIB_FILTER: filter libraries are not provided by this implementation"));
    }
    let bad = mode & !supported;
    if bad != 0 {
        return Err(YokanError::mode(format!("mode bits 0x{bad:x} are not supported by the \"{backend}\" backend")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contradictions_are_refused() {
        assert!(check_client(APPEND | NEW_ONLY).is_err());
        assert!(check_client(NEW_ONLY | EXIST_ONLY).is_err());
        assert!(check_client(APPEND | EXIST_ONLY | NOTIFY).is_ok());
        assert_eq!(check_client(1 << 20).unwrap_err().code, 29);
        assert_eq!(check_supported(LUA_FILTER, ALL, "map").unwrap_err().code, 29);
        assert!(check_supported(APPEND | EXTRA, APPEND, "map").is_ok());
        assert!(check_supported(APPEND, 0, "lmdb").is_err());
    }
}
