//! Process start-up settings, applied by an ELF constructor before any
//! thread of ours exists, so that no library code mutates the environment
//! while other threads may be reading it.
//!
//! `FI_OFI_RXM_USE_SRX=0` (unless set): over tcp, libfabric 1.17's rxm layer
//! defaults to one receive queue shared by all connections and fills it when
//! the endpoint is enabled (4096 bounce buffers of 16 KiB: 64 MiB cleared page
//! by page, 48 ms and 70 MB of RSS on the development VM before the first
//! message). Per-connection queues cost 2 MiB per peer actually talked to and
//! measured faster. libfabric has no API to set a provider parameter (its
//! parameters are read from the environment at each `fi_getinfo`), so the
//! environment is the only channel; a value the user set wins.
//!
//! When does the constructor run? For a program linked with `libmochi.so`
//! (or with the Rust crate), while the loader initializes it: before `main`
//! and before any thread, so `setenv` races with nothing. When a process
//! `dlopen`s the library later (Python's ctypes, a plug-in host), it runs
//! inside `dlopen`, and threads the host already started may be calling
//! `getenv` at that moment: glibc's `setenv` then races with them, as any
//! `setenv` in a threaded program does. A host that cares sets
//! `FI_OFI_RXM_USE_SRX` itself before loading us (any value, even `1`): the
//! constructor then writes nothing.

use std::ffi::{c_char, CStr};

const VARIABLE: &CStr = c"FI_OFI_RXM_USE_SRX";
const VALUE: &CStr = c"0";

/// The start-up hook: one libc call, nothing that needs Rust's runtime (which
/// is not set up yet in a program that links the crate).
extern "C" fn at_load() {
    // SAFETY: two constant NUL-terminated strings; overwrite = 0 leaves a value
    // the user set. No thread of ours exists yet (see the module comment).
    unsafe { libc::setenv(VARIABLE.as_ptr() as *const c_char, VALUE.as_ptr() as *const c_char, 0) };
}

/// Placed in `.init_array`: the dynamic loader (or the C runtime of a
/// statically linked program) calls it before `main` or within `dlopen`.
#[used]
#[link_section = ".init_array"]
static AT_LOAD: extern "C" fn() = at_load;

#[cfg(test)]
mod tests {
    /// The test binary links the crate, so the constructor ran before the
    /// test harness started.
    #[test]
    fn the_constructor_set_the_rxm_variable_before_main() {
        assert!(std::env::var_os("FI_OFI_RXM_USE_SRX").is_some(), "the .init_array hook did not run");
    }
}
