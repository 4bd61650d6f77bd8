//! Built-in backends, one file each.

pub mod static_backend;
pub mod swim;
