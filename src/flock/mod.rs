//! Flock: group membership. Views (sorted members, metadata, digest) and
//! their file format live here; providers, clients and backends build on them.

pub mod view;
pub mod view_file;

pub use view::{GroupView, Member};
