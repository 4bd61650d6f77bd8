//! The RPC layer: wire codec, transport state, progress engine, handler
//! pools and the Margo runtime config.

pub mod address;
pub mod alarm;
pub(crate) mod calls;
pub mod codec;
pub mod config;
pub(crate) mod cq_wait;
pub mod engine;
pub mod error;
pub mod identity;
pub(crate) mod local;
pub(crate) mod peer_gone;
pub mod pool;
pub(crate) mod progress;
pub(crate) mod runtime;
pub(crate) mod spin;
pub(crate) mod stream;
pub mod sync;
pub mod timer;
pub(crate) mod transport;
pub mod wire;

pub use address::Address;
pub use calls::{Notify, Signal};
pub use config::{InitOverrides, MargoConfig};
pub use engine::{
    CallToken, Completion, DeferredHandler, Engine, Handler, Mode, PendingCall, Request, Responder, DEFAULT_PROVIDER_ID,
};
pub use error::{Result, RpcError};
pub use peer_gone::{GoneCallback, PeerWatchGuard};
pub use pool::Pool;
pub use runtime::{Layout, Part};
pub use transport::MAX_PEERS;
