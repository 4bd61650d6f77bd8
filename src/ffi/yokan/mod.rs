//! The Yokan C API (`yokan/client.h`, `yokan/database.h`,
//! `yokan/collection.h`).
//!
//! Upstream's operations are C-variadic (an optional tail of extra
//! arguments after `YOKAN_MODE_EXTRA`). A Rust cdylib exports only the
//! symbols Rust defines (rustc's version script makes any other local), so
//! the variadic entry points are `static inline` functions in
//! `yokan/database.h` that read the tail and call the `yk_*_timed` functions
//! below with the timeout it carries (0 = none).

mod buffers;
pub mod bulk;
pub mod client;
pub mod collection;
pub mod database;
pub mod doc_bulk;
mod payload;
pub mod provider;
