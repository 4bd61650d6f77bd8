//! Flock: group membership.
//!
//! * `view`, `view_file`: the group view (sorted members, metadata, digest)
//!   and its file format.
//! * `provider`: a group member (a provider on an engine) with its backend
//!   (`backend`, `backends/`) and gateway (`gateway`).
//! * `client`: group handles that fetch, cache and follow a group's view.
//! * `protocol`: the RPCs between them.

pub mod backend;
pub mod backends;
pub mod bootstrap;
pub mod bootstrap_mpi;
pub mod client;
pub mod error;
pub mod gateway;
pub mod mpi_launcher;
#[cfg(feature = "mpi")]
pub mod mpi_lib;
pub mod protocol;
pub mod provider;
pub mod registry;
pub mod view;
pub mod view_file;

pub use error::{FlockError, Result};
pub use view::{GroupView, Member};
