//! Configuration errors.

/// A configuration problem; the message starts with the offending field path.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    #[error("JSON syntax error at line {line}, column {column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
    #[error("{path}: expected {expected}, found {found}")]
    WrongType { path: String, expected: &'static str, found: &'static str },
    #[error("{path}: {value:?} is not one of {allowed}")]
    NotOneOf { path: String, value: String, allowed: String },
    #[error("{path}: invalid name {name:?}: {reason}")]
    InvalidName { path: String, name: String, reason: String },
    #[error("{path}: name {name:?} is already used")]
    DuplicateName { path: String, name: String },
    #[error("{path}: there is no pool named {name:?}")]
    UnknownPool { path: String, name: String },
    #[error("{path}: pool index {index} is out of range ({count} pools available)")]
    PoolIndexOutOfRange { path: String, index: i128, count: usize },
    #[error("{path}: {value} is out of range (expected {expected})")]
    OutOfRange { path: String, value: String, expected: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("there is no {kind} named {name:?}")]
    NotFound { kind: &'static str, name: String },
    #[error("cannot remove {kind} {name:?}: {reason}")]
    CannotRemove { kind: &'static str, name: String, reason: String },
}

impl ConfigError {
    /// The field path the error refers to, if it refers to one.
    pub fn path(&self) -> Option<&str> {
        match self {
            ConfigError::WrongType { path, .. }
            | ConfigError::NotOneOf { path, .. }
            | ConfigError::InvalidName { path, .. }
            | ConfigError::DuplicateName { path, .. }
            | ConfigError::UnknownPool { path, .. }
            | ConfigError::PoolIndexOutOfRange { path, .. }
            | ConfigError::OutOfRange { path, .. }
            | ConfigError::Invalid { path, .. } => Some(path),
            ConfigError::Syntax { .. } | ConfigError::NotFound { .. } | ConfigError::CannotRemove { .. } => None,
        }
    }
}
