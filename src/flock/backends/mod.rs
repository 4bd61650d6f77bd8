//! Built-in backends, one file each.

pub mod centralized;
pub mod static_backend;
pub mod swim;
