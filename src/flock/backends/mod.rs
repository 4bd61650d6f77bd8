//! Built-in backends, one file each, and the metadata rules they share.

pub mod centralized;
pub(crate) mod outbox;
pub mod static_backend;
pub mod swim;

use crate::flock::error::{FlockError, Result};

/// The metadata key under which a built-in backend publishes its config.
pub const CONFIG_KEY: &str = "__config__";
/// The metadata key under which a built-in backend publishes its type name.
pub const TYPE_KEY: &str = "__type__";
/// Metadata keys the backends own: users can neither set nor remove them.
pub const RESERVED_KEYS: [&str; 2] = [CONFIG_KEY, TYPE_KEY];

/// True for a key the backend owns.
pub fn is_reserved(key: &str) -> bool {
    RESERVED_KEYS.contains(&key)
}

/// The rules every built-in backend applies to a metadata change (`value`
/// None: a removal), from a local caller or a peer: the key is non-empty
/// and not reserved, and neither key nor value holds a NUL byte (they end
/// up in C strings and group files).
pub fn check_metadata(key: &str, value: Option<&str>) -> Result<()> {
    if key.is_empty() {
        return Err(FlockError::InvalidArgs("metadata key is empty".into()));
    }
    if is_reserved(key) {
        return Err(FlockError::Forbidden(format!("metadata key \"{key}\" is reserved for the backend")));
    }
    if key.contains('\0') || value.is_some_and(|v| v.contains('\0')) {
        return Err(FlockError::InvalidArgs("metadata keys and values cannot contain NUL bytes".into()));
    }
    Ok(())
}
