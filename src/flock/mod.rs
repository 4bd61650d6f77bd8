//! Flock: group membership. Views (sorted members, metadata, digest) and
//! their file format live here; providers, clients and backends build on them.

pub mod bootstrap_mpi;
pub mod error;
pub mod view;
pub mod view_file;

pub use error::{FlockError, Result};
pub use view::{GroupView, Member};
