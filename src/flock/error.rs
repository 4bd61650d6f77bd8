//! Flock's errors, each carrying the `flock_return_t` value upstream returns
//! in the same situation (the C face uses [`FlockError::code`]).

use super::view_file::ViewError;
use crate::rpc::RpcError;

/// `flock_return_t` values.
pub mod code {
    pub const SUCCESS: i32 = 0;
    pub const ALLOCATION: i32 = 1;
    pub const INVALID_ARGS: i32 = 2;
    pub const INVALID_PROVIDER: i32 = 3;
    pub const INVALID_GROUP: i32 = 4;
    pub const INVALID_BACKEND: i32 = 5;
    pub const INVALID_CONFIG: i32 = 6;
    pub const FROM_MERCURY: i32 = 7;
    pub const FROM_ARGOBOTS: i32 = 8;
    pub const FROM_MPI: i32 = 9;
    pub const OP_UNSUPPORTED: i32 = 10;
    pub const OP_FORBIDDEN: i32 = 11;
    pub const NO_MEMBER: i32 = 12;
    pub const NO_METADATA: i32 = 13;
    pub const NOT_A_MEMBER: i32 = 14;
    pub const OTHER: i32 = 15;
}

#[derive(thiserror::Error, Debug)]
pub enum FlockError {
    #[error("invalid argument: {0}")]
    InvalidArgs(String),
    #[error("invalid provider: {0}")]
    InvalidProvider(String),
    #[error("invalid group: {0}")]
    InvalidGroup(String),
    #[error("invalid backend: {0}")]
    InvalidBackend(String),
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error(transparent)]
    View(#[from] ViewError),
    #[error("communication error: {0}")]
    Rpc(RpcError),
    #[error("MPI error: {0}")]
    Mpi(String),
    #[error("unsupported operation: {0}")]
    Unsupported(String),
    #[error("forbidden operation: {0}")]
    Forbidden(String),
    #[error("no member at index {0}")]
    NoMember(usize),
    #[error("no metadata with key \"{0}\"")]
    NoMetadata(String),
    #[error("not a member: {0}")]
    NotAMember(String),
    #[error("{0}")]
    Other(String),
    /// An error code received from a remote provider or a C plug-in.
    #[error("{message} (flock error {code})")]
    Code { code: i32, message: String },
}

impl FlockError {
    pub fn code(&self) -> i32 {
        match self {
            FlockError::InvalidArgs(_) => code::INVALID_ARGS,
            FlockError::InvalidProvider(_) => code::INVALID_PROVIDER,
            FlockError::InvalidGroup(_) => code::INVALID_GROUP,
            FlockError::InvalidBackend(_) => code::INVALID_BACKEND,
            FlockError::InvalidConfig(_) => code::INVALID_CONFIG,
            FlockError::View(v) => v.code(),
            FlockError::Rpc(RpcError::NoSuchProvider { .. }) | FlockError::Rpc(RpcError::NoSuchRpc(_)) => code::INVALID_PROVIDER,
            FlockError::Rpc(_) => code::FROM_MERCURY,
            FlockError::Mpi(_) => code::FROM_MPI,
            FlockError::Unsupported(_) => code::OP_UNSUPPORTED,
            FlockError::Forbidden(_) => code::OP_FORBIDDEN,
            FlockError::NoMember(_) => code::NO_MEMBER,
            FlockError::NoMetadata(_) => code::NO_METADATA,
            FlockError::NotAMember(_) => code::NOT_A_MEMBER,
            FlockError::Other(_) => code::OTHER,
            FlockError::Code { code, .. } => *code,
        }
    }

    /// Rebuilds an error from a code sent by a peer.
    pub fn from_code(code: i32, message: impl Into<String>) -> FlockError {
        FlockError::Code { code, message: message.into() }
    }
}

impl From<RpcError> for FlockError {
    fn from(e: RpcError) -> Self {
        FlockError::Rpc(e)
    }
}

pub type Result<T> = std::result::Result<T, FlockError>;
