//! Yokan: a key-value provider (database types `map`, `unordered_map`,
//! `lmdb`), its client, and upstream's modes and return codes.
//!
//! * `backend`, `backends/`: the database trait and its implementations.
//! * `collection`: document collections kept in a database's key space.
//! * `provider`: serves one database on an engine; `client`: handles on it.
//! * `protocol`: the RPCs between them; `mode`, `error`: upstream's flags
//!   and `yk_return_t` values.

pub mod backend;
pub mod backends;
pub mod client;
pub mod collection;
pub mod dist;
pub mod error;
pub mod mode;
pub mod protocol;
pub mod provider;

pub use error::{Result, YokanError};
