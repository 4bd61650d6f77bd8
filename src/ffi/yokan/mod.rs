//! The Yokan C API (`yokan/client.h`, `yokan/database.h`).
//!
//! Upstream's operations are C-variadic (an optional tail of extra
//! arguments after `YOKAN_MODE_EXTRA`). A Rust cdylib exports only the
//! symbols Rust defines (rustc's version script makes any other local), so
//! the variadic entry points are `static inline` functions in
//! `yokan/database.h` that read the tail and call the `yk_*_timed` functions
//! below with the timeout it carries (0 = none).

// The Yokan C face landed beside the crate-wide unsafe lints (issue 10)
// and still does its raw-pointer work directly in `unsafe fn` bodies and
// closures, under each function's `# Safety` contract; until each
// operation gets its own `unsafe {}` block and SAFETY line, these two
// modules are exempt from those two lints, and only these two.
#[allow(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
pub mod client;
#[allow(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
pub mod database;
