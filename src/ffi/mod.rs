//! The C face: the only `extern "C"` code. Each file is one C concept;
//! `handles` maps every C handle to its Rust type; `panic` is the boundary
//! every entry point goes through.

pub mod bedrock;
pub mod flock;
pub mod handles;
pub mod hg;
pub mod log;
pub mod margo;
pub mod panic;
pub mod strings;
