//! Errors of the RPC layer. The C face maps them to `hg_return_t`.

use crate::fabric::{AddressError, FabricError};

#[derive(thiserror::Error, Debug, Clone)]
pub enum RpcError {
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error(transparent)]
    Fabric(#[from] FabricError),
    #[error("invalid engine configuration: {0}")]
    Config(String),
    #[error("address {addr} uses {got:?} but this engine speaks {engine:?}")]
    WrongProtocol { addr: String, got: crate::fabric::Protocol, engine: crate::fabric::Protocol },
    #[error("no RPC named \"{0}\" is registered at the target")]
    NoSuchRpc(String),
    #[error("RPC \"{name}\" has no provider with id {provider_id} at the target")]
    NoSuchProvider { name: String, provider_id: u16 },
    #[error("RPC \"{name}\" with provider id {provider_id} is already registered")]
    AlreadyRegistered { name: String, provider_id: u16 },
    #[error("remote handler of \"{name}\" failed: {message}")]
    Remote { name: String, message: String },
    #[error("RPC \"{name}\" to {addr} timed out after {millis} ms")]
    Timeout { name: String, addr: String, millis: u128 },
    /// The peer could not be reached; it may be slow or cut off.
    #[error("could not reach {addr}: {message}")]
    Unreachable { addr: String, message: String },
    /// The peer is certainly gone: its process has exited, its tcp port
    /// refuses connections, or its connection closed and reconnecting is
    /// refused. Unlike `Unreachable`, no partition can look like this.
    #[error("could not reach {addr}: {message}")]
    PeerGone { addr: String, message: String },
    #[error("message of {0} bytes exceeds the {max}-byte limit", max = crate::rpc::wire::MAX_MESSAGE)]
    MessageTooLarge(usize),
    #[error("the engine is finalized")]
    Finalized,
    #[error("the target is shutting down")]
    ShuttingDown,
    /// The caller gave up the call (`HG_Cancel`); a late answer is dropped.
    #[error("RPC \"{name}\" to {addr} was canceled")]
    Canceled { name: String, addr: String },
    #[error("pool \"{0}\" does not exist")]
    NoSuchPool(String),
    /// A pool or execution stream still referenced (by a user's
    /// `margo_*_ref_incr`, a stream serving it, a handler) or a release
    /// without a reference.
    #[error("{0}")]
    InUse(String),
    #[error("remote shutdown is not enabled at {0}")]
    RemoteShutdownDisabled(String),
}

pub type Result<T> = std::result::Result<T, RpcError>;

impl RpcError {
    /// True when the callee (its provider or its process) is gone or going:
    /// the call cannot succeed later, as opposed to a slow peer.
    pub fn callee_gone(&self) -> bool {
        matches!(self, RpcError::Unreachable { .. }) || self.certainly_gone()
    }

    /// True when the callee's side said it is gone (no such provider or
    /// RPC any more, shutting down) or its process is certainly gone: proof
    /// that the callee left, and that we are not the one cut off.
    pub fn certainly_gone(&self) -> bool {
        matches!(
            self,
            RpcError::NoSuchProvider { .. } | RpcError::NoSuchRpc(_) | RpcError::PeerGone { .. } | RpcError::ShuttingDown
        )
    }
}
