//! The transport layer: libfabric endpoints and the address strings users see.

pub mod address;
pub mod doorbell;
pub mod endpoint;
pub mod local_peers;
pub mod peer_watch;
pub mod reachability;
pub mod shm_sweep;

pub use address::{parse_listen, parse_peer, AddressError, ListenSpec, Protocol};
pub use doorbell::{BellWords, Doorbell, PeerBell};
pub use endpoint::{Completion, CompletionError, Endpoint, FabricError, Post};
