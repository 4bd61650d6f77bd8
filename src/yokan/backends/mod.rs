//! Database types: one file each.

pub mod lmdb;
pub mod memory;
