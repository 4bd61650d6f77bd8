//! Database types: one file each.

pub mod documents;
pub mod keyset;
pub mod lmdb;
pub mod memory;
pub mod null;
