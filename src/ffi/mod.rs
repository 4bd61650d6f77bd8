//! The C face: every exported `extern "C"` entry point, and the callbacks we
//! hand to C plug-ins (outside it: the MPI bootstrap's `atexit` hook in
//! `flock/bootstrap_mpi.rs`, the MPI function table in `flock/mpi_lib.rs`,
//! and the programs' `fopen` interposer). Each file is one C concept;
//! `handles` maps every C handle to its Rust type; `panic` is the boundary
//! every entry point goes through; `init` is the load-time constructor.

pub mod abt;
pub mod abt_key;
pub mod abt_xstream;
pub mod bedrock;
pub mod bulk;
pub mod bulk_pool;
pub mod callback;
pub mod cforward;
pub mod flock;
pub mod handles;
pub mod hg;
pub mod hg_proc;
pub mod identity;
pub mod init;
pub mod layout;
pub mod log;
pub mod margo;
pub mod panic;
pub mod rpc;
pub mod strings;
pub mod timer;
pub mod yokan;
