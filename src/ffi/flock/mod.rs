//! Flock's C face, one file per header (`flock-<name>.h`); `view` holds the
//! C view layout and the functions `flock-group-view.h` declares.

pub mod backend;
pub mod bootstrap;
pub mod bootstrap_mpi;
pub mod callbacks;
pub mod client;
pub mod common;
pub mod gateway;
pub mod group;
pub mod jsonc;
pub mod provider;
pub mod view;
