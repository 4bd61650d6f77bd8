//! Yokan's return codes (`yk_return_t`, values and messages as in upstream's
//! `yokan/common.h`) and the error type that carries one.

/// `(code, name, message)` for every `yk_return_t` value.
pub const RETURN_VALUES: &[(i32, &str, &str)] = &[
    (0, "YOKAN_SUCCESS", "Success"),
    (1, "YOKAN_ERR_ALLOCATION", "Allocation error"),
    (2, "YOKAN_ERR_INVALID_MID", "Invalid margo instance"),
    (3, "YOKAN_ERR_INVALID_ARGS", "Invalid argument"),
    (4, "YOKAN_ERR_INVALID_PROVIDER", "Invalid provider"),
    (5, "YOKAN_ERR_INVALID_DATABASE", "Invalid database"),
    (6, "YOKAN_ERR_INVALID_BACKEND", "Invalid backend type"),
    (7, "YOKAN_ERR_INVALID_CONFIG", "Invalid configuration"),
    (8, "YOKAN_ERR_INVALID_ID", "Invalid document id"),
    (9, "YOKAN_ERR_INVALID_FILTER", "Invalid filter"),
    (10, "YOKAN_ERR_FROM_MERCURY", "Mercury error"),
    (11, "YOKAN_ERR_FROM_ARGOBOTS", "Argobots error"),
    (12, "YOKAN_ERR_FROM_REMI", "REMI error"),
    (13, "YOKAN_ERR_OP_UNSUPPORTED", "Unsupported operation or mode"),
    (14, "YOKAN_ERR_OP_FORBIDDEN", "Forbidden operation"),
    (15, "YOKAN_ERR_KEY_NOT_FOUND", "Key not found"),
    (16, "YOKAN_ERR_BUFFER_SIZE", "Buffer too small"),
    (17, "YOKAN_ERR_KEY_EXISTS", "Key exists"),
    (18, "YOKAN_ERR_CORRUPTION", "Data corruption"),
    (19, "YOKAN_ERR_IO", "IO error"),
    (20, "YOKAN_ERR_INCOMPLETE", "Incomplete operation"),
    (21, "YOKAN_ERR_TIMEOUT", "Timeout"),
    (22, "YOKAN_ERR_ABORTED", "Operation aborted"),
    (23, "YOKAN_ERR_BUSY", "Busy"),
    (24, "YOKAN_ERR_EXPIRED", "Operation expired"),
    (25, "YOKAN_ERR_TRY_AGAIN", "Try again"),
    (26, "YOKAN_ERR_SYSTEM", "System error"),
    (27, "YOKAN_ERR_CANCELED", "Canceled"),
    (28, "YOKAN_ERR_PERMISSION", "Permission error"),
    (29, "YOKAN_ERR_MODE", "Invalid mode"),
    (30, "YOKAN_ERR_NONCONTIG", "Non-contiguous buffer"),
    (31, "YOKAN_ERR_READONLY", "Read-only buffer"),
    (32, "YOKAN_ERR_MIGRATED", "Database has migrated"),
    (33, "YOKAN_ERR_MID_NOT_LISTENING", "Margo instance not listening"),
    (34, "YOKAN_STOP_ITERATION", "Stop iteration"),
    (35, "YOKAN_ERR_OTHER", "Other error"),
];

/// `yk_return_t` values used by this crate.
pub mod code {
    pub const SUCCESS: i32 = 0;
    pub const ALLOCATION: i32 = 1;
    pub const INVALID_MID: i32 = 2;
    pub const INVALID_ARGS: i32 = 3;
    pub const INVALID_PROVIDER: i32 = 4;
    pub const INVALID_DATABASE: i32 = 5;
    pub const INVALID_BACKEND: i32 = 6;
    pub const INVALID_CONFIG: i32 = 7;
    pub const INVALID_ID: i32 = 8;
    pub const INVALID_FILTER: i32 = 9;
    pub const FROM_MERCURY: i32 = 10;
    pub const OP_UNSUPPORTED: i32 = 13;
    pub const KEY_NOT_FOUND: i32 = 15;
    pub const BUFFER_SIZE: i32 = 16;
    pub const KEY_EXISTS: i32 = 17;
    pub const CORRUPTION: i32 = 18;
    pub const IO: i32 = 19;
    pub const TIMEOUT: i32 = 21;
    pub const ABORTED: i32 = 22;
    pub const BUSY: i32 = 23;
    pub const PERMISSION: i32 = 28;
    pub const MODE: i32 = 29;
    pub const READONLY: i32 = 31;
    pub const STOP_ITERATION: i32 = 34;
    pub const OTHER: i32 = 35;
}

/// The message upstream associates with a code ("" for unknown codes).
pub fn message(code: i32) -> &'static str {
    RETURN_VALUES.iter().find(|(c, _, _)| *c == code).map(|(_, _, m)| *m).unwrap_or("")
}

/// An error: a `yk_return_t` code and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YokanError {
    pub code: i32,
    pub detail: String,
}

impl YokanError {
    pub fn new(code: i32, detail: impl Into<String>) -> YokanError {
        YokanError { code, detail: detail.into() }
    }
    pub fn args(detail: impl Into<String>) -> YokanError {
        Self::new(code::INVALID_ARGS, detail)
    }
    pub fn config(detail: impl Into<String>) -> YokanError {
        Self::new(code::INVALID_CONFIG, detail)
    }
    pub fn mode(detail: impl Into<String>) -> YokanError {
        Self::new(code::MODE, detail)
    }
    pub fn unsupported(detail: impl Into<String>) -> YokanError {
        Self::new(code::OP_UNSUPPORTED, detail)
    }
    pub fn not_found() -> YokanError {
        Self::new(code::KEY_NOT_FOUND, "the key is not in the database")
    }
    pub fn code(&self) -> i32 {
        self.code
    }
}

impl std::fmt::Display for YokanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (yokan error {})", message(self.code), self.detail, self.code)
    }
}

impl std::error::Error for YokanError {}

impl From<crate::rpc::codec::DecodeError> for YokanError {
    fn from(e: crate::rpc::codec::DecodeError) -> Self {
        YokanError::args(format!("malformed Yokan message: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, YokanError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_and_match_upstream_numbering() {
        for (i, (c, name, msg)) in RETURN_VALUES.iter().enumerate() {
            assert_eq!(*c as usize, i, "{name}");
            assert!(!msg.is_empty());
        }
        assert_eq!(message(code::KEY_NOT_FOUND), "Key not found");
        assert_eq!(message(code::MODE), "Invalid mode");
        assert_eq!(message(99), "");
    }
}
