//! A Rust replacement for the Mochi service stack's Flock and Bedrock, with the
//! small Margo/Thallium engine subset their clients use.
//!
//! Layers, bottom to top (dependencies only point down):
//! `fabric` (libfabric endpoints and address strings) → `rpc` (wire codec,
//! progress engine, handler pools, engine config) → `flock` / `bedrock` →
//! `ffi` (the C face: every exported `extern "C"` function).

pub mod bedrock;
pub mod fabric;
pub mod ffi;
pub mod flock;
pub mod fnv;
pub mod futex;
pub mod log;
#[allow(unused_imports)]
pub(crate) use self::log::{debug, error, info, trace, warning};
pub mod rng;
pub mod rpc;
pub mod signals;
pub mod yokan;
